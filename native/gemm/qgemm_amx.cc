// qgemm_amx.cc - bf16 and int8 GEMM tiles on AMX (mr = 32, nr = 64): TDPBF16PS (32 k per tile
// row) and TDPBSSD (int8 x int8 into int32, exact; 64 k per tile row), K padded to whole tile
// rows. A is quantized as bf16 bit patterns / signed int8 (QuantA::bf16 / s8), so int8 needs no
// u8 offset correction. One file for both formats: they share the thread's tile configuration.
//
// An instance of the AMX tiles (simd/amx.h) and the shared quantizer (simd/quantize.h), compiled
// with amx's flags (native/isa.json). Numerics: docs/equations.md, "Low precision".
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include "../simd/amx.h"
#include "../simd/quantize.h"

namespace cellstate {
namespace {

struct QAmx : SimdAvx512Bf16 {
  static constexpr int kMr = kAmxRows;  // the epilogue's row block
};

}  // namespace

void fill_qgemm_amx(KernelTable& t) {
  t.qgemm.mr_bf16 = kAmxMr;
  t.qgemm.mr_i8 = kAmxMr;
  t.qgemm.a_bf16 = QuantA::bf16;
  t.qgemm.a_i8 = QuantA::s8;
  t.qgemm.kg_align_bf16 = kAmxRows;  // 16 k pairs / quads: one 64-byte tile row of A
  t.qgemm.kg_align_i8 = kAmxRows;
  t.qgemm.bf16 = &AmxTiles<QAmx>::bf16;
  t.qgemm.bf16_2 = &AmxTiles<QAmx>::bf16_2;
  t.qgemm.i8 = &AmxTiles<QAmx>::i8;
  t.qgemm.i8_2 = &AmxTiles<QAmx>::i8_2;
  t.qgemm.quant_bf16 = &quant_bf16_row_cvt;
  t.qgemm.bf16_kernel = "amx";
  t.qgemm.quant_i8 = &quant_i8_row<QuantA::s8>;
  t.qgemm.step_x_rows = kAmxMr;  // measured: faster from 32 rows on (B = 16: slower)
  t.qgemm.scope_begin = &amx_scope_begin;
  t.qgemm.scope_end = &amx_scope_end;
}

}  // namespace cellstate

#endif  // x86-64
