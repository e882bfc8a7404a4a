// qgemm_i8_avx512_vnni.cc - int8 GEMM tiles for AVX512-VNNI: vpdpbusd on zmm (mr = 4, nr = 64:
// 16 accumulators, the 4 B vectors of a k quad, 1 A broadcast). mr = 6 (24 accumulators) made
// GCC 12 spill in the k loop: 1.0-1.4x fp32 against 2.0-2.4x at mr = 4 (gemm_test, Zen 4).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with avx512_vnni's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx512_vnni.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QI8Avx512Vnni : SimdAvx512Vnni {
  static constexpr int kMr = 4;
  static constexpr bool kI8BFirst = true;
};

}  // namespace

void fill_qgemm_i8_avx512_vnni(KernelTable& t) {
  t.qgemm.mr_i8 = QI8Avx512Vnni::kMr;
  t.qgemm.a_i8 = QI8Avx512Vnni::kA;
  t.qgemm.i8 = &I8Tiles<QI8Avx512Vnni>::tile;
  t.qgemm.quant_i8 = &quant_i8_row<QI8Avx512Vnni::kA>;
}

}  // namespace cellstate

#endif  // x86-64
