// lstm_kernels.h - the LSTM entries of the dispatch table: lstm_postgemm_scalar.cc (the std::exp /
// std::tanh reference) and, for every SIMD tier, lstm_postgemm_<isa>.cc, an instance of the one
// template simd/lstm_postgemm.h. Declarations only: no inline code, so nothing compiled with
// AVX-512 flags can leak into a scalar caller.
#pragma once

#include <cstdint>

#include "../cell/cell_codes.gen.h"

namespace cellstate {

// Where row i of a forward tile reads and writes (row r(t, b) of the sequence buffers).
struct LstmFwdRow {
  float* y;          // [H] output row
  float* gates;      // [4H] activated gates, gate blocks i, f, g, o (training), or null
  float* c_t;        // [H] cell state after the step (training), or null
  float* hprev;      // [H] copy of h_{t-1} (training), or null
};

// One gate activation (docs/equations.md, "Gate activations"): the function and its ONNX alpha,
// beta (0 where it reads none).
struct ActSpec {
  Act code;
  float alpha, beta;
};

struct LstmKernels {
  // Fused LSTM update for one GEMM tile: rows i < m, hidden units u0 .. u0+nu-1 (nu <= vw).
  //   pre   [m][ldp] this panel's pre-activations x·W_ihᵀ + b + h_{t-1}·W_hhᵀ (the tile the
  //                  GEMM just accumulated): gate q (i, f, g, o), unit k at pre[i*ldp + q*vw + k]
  //   hprev [m][H]   state entering the step;  c [m][H] cell state, updated in place;
  //   hnext [m][H]   new hidden state.  Equations: docs/equations.md.
  void (*fwd_tile)(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                   const float* hprev, float* c, float* hnext, const LstmFwdRow* rows);
  // BPTT elementwise step for one state row, hidden units [u0, u1) (docs/equations.md, "LSTM
  // backward"); H is the row length (gate stride), u0 a multiple of vw:
  //   gates [4H] i, f, g, o;  c_t [H];  c_prev [H] (c_{t-1});  dy [H] upstream ∂y or null
  //   dh [H] in: carried ∂h (dy is added);  dc [H] in/out: carried ∂c
  //   dA, dAs [4H] out: ∂ pre-activations (two destinations: row-order and step buffers)
  //   db [4H] or null: ∂ pre-activations ADDED (the bias gradient, summed while in registers)
  void (*bwd_row)(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t,
                  const float* c_prev, const float* dy, const float* dh, float* dc, float* dA, float* dAs,
                  float* db);
  // Elementwise activations over n floats (y may alias x), for the per-kind cell files
  // (cell/*_cell.cc): the same accuracy and |x| ~ 100 safety as the fused epilogues.
  void (*sigmoid)(int64_t n, const float* x, float* y);
  void (*tanh)(int64_t n, const float* x, float* y);
  // Any gate activation over n floats (simd/gate_act.h): y = f(x) (y may alias x), and
  // d = g * f'(x) read from y = f(x) alone (d may alias g). One switch per call.
  void (*act)(const ActSpec& a, int64_t n, const float* x, float* y);
  void (*act_dmul)(const ActSpec& a, int64_t n, const float* y, const float* g, float* d);
};

}  // namespace cellstate
