// qgemm_bf16_neon.cc - bf16 GEMM tiles for AArch64 NEON: weights widened in registers (mr = 6, nr = 16).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with neon's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include "../simd/neon.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QBf16Neon : SimdNeon {
  static constexpr int kMr = 6;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_bf16_neon(KernelTable& t) {
  t.qgemm.mr_bf16 = QBf16Neon::kMr;
  t.qgemm.a_bf16 = QuantA::f32;
  t.qgemm.bf16 = &Bf16Widen<QBf16Neon>::tile;
  t.qgemm.quant_bf16 = &quant_bf16_row<QuantA::f32>;
  t.qgemm.bf16_kernel = "widen";
}

}  // namespace cellstate

#endif  // AArch64
