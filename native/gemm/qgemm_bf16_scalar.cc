// qgemm_bf16_scalar.cc - portable bf16 GEMM tile (mr = 4, nr = 16) and the bf16 quantizer.
//
// Compiled with NO ISA flags: the fallback and reference tier of the bf16 format. A rows are
// floats holding bf16 values (QuantA::f32), each weight is widened (bf16 -> fp32 is a 16-bit
// shift) and every column sums its exact products in k order in fp32, as the widening SIMD tiers
// do. Not tuned for speed; does not block, pack or thread (gemm/qgemm.cc does).
#include <cstring>

#include "../cpu/dispatch.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

constexpr int kNr = 16;  // as the scalar fp32 tier: 4 gates x 4 units
constexpr int kMr = 4;

void tile(int64_t m, int64_t n, int64_t kp, const void* av, int64_t lda, const uint16_t* bp, float* c, int64_t ldc,
          bool accumulate, const float* bias) {
  const float* a = static_cast<const float*>(av);
  for (int64_t i = 0; i < m; ++i) {
    float acc[kNr] = {};
    const float* ai = a + i * lda;
    const uint16_t* b = bp;
    for (int64_t p = 0; p < kp; ++p, b += 2 * kNr) {
      for (int64_t j = 0; j < n; ++j) {
        acc[j] += ai[2 * p] * bits_f32(static_cast<uint32_t>(b[2 * j]) << 16);
        acc[j] += ai[2 * p + 1] * bits_f32(static_cast<uint32_t>(b[2 * j + 1]) << 16);
      }
    }
    float* crow = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      float r = acc[j];
      if (accumulate) r += crow[j];
      if (bias != nullptr) r += bias[j];
      crow[j] = r;
    }
  }
}

}  // namespace

void fill_qgemm_bf16_scalar(KernelTable& t) {
  t.qgemm.mr_bf16 = kMr;
  t.qgemm.a_bf16 = QuantA::f32;
  t.qgemm.kg_align_bf16 = 1;
  t.qgemm.scope_begin = nullptr;  // no tile state (only the AMX tier has one)
  t.qgemm.scope_end = nullptr;
  t.qgemm.bf16 = &tile;
  t.qgemm.bf16_2 = nullptr;
  t.qgemm.step_x_rows = 0;  // the chunked Gx everywhere but AMX (measured slower with the step's own x)
  t.qgemm.quant_bf16 = &quant_bf16_row<QuantA::f32>;
  t.qgemm.bf16_kernel = "scalar";
}

}  // namespace cellstate
