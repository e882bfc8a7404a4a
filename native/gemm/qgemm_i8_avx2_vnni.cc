// qgemm_i8_avx2_vnni.cc - int8 GEMM tiles for AVX-VNNI: vpdpbusd on ymm (mr = 3, nr = 32; 12 accumulators, 3 A broadcasts, 1 B).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with avx2_vnni's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2_vnni.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QI8Avx2Vnni : SimdAvx2Vnni {
  static constexpr int kMr = 3;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_i8_avx2_vnni(KernelTable& t) {
  t.qgemm.mr_i8 = QI8Avx2Vnni::kMr;
  t.qgemm.a_i8 = QI8Avx2Vnni::kA;
  t.qgemm.i8 = &I8Tiles<QI8Avx2Vnni>::tile;
  t.qgemm.quant_i8 = &quant_i8_row<QI8Avx2Vnni::kA>;
}

}  // namespace cellstate

#endif  // x86-64
