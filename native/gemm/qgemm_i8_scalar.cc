// qgemm_i8_scalar.cc - portable int8 GEMM tile (mr = 4, nr = 16) and the int8 quantizer.
//
// Compiled with NO ISA flags: the fallback and reference tier of the int8 format. A rows are q as
// int8 (QuantA::s8); each column's sum is an exact int32, then f32(acc) * f32(s_a * s_w) (+ C,
// + bias) as the SIMD tiers compute it, so every tier agrees bit for bit. Not tuned for speed;
// does not block, pack or thread (gemm/qgemm.cc does).
#include "../cpu/dispatch.h"
#include "../simd/common.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

constexpr int kNr = 16;
constexpr int kMr = 4;

void tile(int64_t m, int64_t n, int64_t kq, const uint8_t* au, int64_t lda, const float* sa, const int8_t* bp,
          const float* sw, const int32_t*, float* c, int64_t ldc, bool accumulate, const float* bias) {
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ai = reinterpret_cast<const int8_t*>(au + i * lda);
    int32_t acc[kNr] = {};
    const int8_t* b = bp;
    for (int64_t q = 0; q < kq; ++q, b += 4 * kNr) {
      for (int64_t j = 0; j < n; ++j) {
        for (int u = 0; u < 4; ++u) acc[j] += static_cast<int32_t>(ai[4 * q + u]) * b[4 * j + u];
      }
    }
    float* crow = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      const float s = keep_f32(sa[i] * sw[j]);
      float r = keep_f32(static_cast<float>(acc[j]) * s);  // rounded before C and the bias are added
      if (accumulate) r += crow[j];
      if (bias != nullptr) r += bias[j];
      crow[j] = r;
    }
  }
}

}  // namespace

void fill_qgemm_i8_scalar(KernelTable& t) {
  t.qgemm.mr_i8 = kMr;
  t.qgemm.a_i8 = QuantA::s8;
  t.qgemm.kg_align_i8 = 1;
  t.qgemm.i8 = &tile;
  t.qgemm.i8_2 = nullptr;  // two i8 calls
  t.qgemm.quant_i8 = &quant_i8_row<QuantA::s8>;
}

}  // namespace cellstate
