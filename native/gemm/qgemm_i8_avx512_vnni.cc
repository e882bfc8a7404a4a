// qgemm_i8_avx512_vnni.cc - int8 GEMM tiles for AVX512-VNNI: vpdpbusd on zmm (mr = 6, nr = 64:
// 24 accumulators, the 4 B vectors of a k quad, 1 A broadcast: 29 of the 32 registers). mr = 6
// needs the dot product's inline asm under GCC (simd/avx512_vnni.h); through the intrinsic GCC 12
// spilled at mr = 6 and copied accumulators around every vpdpbusd even at mr = 4.
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
  static constexpr int kMr = 6;
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
