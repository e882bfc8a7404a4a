// cell.h - native recurrent layer-directions of every kind: packed weights, the training-cache
// layout, forward over T steps and BPTT.
//
// Plain C++ (no N-API): native/napi/cell_calls.cc marshals JS buffers into these calls after checking every
// length. Equations: docs/equations.md. Row addressing r(t, b) = t*rowT + b*rowB and the
// variable-length rules are those of lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units, P = Hout (projSize or H), N = T*B rows,
// G = gates*H (LSTM 4: i, f, g, o; GRU 3: r, z, n; RNN 1).
//
// One entry point, one file per cell kind behind it (cell_kind.h: lstm_cell.cc, gru_cell.cc,
// rnn_cell.cc): the same products through the packed GEMM, then an elementwise stage, mirroring
// lib/backend/ts/. A plain LSTM (no projection, peephole, coupled gate or clip) takes the fused
// path instead (lstm/lstm_forward.cc, lstm/lstm_backward.cc): W_ih and W_hh packed in
// gate-interleaved panels so the elementwise update runs on each GEMM tile while it is in L1,
// per-ISA epilogues.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../gemm/gemm.h"
#include "../gemm/pack.h"
#include "../util/scratch.h"
#include "cell_codes.gen.h"

namespace cellstate {

class ThreadPool;

// Per-call temporaries come from the scratch recycler (util/scratch.h), so a call does not page
// in fresh memory for what the previous call just freed.
using AlignedFloats = ScratchFloats;
AlignedFloats aligned_floats(int64_t n);  // zero-filled, 64-byte aligned; throws std::bad_alloc
// The same without zero-filling: only for buffers whose every element read was written first
// (CELLSTATE_POISON_UNINIT=1 fills them with NaN to prove it in the test suite).
AlignedFloats aligned_floats_uninit(int64_t n);

// out[j] += sum over r < rows of m[r*ld + j], for j < width.
void add_column_sums(float* out, const float* m, int64_t rows, int64_t ld, int64_t width);
// The bias gradients when both biases feed the same pre-activation (LSTM, RNN): ∂b_ih = ∂b_hh =
// the column sums of ∂A [rows, width] (row stride ld), summed once and added to each non-null one.
void add_bias_grads(float* db_ih, float* db_hh, const float* dA, int64_t rows, int64_t ld, int64_t width);
// db_ih[j] += db[j] and db_hh[j] += db[j] for j < width, each only if non-null.
void add_bias_pair(float* db_ih, float* db_hh, const float* db, int64_t width);

// CellKind, cell_gates() and the cellPrepare flag bits: cell_codes.gen.h (scripts/addon-schema.js).

struct CellConfig {
  CellKind kind = CellKind::lstm;
  int64_t I = 0, H = 0, P = 0, G = 0;  // P = Hout; G = gates * H
  bool peephole = false, input_forget = false, linear_before_reset = true;
  float clip = 0.f;  // 0 = no clipping
  bool fused() const { return kind == CellKind::lstm && P == H && !peephole && !input_forget && clip == 0.f; }
};

// Weights packed once per prepare. Products: X·W_ihᵀ (wih_t), h·W_hhᵀ (whh_t), ∂A·W_hh (whh_n),
// ∂A·W_ih (wih_n); GRU with the ONNX formula splits W_hh into its [r, z] rows (whh_*) and its n
// rows (whn_*); LSTM projection adds m·W_hrᵀ (whr_t) and ∂h·W_hr (whr_n).
struct CellPacked {
  CellConfig cfg;
  PackedB wih_t, wih_n, whh_t, whh_n, whn_t, whn_n, whr_t, whr_n;
  std::vector<float> bias_x;                  // [G] added to X·W_ihᵀ (GRU: b_hn stays out)
  std::vector<float> b_hn;                    // [H] GRU n-gate recurrent bias
  std::vector<float> peep_i, peep_f, peep_o;  // [H] LSTM peepholes
  // Fused path only (instead of wih_t): W_ih and W_hh packed with their columns gate-interleaved,
  // so panel p (nr = 4*vw columns) holds the four gates of hidden units p*vw .. p*vw+vw-1:
  // column p*nr + q*vw + e is gate q of unit u = p*vw + e (columns of units u >= H repeat unit
  // H-1 and are never used). Gx and the step's pre-activations share this layout, so a thread
  // that owns panels [p0, p1) computes and consumes only its own columns.
  PackedB wih_fused, whh_fused;  // op(B) [I, n_panels*nr] and [H, n_panels*nr]
  std::vector<float> bias_fused; // [n_panels*nr] bias_x in the same column order
  int64_t n_panels = 0;
  int nr = 0, vw = 0;
  const float* panel(int64_t p) const { return whh_fused.panel(p); }
};

// w_ih [G, I], w_hh [G, P], b_ih/b_hh [G] or null, w_hr [P, H] (projection), peep_* [H].
std::unique_ptr<CellPacked> cell_prepare(const CellConfig& cfg, const float* w_ih, const float* w_hh,
                                         const float* b_ih, const float* b_hh, const float* w_hr,
                                         const float* peep_i, const float* peep_f, const float* peep_o);

struct SeqDesc {
  int64_t T = 0, B = 0, rowT = 0, rowB = 0;
  bool reverse = false;
  const int32_t* lengths = nullptr;  // [B] in [1, T], or null = all T
};

// The training cache, one caller-owned float buffer cut into the parts its cell kind uses (row
// order r(t, b)); each kind's layout is its cache_layout (lstm_cell.cc, gru_cell.cc, rnn_cell.cc).
struct CacheParts {
  float *gates = nullptr, *c = nullptr, *hprev = nullptr, *c0 = nullptr, *pre = nullptr, *m = nullptr, *hn = nullptr;
};
// Its size, the one formula: T*B*per_row + B*per_batch floats (per_batch: LSTM c0).
struct CacheShape {
  int64_t per_row, per_batch;
};
CacheShape cell_cache_shape(const CellConfig& cfg);
int64_t cell_cache_floats(const CellConfig& cfg, int64_t T, int64_t B);  // of cell_cache_shape
CacheParts cell_cache_parts(const CellConfig& cfg, int64_t T, int64_t B, float* cache);

// x rows: x + r*ldx (I used); y rows: y + r*ldy (P written; padded rows zeroed).
// h0 [B, P], c0 [B, H] or null; hN [B, P], cN [B, H] (LSTM) written. cache null for inference.
struct FwdIO {
  const float* x; int64_t ldx;
  float* y; int64_t ldy;
  const float *h0, *c0;
  float *hN, *cN;
  float* cache;
};
void cell_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool);

struct BwdIO {
  const float* x; int64_t ldx;           // the input rows the training forward read
  float* cache;                          // what the training forward kept
  const float* dy; int64_t lddy;         // upstream ∂y rows, or null
  const float *dhN, *dcN;                // [B, P], [B, H] or null
  float* dx; int64_t lddx;               // ∂x rows, ACCUMULATED, or null
  float *dh0, *dc0;                      // [B, P] written; [B, H] written (LSTM)
  float *dw_ih, *dw_hh, *db_ih, *db_hh;  // ACCUMULATED; biases may be null
  float *dw_hr, *dp_i, *dp_f, *dp_o;     // ACCUMULATED; null unless the cell has them
};
void cell_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& io, ThreadPool* pool);

// The fused plain-LSTM path (lstm/).
void lstm_fused_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool);
void lstm_fused_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& io, ThreadPool* pool);

}  // namespace cellstate
