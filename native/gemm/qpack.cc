// qpack.cc - copies quantized weight rows into the PackedQ panel layout (qpack.h). Plain C++
// without ISA flags: it runs once per weight matrix and is memory-bound. No arithmetic on the
// values except int8's per-column sum of q_w.
#include "qpack.h"

#include <cstring>

#include "../cpu/dispatch.h"

namespace cellstate {

int64_t PackedQ::num_panels() const { return nr > 0 ? (n + nr - 1) / nr : 0; }
const uint16_t* PackedQ::bf16_panel(int64_t p) const {
  return data ? reinterpret_cast<const uint16_t*>(data.get() + p * kg * nr) : nullptr;
}
const int8_t* PackedQ::i8_panel(int64_t p) const {
  return data ? reinterpret_cast<const int8_t*>(data.get() + p * kg * nr) : nullptr;
}
const float* PackedQ::scale(int64_t p) const { return cols ? cols.get() + p * nr : nullptr; }
const int32_t* PackedQ::sumw(int64_t p) const {
  return cols ? reinterpret_cast<const int32_t*>(cols.get() + num_panels() * nr) + p * nr : nullptr;
}
bool PackedQ::ok() const {
  const bool empty = num_panels() * kg == 0;
  return (data != nullptr || empty) && (fmt != QFormat::int8 || cols != nullptr || num_panels() == 0);
}

namespace {

// The shape and storage of a PackedQ with g k values per 4-byte group; false on allocation failure.
bool shape(PackedQ& out, QFormat fmt, int64_t k, int64_t n, int g) {
  const QGemmKernel& q = kernels().qgemm;
  const int64_t align = fmt == QFormat::bf16 ? q.kg_align_bf16 : q.kg_align_i8;
  out.fmt = fmt;
  out.k = k > 0 ? k : 0;
  out.n = n > 0 ? n : 0;
  out.nr = kernels().gemm.nr;
  out.kg = ((out.k + g - 1) / g + align - 1) / align * align;
  const int64_t total = out.num_panels() * out.kg * out.nr;  // 4-byte groups incl. padding
  if (total > 0) {
    out.data.reset(aligned_alloc_floats(total));
    if (!out.data) return false;
    std::memset(out.data.get(), 0, static_cast<size_t>(total) * 4);
  }
  return true;
}

}  // namespace

PackedQ pack_q_bf16(int64_t k, int64_t n, const uint16_t* w, int64_t ldw, const int32_t* perm) {
  PackedQ out;
  if (!shape(out, QFormat::bf16, k, n, 2)) return out;
  const int nr = out.nr;
  for (int64_t j = 0; j < out.n; ++j) {
    const uint16_t* src = w + (perm != nullptr ? perm[j] : j) * ldw;
    // panel j / nr, column j % nr: element (kk, j) at [kk / 2][j % nr][kk % 2]
    uint16_t* dst = reinterpret_cast<uint16_t*>(out.data.get() + (j / nr) * out.kg * nr) + 2 * (j % nr);
    for (int64_t kk = 0; kk < out.k; ++kk) dst[(kk / 2) * 2 * nr + kk % 2] = src[kk];
  }
  return out;
}

PackedQ pack_q_i8(int64_t k, int64_t n, const int8_t* w, int64_t ldw, const float* scale, const int32_t* perm) {
  PackedQ out;
  if (!shape(out, QFormat::int8, k, n, 4)) return out;
  const int nr = out.nr;
  const int64_t ncols = out.num_panels() * nr;
  if (ncols > 0) {
    out.cols.reset(aligned_alloc_floats(2 * ncols));
    if (!out.cols) {
      out.data.reset();
      return out;
    }
    std::memset(out.cols.get(), 0, static_cast<size_t>(2 * ncols) * 4);
  }
  float* sw = out.cols.get();
  int32_t* sums = reinterpret_cast<int32_t*>(out.cols.get() + ncols);
  for (int64_t j = 0; j < out.n; ++j) {
    const int64_t r = perm != nullptr ? perm[j] : j;
    const int8_t* src = w + r * ldw;
    // panel j / nr, column j % nr: element (kk, j) at [kk / 4][j % nr][kk % 4]
    int8_t* dst = reinterpret_cast<int8_t*>(out.data.get() + (j / nr) * out.kg * nr) + 4 * (j % nr);
    int32_t sum = 0;
    for (int64_t kk = 0; kk < out.k; ++kk) {
      dst[(kk / 4) * 4 * nr + kk % 4] = src[kk];
      sum += src[kk];
    }
    sw[j] = scale[r];
    sums[j] = sum;
  }
  return out;
}

}  // namespace cellstate
