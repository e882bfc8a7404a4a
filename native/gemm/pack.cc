// pack.cc - copies B into nr-wide, k-major panels and a transposed A into
// mr-row tiles (see pack.h for the layouts).
//
// Plain C++ compiled without ISA flags; the copies are memory-bound and run
// once per weight matrix (pack_b) or once per cache block (sgemm driver), so
// they are kept simple: contiguous row copies for B, a blocked 4x4
// transposing copy (baseline SSE on x86-64, plain loops elsewhere) for B^T,
// mr-float pieces of A's rows for a transposed A.
// No threading, no arithmetic on the values.
#include "pack.h"

#include "../cpu/dispatch.h"
#include "../util/scratch.h"

#include <cstdint>
#include <cstring>
#include <new>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>  // SSE only: part of the x86-64 baseline, no -m flag needed
#define CS_PACK_SSE 1
#endif

namespace cellstate {

namespace {
constexpr int64_t kTransRows = 64;  // k rows per chunk of the transposing copy (64 x nr floats stay in L1)

// One panel of op(B) = B^T: d[kk*nr + j] = src[sj*ldb + k0 + kk] with
// sj = perm ? perm[jq + j] : jq + j, for kk < kc, j < w; columns w..nr-1 zeroed.
// Source rows are contiguous in kk, so 4 of them are read side by side and
// transposed 4x4 at a time (SSE2, baseline on x86-64) into 4 panel rows.
void pack_transposed_panel(const float* src, int64_t ldb, int64_t k0, int64_t kc, int64_t jq,
                           int64_t w, int nr, const int32_t* perm, float* d) {
  for (int64_t kb = 0; kb < kc; kb += kTransRows) {
    const int64_t kn = kc - kb < kTransRows ? kc - kb : kTransRows;  // rows in this chunk
    int64_t j = 0;
#if defined(CS_PACK_SSE)
    for (; j + 4 <= w; j += 4) {
      const float* rows[4];  // source rows of op(B) columns j..j+3, from k row k0+kb
      for (int r = 0; r < 4; ++r) rows[r] = src + (perm != nullptr ? perm[jq + j + r] : jq + j + r) * ldb + k0 + kb;
      float* dj = d + kb * nr + j;  // panel row kb, column j (16-byte aligned: nr, j multiples of 4)
      int64_t kk = 0;
      for (; kk + 4 <= kn; kk += 4) {
        __m128 r0 = _mm_loadu_ps(rows[0] + kk), r1 = _mm_loadu_ps(rows[1] + kk);
        __m128 r2 = _mm_loadu_ps(rows[2] + kk), r3 = _mm_loadu_ps(rows[3] + kk);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r_t now holds k row kk+t, columns j..j+3
        _mm_store_ps(dj + (kk + 0) * nr, r0);
        _mm_store_ps(dj + (kk + 1) * nr, r1);
        _mm_store_ps(dj + (kk + 2) * nr, r2);
        _mm_store_ps(dj + (kk + 3) * nr, r3);
      }
      for (; kk < kn; ++kk)
        for (int r = 0; r < 4; ++r) dj[kk * nr + r] = rows[r][kk];
    }
#endif
    for (; j < w; ++j) {  // leftover columns (all of them without SSE)
      const float* s = src + (perm != nullptr ? perm[jq + j] : jq + j) * ldb + k0 + kb;
      float* dcol = d + kb * nr + j;
      for (int64_t kk = 0; kk < kn; ++kk) dcol[kk * nr] = s[kk];
    }
    for (int64_t kk = 0; kk < kn; ++kk) {
      float* row = d + (kb + kk) * nr;
      for (int64_t jj = w; jj < nr; ++jj) row[jj] = 0.f;
    }
  }
}
}  // namespace

void AlignedFree::operator()(float* p) const noexcept {
  scratch_free(p);
}

float* aligned_alloc_floats(int64_t count) {
  if (count <= 0) return nullptr;
  if (static_cast<uint64_t>(count) > SIZE_MAX / sizeof(float)) return nullptr;
  return scratch_alloc(count);
}

int64_t PackedB::num_panels() const { return nr > 0 ? (n + nr - 1) / nr : 0; }
int64_t PackedB::panel_stride() const { return k * nr; }
const float* PackedB::panel(int64_t p) const { return data ? data.get() + p * k * nr : nullptr; }
bool PackedB::ok() const { return data != nullptr || num_panels() * k == 0; }

void pack_b_block(bool transB, const float* src, int64_t ldb, int64_t k0, int64_t kc, int64_t j0,
                  int64_t ncols, int nr, const int32_t* perm, float* dst) {
  const int64_t npanels = (ncols + nr - 1) / nr;
  for (int64_t q = 0; q < npanels; ++q) {
    float* d = dst + q * kc * nr;            // panel q: [kc][nr]
    const int64_t jq = j0 + q * nr;          // first op(B) column of the panel
    const int64_t w = ncols - q * nr < nr ? ncols - q * nr : nr;  // valid columns
    if (!transB) {
      // op(B) row kk is src row k0+kk: contiguous unless permuted.
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* s = src + (k0 + kk) * ldb;
        float* row = d + kk * nr;
        if (perm != nullptr) {
          for (int64_t j = 0; j < w; ++j) row[j] = s[perm[jq + j]];
        } else {
          std::memcpy(row, s + jq, static_cast<size_t>(w) * sizeof(float));
        }
        for (int64_t j = w; j < nr; ++j) row[j] = 0.f;
      }
    } else {
      pack_transposed_panel(src, ldb, k0, kc, jq, w, nr, perm, d);
    }
  }
}

namespace {

// pack_a_transposed for a compile-time mr (fixed-size copies the compiler inlines).
template <int MR>
void pack_a_transposed_mr(const float* a, int64_t lda, int64_t k0, int64_t kc, int64_t i0,
                          int64_t m, float* dst) {
  const int64_t full = m / MR, rem = m % MR;
  constexpr int64_t kAhead = 32; // rows prefetched ahead: each row is on its own page
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* s = a + (k0 + kk) * lda + i0;  // one row of A: op(A)'s column k0 + kk
    if (kk + kAhead < kc) {
      const char* p = reinterpret_cast<const char*>(s + kAhead * lda);
      for (int64_t off = 0; off < m * 4; off += 64) __builtin_prefetch(p + off);
    }
    float* d = dst + kk * MR;
    for (int64_t t = 0; t < full; ++t, s += MR, d += kc * MR) std::memcpy(d, s, MR * sizeof(float));
    for (int64_t r = 0; r < rem; ++r) d[r] = s[r];
  }
}

}  // namespace

void pack_a_transposed(const float* a, int64_t lda, int64_t k0, int64_t kc, int64_t i0, int64_t m,
                       int mr, float* dst) {
  switch (mr) {
    case 3: pack_a_transposed_mr<3>(a, lda, k0, kc, i0, m, dst); return;
    case 4: pack_a_transposed_mr<4>(a, lda, k0, kc, i0, m, dst); return;
    case 6: pack_a_transposed_mr<6>(a, lda, k0, kc, i0, m, dst); return;
    default: break;
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    for (int64_t i = 0; i < m; ++i) dst[(i / mr) * kc * mr + kk * mr + i % mr] = a[(k0 + kk) * lda + i0 + i];
  }
}

PackedB pack_b(bool transB, int64_t k, int64_t n, const float* src, int64_t ldb, const int32_t* perm) {
  PackedB out;
  out.k = k > 0 ? k : 0;
  out.n = n > 0 ? n : 0;
  out.nr = kernels().gemm.nr;
  const int64_t total = out.num_panels() * out.k * out.nr;  // floats incl. zero padding
  if (total == 0) return out;
  out.data.reset(aligned_alloc_floats(total));
  if (!out.data) return out;  // ok() == false
  pack_b_block(transB, src, ldb, 0, out.k, 0, out.n, out.nr, perm, out.data.get());
  return out;
}

}  // namespace cellstate
