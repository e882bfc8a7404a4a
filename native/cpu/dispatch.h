// dispatch.h - the one table of ISA-specific kernels, chosen once per process.
//
// kernels() fills a KernelTable on first use (thread-safe, idempotent): every
// entry starts as the scalar implementation, then the whole table is upgraded
// to AVX2 or AVX-512 (x86-64), NEON (AArch64) or SIMD128 (wasm32) if detect_isa() reports it AND
// the cap allows it. The cap is the lower level (isa_rank) of the
// CELLSTATE_MAX_ISA environment variable (scalar|neon|avx2|avx512,
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

struct KernelTable {
  Isa isa;          // tier of the table as a whole
  GemmKernel gemm;
  LstmKernels lstm;  // lstm/lstm_postgemm_<isa>.cc
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
void fill_probe_kernels_scalar(KernelTable& t);
#if defined(__x86_64__) || defined(_M_X64)
void fill_kernels_avx2(KernelTable& t);
void fill_kernels_avx512(KernelTable& t);
void fill_lstm_kernels_avx2(KernelTable& t);
void fill_lstm_kernels_avx512(KernelTable& t);
void fill_probe_kernels_avx2(KernelTable& t);
void fill_probe_kernels_avx512(KernelTable& t);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void fill_kernels_neon(KernelTable& t);       // gemm/gemm_kernel_neon.cc
void fill_lstm_kernels_neon(KernelTable& t);  // lstm/lstm_postgemm_neon.cc
#endif
#if defined(__wasm32__)
void fill_kernels_wasm_simd128(KernelTable& t);       // gemm/gemm_kernel_wasm_simd128.cc
void fill_lstm_kernels_wasm_simd128(KernelTable& t);  // lstm/lstm_postgemm_wasm_simd128.cc
#endif

}  // namespace cellstate
