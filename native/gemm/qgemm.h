// qgemm.h - the quantized GEMM driver (issue #21): C = beta*C + A · op(B) (+ bias) with A fp32 rows
// quantized per the low-precision contract (docs/equations.md, "Low precision") and B a PackedQ.
//
// The rows of A are quantized once per call (bf16: rounded; int8: per-row scale, dynamically) into
// the active tier's format, then the dispatched tiles (kernels().qgemm) run over mr x nr tiles,
// each over the whole K: K is never split, so an int8 sum is one exact int32 and every tier gives
// the same int8 result bit for bit. Row blocks x panels are spread over a ThreadPool when the
// work is large. Never throws or aborts; on allocation failure C is left untouched and false is
// returned. It has no fp32 path (gemm.h) and does not quantize weights (the TypeScript side does).
#pragma once

#include <cstdint>

#include "../util/scratch.h"
#include "qpack.h"

namespace cellstate {

class ThreadPool;
struct TileSideWork;  // cpu/dispatch.h

// Quantized rows of A in the active tier's format for fmt (kernels().qgemm.a_bf16 / a_i8).
struct QuantRows {
  QFormat fmt = QFormat::bf16;
  int64_t m = 0, k = 0;
  int64_t lda = 0;          // row stride in the tile's A units: floats / uint16 (bf16), bytes (int8)
  int64_t row_bytes = 0;    // row stride in bytes (k padded to the tier's kg_align_*)
  int64_t quant_bytes = 0;  // bytes of a row the quantizer writes; zeros from there to row_bytes
  ScratchFloats buf;        // rows, then (int8) m scales
  const void* rows() const { return buf.get(); }
  const float* scales() const;  // int8: s_a per row
  const uint8_t* row(int64_t i) const { return reinterpret_cast<const uint8_t*>(buf.get()) + i * row_bytes; }
};

// Room for up to m rows of k values (reused across calls when large enough); false if out of memory.
bool quant_rows_reserve(QuantRows& q, QFormat fmt, int64_t m, int64_t k);
// Quantizes rows [0, m) of A (row i at a + i*lda) into q (reserved for at least m rows of k).
void quant_rows_fill(QuantRows& q, int64_t m, const float* a, int64_t lda, ThreadPool* pool);
// Quantizes one row a (k floats) into row i of q (i < the reserved rows).
void quant_row(QuantRows& q, int64_t i, const float* a);


// The tile C[i0 .. i0+rows) x panel p's columns [p*nr, p*nr + cols) from quantized rows
// [i0, i0+rows) (rows <= the format's mr, cols <= nr): c points at C(i0, p*nr), bias at bias[p*nr]
// (or nullptr); accumulate adds onto c. For the fused LSTM's per-panel steps.
void qgemm_tile(const QuantRows& qa, int64_t i0, int64_t rows, const PackedQ& B, int64_t p, int64_t cols,
                float* c, int64_t ldc, bool accumulate, const float* bias);
// C tile = (x rows [i0, i0+rows) of qa1) . B1's panel p + (rows of qa2) . B2's panel p + bias, as
// qgemm_tile(qa1, ..., accumulate = false, bias) then qgemm_tile(qa2, ..., accumulate = true), bit
// for bit (in one call where the tier has QGemmKernel::bf16_2 / i8_2), so a caller may use either.
// side (or nullptr): other work to run meanwhile (TileSideWork, cpu/dispatch.h), all of it done
// when the call returns.
void qgemm_tile2(const QuantRows& qa1, const PackedQ& B1, const QuantRows& qa2, const PackedQ& B2, int64_t i0,
                 int64_t rows, int64_t p, int64_t cols, float* c, int64_t ldc, const float* bias,
                 const TileSideWork* side = nullptr);
// The tile row count of B's format in the active table.
int qgemm_mr(QFormat fmt);

// Open on a thread around a run of qgemm_tile calls (RAII; nests). A tier that keeps state from
// tile to tile (AMX: the tile configuration) keeps it inside and drops it at the end; calls
// outside any scope are correct too, only slower there.
class QTileScope {
 public:
  QTileScope();
  ~QTileScope();
  QTileScope(const QTileScope&) = delete;
  QTileScope& operator=(const QTileScope&) = delete;
};

// C[M x N] = beta*C + quant(A) · op(B) (+ bias[j]); A row i at A + i*lda (K floats). B must be a
// PackedQ of this process (B.k == K, B.nr == kernels().gemm.nr, B.ok()), else false and C untouched.
bool qgemm_packed(int64_t M, int64_t K, const float* A, int64_t lda, const PackedQ& B, float beta, float* C,
                  int64_t ldc, const float* bias, ThreadPool* pool);
// The columns of panels [q0, q1) only (C and bias indexed by absolute column), as sgemm_packed_panels.
bool qgemm_packed_panels(int64_t M, int64_t K, const float* A, int64_t lda, const PackedQ& B, int64_t q0,
                         int64_t q1, float beta, float* C, int64_t ldc, const float* bias, ThreadPool* pool);
// The same over rows already quantized (qa.k == B.k, qa.fmt == B.fmt, M <= qa.m).
void qgemm_rows(const QuantRows& qa, int64_t M, const PackedQ& B, int64_t q0, int64_t q1, float beta, float* C,
                int64_t ldc, const float* bias, ThreadPool* pool);

}  // namespace cellstate
