// dispatch.h - the one table of ISA-specific kernels, chosen once per process.
//
// kernels() fills a KernelTable on first use (thread-safe, idempotent): every
// entry starts as the scalar implementation, then the whole table is upgraded
// along the base chain (native/isa.json: x86-64, AArch64 or wasm32) of the highest tier that supported_isas() reports AND
// the cap allows. The cap is the lower level (isa_rank) of the
// CELLSTATE_MAX_ISA environment variable (any tier name of native/isa.json,
// case-insensitive) and set_max_isa(). The table never
// changes after the first kernels() call. This header only declares: the
// kernels themselves live in one file per ISA (gemm/gemm_kernel_<isa>.cc,
// lstm/lstm_postgemm_<isa>.cc, probe/fma_peak_<isa>.cc: short instances of the
// shared templates in simd/), each compiled with its own flags (native/isa.json).
//
// Adding a kernel family (as the LSTM elementwise step was added):
//   1. add a struct of function pointers below and a member to KernelTable;
//   2. in each new per-ISA file define `void fill_<family>_kernels_<isa>(KernelTable&)`
//      that sets only that member, declare it at the bottom of this header;
//   3. call it from the matching tier in dispatch.cc (fill_tier()); the
//      scalar version must set every entry, higher tiers overwrite them.
//
// Keep this header free of inline functions and default member initializers:
// it is included by the -mavx512f translation units, and an inline function
// emitted there could be chosen by the linker for scalar callers (COMDAT).
#pragma once

#include <cstdint>

#include "cpu_features.h"
#include "../cell/lnlstm_kernels.h"
#include "../lstm/lstm_kernels.h"

namespace cellstate {

// One GEMM micro-kernel: C tile [mr x nr] += A rows [mr x k] * packed panel.
// nr == 4 * vw (vw = floats per vector: scalar 4, neon 4, avx2 8, avx512 16) so the
// LSTM code can put 4 gates x vw hidden units in one panel.
struct GemmKernel {
  int mr, nr;  // tile rows / columns
  int vw;      // vector width in floats
  // Full tile:
  //   c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_kk a[i*lda + kk] * bp[kk*nr + j]
  //                  (+ bias[j] if bias != nullptr, added last)
  //   for i < mr, j < nr, kk < k.
  //   a:  row-major, row stride lda, NOT packed (each element is broadcast)
  //   bp: one packed panel, k rows of nr floats, 64-byte aligned start
  //   accumulate == false never reads c (NaN garbage in c is overwritten).
  void (*tile)(int64_t k, const float* a, int64_t lda, const float* bp, float* c,
               int64_t ldc, bool accumulate, const float* bias);
  // Edge tile: same for i < m <= mr, j < n <= nr only. Memory of c outside
  // that m x n region, of a outside rows < m / columns < k and of bias
  // past n is never touched. bp is still a full-width panel (k rows of nr floats).
  void (*tile_edge)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* bp, float* c, int64_t ldc, bool accumulate, const float* bias);
  // The same two with A packed (gemm.cc's pack_a_transposed): element (i, kk)
  // at ap[kk*mr + i], so one k step reads mr adjacent floats. The edge tile
  // reads only i < m but the stride stays mr.
  void (*tile_pa)(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                  bool accumulate, const float* bias);
  void (*tile_pa_edge)(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp,
                       float* c, int64_t ldc, bool accumulate, const float* bias);
};

// How a quantized GEMM tile reads the rows of A (made by the same tier's quantize helpers).
enum class QuantA : int {
  f32 = 0,    // bf16: float rows holding bf16-rounded values (widening tiers broadcast fp32)
  bf16 = 1,   // bf16: bf16 bit patterns, uint16, k pairs adjacent (vdpbf16ps broadcasts a pair)
  s8 = 2,     // int8: q as int8
  u8 = 3,     // int8: q + 128 as uint8 (vpdpbusd's unsigned operand)
  s16eo = 4,  // int8: per k quad the int16 values (q0, q2, q1, q3) (vpmaddwd on even / odd bytes)
};

// Other work a tile call runs while it multiplies (QGemmKernel::bf16_2 / i8_2): run(ctx, 0), ...,
// run(ctx, pieces - 1), in order, all before the call returns. It must not touch the call's
// operands or output. AMX spreads the pieces between its tile products, which the tile unit
// executes while the core runs them (the fused LSTM: the previous tile's elementwise step);
// other tiers run them after their products.
struct TileSideWork {
  void (*run)(void* ctx, int64_t piece);
  void* ctx;
  int64_t pieces;
};

// Quantized GEMM micro-kernels (issue #21; numerics in docs/equations.md, "Low precision"). One
// tile C[m x n] (1 <= m <= mr, 1 <= n <= nr, nr == gemm.nr) over the whole K: never blocked in k,
// so an int8 sum stays one exact int32 and a bf16 sum one fp32 chain. B is one panel of a
// PackedQ (gemm/qpack.h); A rows come from quant_*() of the same table.
struct QGemmKernel {
  int mr_bf16, mr_i8;     // rows per tile
  QuantA a_bf16, a_i8;    // what quant_bf16 / quant_i8 write and the tiles read
  // K is padded with zeros to a multiple of this many k groups (pairs / quads) in both a PackedQ's
  // panels and the quantized A rows, so a tile's kp / kq is always a multiple of it (1, or 16 for
  // AMX: one tile row of 64 bytes). The padding adds exact zeros: results do not depend on it.
  int kg_align_bf16, kg_align_i8;
  // c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_{kk < 2*kp} a(i, kk) * b(kk, j), in fp32
  //                (+ bias[j], added last), i < m, j < n.
  //   a: row i at a + i*lda elements (float for QuantA::f32, uint16 for bf16), 2*kp of them
  //   bp: [kp][nr][2] uint16 bf16 (k pairs of each column)
  void (*bf16)(int64_t m, int64_t n, int64_t kp, const void* a, int64_t lda, const uint16_t* bp, float* c,
               int64_t ldc, bool accumulate, const float* bias);
  // Optional (nullptr: two bf16 calls, then the side work): bf16 of a1 . B1 (accumulate, bias),
  // then bf16 of a2 . B2 accumulated onto it (no bias), bit for bit as those two calls (kp1 / kp2
  // k pairs), with side (TileSideWork, or nullptr) run meanwhile.
  void (*bf16_2)(int64_t m, int64_t n, int64_t kp1, const void* a1, int64_t lda1, const uint16_t* bp1, int64_t kp2,
                 const void* a2, int64_t lda2, const uint16_t* bp2, float* c, int64_t ldc, bool accumulate,
                 const float* bias, const TileSideWork* side);
  // acc(i, j) = sum_{kk < 4*kq} q_a(i, kk) * q_w(kk, j) in int32 (exact);
  // c[i*ldc + j] = (accumulate ? c : 0) + f32(acc) * f32(sa[i] * sw[j]) (+ bias[j], added last).
  //   a: row i at a + i*lda bytes, in a_i8's format; bp: [kq][nr][4] int8 (k quads of each column)
  //   sw, sumw: the panel's nr column scales / sums of q_w (zero past the matrix)
  void (*i8)(int64_t m, int64_t n, int64_t kq, const uint8_t* a, int64_t lda, const float* sa, const int8_t* bp,
             const float* sw, const int32_t* sumw, float* c, int64_t ldc, bool accumulate, const float* bias);
  // Optional (nullptr: two i8 calls, then the side work): i8 of op1 (accumulate = false, bias),
  // then i8 of op2 accumulated onto it (no bias), bit for bit as those two calls, with side
  // (TileSideWork, or nullptr) run meanwhile.
  struct I8Operand {
    int64_t kq;
    const uint8_t* a;
    int64_t lda;
    const float* sa;
    const int8_t* bp;
    const float* sw;
    const int32_t* sumw;
  };
  void (*i8_2)(int64_t m, int64_t n, const I8Operand& op1, const I8Operand& op2, float* c, int64_t ldc,
               const float* bias, const TileSideWork* side);
  // Quantize one row of k activations (the contract's rules): out gets round_up(k, 2) (bf16) or
  // round_up(k, 4) (int8) elements of the tier's format, zero past k. quant_i8 returns the row's
  // scale s_a (1 for an all-zero row; NaN, with q = 0, for a row holding Inf or NaN).
  void (*quant_bf16)(int64_t k, const float* x, void* out);
  float (*quant_i8)(int64_t k, const float* x, uint8_t* out);
  // Which bf16 kernels the entries above are: "scalar", "widen" (fp32 FMAs on bf16 widened in
  // registers), "vdpbf16ps" or "amx" (info().bf16Kernel).
  const char* bf16_kernel;
  // A fused LSTM step multiplies its own x rows into each tile (qgemm_tile2) instead of reading a
  // precomputed chunk of x . W_ih, when the batch has at least this many rows (0: never).
  int step_x_rows;
  // Around a thread's run of tile calls (nullptr where a tier needs none; use QTileScope, qgemm.h):
  // AMX keeps its tile configuration loaded from call to call inside, and releases it at the end.
  void (*scope_begin)();
  void (*scope_end)();
};

struct KernelTable {
  Isa isa;          // tier of the table as a whole
  GemmKernel gemm;
  QGemmKernel qgemm;  // gemm/qgemm_{bf16,i8}_<isa>.cc
  LstmKernels lstm;  // lstm/lstm_postgemm_<isa>.cc
  LnLstmKernels lnlstm;  // cell/lnlstm_postgemm_<isa>.cc
  // probe/fma_peak_<isa>.cc: `iters` rounds of independent FMA chains; returns the flops done.
  double (*fma_chains)(int64_t iters);
};

// The process-wide table; fills it on the first call.
const KernelTable& kernels();

// Cap the tier for this process. Only effective if called before the first
// kernels() / dispatch_warning() call (intended for tests and embedders);
// afterwards it returns silently and changes nothing.
void set_max_isa(Isa cap);

// "" or a message about an unrecognised CELLSTATE_MAX_ISA value (which is then
// ignored, i.e. detection alone decides). Fills the table if not yet filled.
const char* dispatch_warning();

// Implemented by the per-ISA files; called only by dispatch.cc, and only for
// tiers detect_isa() allows. Each sets every entry it implements.
void fill_kernels_scalar(KernelTable& t);
void fill_lstm_kernels_scalar(KernelTable& t);
void fill_lnlstm_kernels_scalar(KernelTable& t);
void fill_probe_kernels_scalar(KernelTable& t);
void fill_qgemm_bf16_scalar(KernelTable& t);
void fill_qgemm_i8_scalar(KernelTable& t);
#if defined(__x86_64__) || defined(_M_X64)
void fill_qgemm_bf16_avx2(KernelTable& t);
void fill_qgemm_i8_avx2(KernelTable& t);
void fill_qgemm_i8_avx2_vnni(KernelTable& t);
void fill_qgemm_bf16_avx512(KernelTable& t);
void fill_qgemm_i8_avx512(KernelTable& t);
void fill_qgemm_i8_avx512_vnni(KernelTable& t);
void fill_qgemm_bf16_avx512_bf16(KernelTable& t);
// When avx512_bf16 is the table's tier: keeps its vdpbf16ps kernels or goes back to the widening
// ones of its base (CELLSTATE_BF16_KERNEL, else whichever runs a tile faster here). Returns false,
// and keeps vdpbf16ps, for an unknown CELLSTATE_BF16_KERNEL value.
bool choose_bf16_avx512_bf16(KernelTable& t);
void fill_qgemm_amx(KernelTable& t);  // gemm/qgemm_amx.cc: bf16 and int8
void fill_kernels_avx2(KernelTable& t);
void fill_kernels_avx512(KernelTable& t);
void fill_lstm_kernels_avx2(KernelTable& t);
void fill_lstm_kernels_avx512(KernelTable& t);
void fill_lnlstm_kernels_avx2(KernelTable& t);
void fill_lnlstm_kernels_avx512(KernelTable& t);
void fill_probe_kernels_avx2(KernelTable& t);
void fill_probe_kernels_avx512(KernelTable& t);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_kernels_neon(KernelTable& t);       // gemm/gemm_kernel_neon.cc
void fill_lstm_kernels_neon(KernelTable& t);  // lstm/lstm_postgemm_neon.cc
void fill_lnlstm_kernels_neon(KernelTable& t);  // cell/lnlstm_postgemm_neon.cc
void fill_qgemm_bf16_neon(KernelTable& t);
void fill_qgemm_i8_neon(KernelTable& t);
#endif
#if defined(__wasm32__)
void fill_kernels_wasm_simd128(KernelTable& t);       // gemm/gemm_kernel_wasm_simd128.cc
void fill_lstm_kernels_wasm_simd128(KernelTable& t);  // lstm/lstm_postgemm_wasm_simd128.cc
#endif

}  // namespace cellstate
