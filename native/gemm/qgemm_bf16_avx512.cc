// qgemm_bf16_avx512.cc - bf16 GEMM tiles for AVX-512 without AVX512-BF16: weights widened in registers (mr = 6, nr = 64).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with avx512's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QBf16Avx512 : SimdAvx512 {
  static constexpr int kMr = 6;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_bf16_avx512(KernelTable& t) {
  t.qgemm.mr_bf16 = QBf16Avx512::kMr;
  t.qgemm.a_bf16 = QuantA::f32;
  t.qgemm.bf16 = &Bf16Widen<QBf16Avx512>::tile;
  t.qgemm.quant_bf16 = &quant_bf16_row<QuantA::f32>;
  t.qgemm.bf16_kernel = "widen";
}

}  // namespace cellstate

#endif  // x86-64
