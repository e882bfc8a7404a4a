// qgemm_i8_neon.cc - int8 GEMM tiles for AArch64 NEON: vmull_s8 + vpadalq_s16, exact (mr = 3, nr = 16).
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

struct QI8Neon : SimdNeon {
  static constexpr int kMr = 3;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_i8_neon(KernelTable& t) {
  t.qgemm.mr_i8 = QI8Neon::kMr;
  t.qgemm.a_i8 = QI8Neon::kA;
  t.qgemm.i8 = &I8Tiles<QI8Neon>::tile;
  t.qgemm.quant_i8 = &quant_i8_row<QI8Neon::kA>;
}

}  // namespace cellstate

#endif  // AArch64
