// qgemm_i8_avx2.cc - int8 GEMM tiles for AVX2 without VNNI: int16 widening + vpmaddwd, exact (mr = 3, nr = 32).
//
// An instance of the shared quantized tiles (simd/qgemm_tiles.h) and quantizer (simd/quantize.h),
// compiled with avx2's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/avx2.h"
#include "../simd/qgemm_tiles.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QI8Avx2 : SimdAvx2 {
  static constexpr int kMr = 3;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_i8_avx2(KernelTable& t) {
  t.qgemm.mr_i8 = QI8Avx2::kMr;
  t.qgemm.a_i8 = QI8Avx2::kA;
  t.qgemm.i8 = &I8Tiles<QI8Avx2>::tile;
  t.qgemm.quant_i8 = &quant_i8_row<QI8Avx2::kA>;
}

}  // namespace cellstate

#endif  // x86-64
