// lstm_fused.h - the fused plain-LSTM path (lstm_forward.cc, lstm_backward.cc): the LSTM kind's
// (cell/lstm_cell.cc) fast path for an LSTM without projection, peepholes, coupled gate or clip.
// What the path reads beyond the common packed products: the gate-interleaved panels, which the
// LSTM kind packs and owns, and the LSTM's training-cache parts, which it lays out. No ISA flags.
#pragma once

#include <cstdint>
#include <vector>

#include "../cell/cell.h"
#include "../gemm/pack.h"
#include "../gemm/qpack.h"

namespace cellstate {

class ThreadPool;

// W_ih and W_hh packed with their columns gate-interleaved, so panel p (nr = 4*vw columns) holds
// the four gates of hidden units p*vw .. p*vw+vw-1: column p*nr + q*vw + e is gate q of unit
// u = p*vw + e (columns of units u >= H repeat unit H-1 and are never used). Gx and the step's
// pre-activations share this layout, so a thread that owns panels [p0, p1) computes and consumes
// only its own columns.
// A quantized cell packs qwih, qwhh in the same column order instead (and wih, whh stay empty).
struct LstmFusedPanels {
  PackedB wih, whh;         // op(B) [I, n_panels*nr] and [H, n_panels*nr]
  PackedQ qwih, qwhh;       // the same, bf16 / int8 (a quantized cell)
  std::vector<float> bias;  // [n_panels*nr] bias_x in the same column order
  int64_t n_panels = 0;
  int nr = 0, vw = 0;
  const float* panel(int64_t p) const { return whh.panel(p); }
};

// The LSTM's training cache, in row order r(t, b) (laid out by lstm_cell.cc's cache_layout):
// gates [N, 4H] activated i, f, g, o | c [N, H] c_t | hprev [N, P] h_{t-1} | c0 [B, H] |
// pre [N, 4H] before clipping (clip only) | m [N, H] o * tanh(c_t) (projection only).
struct LstmCache {
  float *gates = nullptr, *c = nullptr, *hprev = nullptr, *c0 = nullptr, *pre = nullptr, *m = nullptr;
};

// train: the cache parts to fill, or null for inference.
void lstm_fused_forward(const CellPacked& w, const LstmFusedPanels& f, const LstmCache* train, const SeqDesc& s,
                        const FwdIO& io, ThreadPool* pool);
void lstm_fused_backward(const CellPacked& w, const LstmCache& train, const SeqDesc& s, const BwdIO& g, ThreadPool* pool);

}  // namespace cellstate
