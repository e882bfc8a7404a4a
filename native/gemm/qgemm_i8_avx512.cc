// qgemm_i8_avx512.cc - int8 GEMM tiles for AVX-512 without VNNI: int16 widening + vpmaddwd, exact (mr = 4, nr = 64; 16 accumulators and 8 A broadcasts).
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

struct QI8Avx512 : SimdAvx512 {
  static constexpr int kMr = 4;
  static constexpr bool kI8BFirst = false;
};

}  // namespace

void fill_qgemm_i8_avx512(KernelTable& t) {
  t.qgemm.mr_i8 = QI8Avx512::kMr;
  t.qgemm.a_i8 = QI8Avx512::kA;
  t.qgemm.i8 = &I8Tiles<QI8Avx512>::tile;
  t.qgemm.quant_i8 = &quant_i8_row<QI8Avx512::kA>;
}

}  // namespace cellstate

#endif  // x86-64
