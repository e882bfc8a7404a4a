// lstm.h - native LSTM layer-direction: packed weights, forward over T steps, BPTT.
//
// Plain C++ (no N-API): addon.cc marshals JS buffers into these calls after checking every
// length. Equations: docs/equations.md. Row addressing r(t, b) = t*rowT + b*rowB and the
// variable-length rules are those of lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units, N = T*B rows, G = 4H gate columns i, f, g, o.
//
// Weights are packed once per prepare (never per call):
//   wih_t    B(k=i, j) = W_ih[j, i]   [I x 4H]  input projection  X · W_ihᵀ
//   whh_fused  panels of nr = 4*vw columns over k = H rows; panel p holds, for hidden units
//              u = p*vw .. p*vw+vw-1, the columns of gates i, f, g, o in that order (vw each),
//              so one GEMM tile yields all four gates of vw units: the epilogue updates c and h
//              while the tile is in L1 (no [B, 4H] round trip through memory).
//   whh_n    B = W_hh       [4H x H]   backward  ∂h = ∂A · W_hh
//   wih_n    B = W_ih       [4H x I]   backward  ∂X = ∂A · W_ih
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../gemm/gemm.h"
#include "../gemm/pack.h"

namespace cellstate {

class ThreadPool;

using AlignedFloats = std::unique_ptr<float[], AlignedFree>;
AlignedFloats aligned_floats(int64_t n);  // zero-filled, 64-byte aligned; throws std::bad_alloc

struct LstmPacked {
  int64_t I = 0, H = 0;
  int nr = 0, vw = 0;
  int64_t n_panels = 0;           // ceil(H / vw)
  PackedB wih_t;                  // [I x 4H]
  AlignedFloats whh_fused;        // n_panels panels of [H x nr]
  PackedB whh_n;                  // [4H x H]
  PackedB wih_n;                  // [4H x I]
  std::vector<float> bias;        // [4H] b_ih + b_hh (zeros without bias)
  const float* panel(int64_t p) const { return whh_fused.get() + p * H * nr; }
};

// w_ih [4H, I], w_hh [4H, H], b_ih/b_hh [4H] or null.
std::unique_ptr<LstmPacked> lstm_prepare(int64_t I, int64_t H, const float* w_ih, const float* w_hh,
                                         const float* b_ih, const float* b_hh);

struct LstmSeq {
  int64_t T = 0, B = 0, rowT = 0, rowB = 0;
  bool reverse = false;
  const int32_t* lengths = nullptr;  // [B] in [1, T], or null = all T
};

// What a training forward keeps (buffers owned by the caller, all in row order r(t, b)):
struct LstmTrainBufs {
  float* gates;   // [N, 4H] activated i, f, g, o
  float* c;       // [N, H] c_t
  float* hprev;   // [N, H] h_{t-1} entering the step (0 on padded rows)
  float* c0;      // [B, H] copy of the initial cell state
};

// x rows: x + r*ldx (I used); y rows: y + r*ldy (H written; padded rows zeroed).
// h0, c0 [B, H] or null; hN, cN [B, H] written. train null for inference.
void lstm_forward(const LstmPacked& w, const LstmSeq& s, const float* x, int64_t ldx, float* y,
                  int64_t ldy, const float* h0, const float* c0, float* hN, float* cN,
                  const LstmTrainBufs* train, ThreadPool* pool);

struct LstmGrads {
  const float* dy; int64_t lddy;     // upstream ∂y rows, or null
  const float* dhN; const float* dcN;  // [B, H] or null
  float* dx; int64_t lddx;           // ∂x rows, ACCUMULATED, or null
  float* dh0; float* dc0;            // [B, H] written
  float* dw_ih; float* dw_hh;        // [4H, I], [4H, H] ACCUMULATED
  float* db_ih; float* db_hh;        // [4H] ACCUMULATED, or null
};

// x, ldx: the same input rows the training forward read.
void lstm_backward(const LstmPacked& w, const LstmSeq& s, const float* x, int64_t ldx,
                   const LstmTrainBufs& train, const LstmGrads& g, ThreadPool* pool);

}  // namespace cellstate
