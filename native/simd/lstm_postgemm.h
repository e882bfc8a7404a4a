// simd/lstm_postgemm.h - the LSTM entries of the dispatch table (lstm/lstm_kernels.h), written
// once for every SIMD tier against its vocabulary S (simd/<isa>.h): the fused forward epilogue of
// one GEMM tile, the BPTT elementwise step of one row, and sigmoid / tanh over an array (and,
// through simd/gate_act.h, every gate activation and its derivative). A per-ISA
// file (lstm/lstm_postgemm_<isa>.cc) only calls LstmPostgemm<S>::fill. Equations: docs/equations.md.
// Partial vectors (fewer than S::kVw units) go through S's masks, so no byte outside the units is
// read or written.
#pragma once

#include "../cpu/dispatch.h"
#include "activations.h"
#include "gate_act.h"

namespace cellstate {
namespace {

template <class S>
struct LstmPostgemm {
  using V = typename S::V;
  using Mask = typename S::Mask;
  using Act = Activations<S>;
  static constexpr int kVw = S::kVw;

  static void fwd_tile(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                       const float* hprev, float* c, float* hnext, const LstmFwdRow* rows) {
    const Mask k = S::mask_first(nu);
    for (int64_t i = 0; i < m; ++i) {
      const LstmFwdRow& r = rows[i];
      const float* a = pre + i * ldp;  // the panel is full width: all kVw lanes of each gate exist
      const V ig = Act::sigmoid(S::loadu(a));
      const V fg = Act::sigmoid(S::loadu(a + kVw));
      const V gg = Act::tanh(S::loadu(a + 2 * kVw));
      const V og = Act::sigmoid(S::loadu(a + 3 * kVw));
      const V cn = S::fmadd(fg, S::load_mask(c + i * H + u0, k), S::mul(ig, gg));
      const V hn = S::mul(og, Act::tanh(cn));
      if (r.gates) {
        S::store_mask(r.gates + u0, k, ig);
        S::store_mask(r.gates + H + u0, k, fg);
        S::store_mask(r.gates + 2 * H + u0, k, gg);
        S::store_mask(r.gates + 3 * H + u0, k, og);
        S::store_mask(r.c_t + u0, k, cn);
        S::store_mask(r.hprev + u0, k, S::load_mask(hprev + i * H + u0, k));
      }
      S::store_mask(c + i * H + u0, k, cn);
      S::store_mask(hnext + i * H + u0, k, hn);
      S::store_mask(r.y + u0, k, hn);
    }
  }

  static void bwd_row(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t, const float* c_prev,
                      const float* dy, const float* dh, float* dc, float* dA, float* dAs, float* db) {
    const V one = S::set1(1.f);
    for (int64_t u = u0; u < u1; u += kVw) {
      const Mask k = S::mask_first(u1 - u);
      const V ig = S::load_mask(gates + u, k), fg = S::load_mask(gates + H + u, k);
      const V gg = S::load_mask(gates + 2 * H + u, k), og = S::load_mask(gates + 3 * H + u, k);
      const V dhu = dy ? S::add(S::load_mask(dh + u, k), S::load_mask(dy + u, k)) : S::load_mask(dh + u, k);
      const V tc = Act::tanh(S::load_mask(c_t + u, k));
      const V dO = S::mul(dhu, tc);
      const V dC = S::fmadd(S::mul(dhu, og), S::sub(one, S::mul(tc, tc)), S::load_mask(dc + u, k));
      const V dI = S::mul(dC, gg), dG = S::mul(dC, ig), dF = S::mul(dC, S::load_mask(c_prev + u, k));
      S::store_mask(dc + u, k, S::mul(dC, fg));
      const V ai = S::mul(S::mul(dI, ig), S::sub(one, ig));
      const V af = S::mul(S::mul(dF, fg), S::sub(one, fg));
      const V ag = S::mul(dG, S::sub(one, S::mul(gg, gg)));
      const V ao = S::mul(S::mul(dO, og), S::sub(one, og));
      S::store_mask(dA + u, k, ai); S::store_mask(dAs + u, k, ai);
      S::store_mask(dA + H + u, k, af); S::store_mask(dAs + H + u, k, af);
      S::store_mask(dA + 2 * H + u, k, ag); S::store_mask(dAs + 2 * H + u, k, ag);
      S::store_mask(dA + 3 * H + u, k, ao); S::store_mask(dAs + 3 * H + u, k, ao);
      if (db) {
        S::store_mask(db + u, k, S::add(S::load_mask(db + u, k), ai));
        S::store_mask(db + H + u, k, S::add(S::load_mask(db + H + u, k), af));
        S::store_mask(db + 2 * H + u, k, S::add(S::load_mask(db + 2 * H + u, k), ag));
        S::store_mask(db + 3 * H + u, k, S::add(S::load_mask(db + 3 * H + u, k), ao));
      }
    }
  }

  // y[i] = F(x[i]) for i < n (y may alias x)
  template <V (*F)(V)>
  static void map(int64_t n, const float* x, float* y) {
    int64_t i = 0;
    for (; i + kVw <= n; i += kVw) S::storeu(y + i, F(S::loadu(x + i)));
    if (i < n) {
      const Mask k = S::mask_part(n - i);
      S::store_mask(y + i, k, F(S::load_mask(x + i, k)));
    }
  }

  static void fill(KernelTable& t) {
    t.lstm.fwd_tile = fwd_tile;
    t.lstm.bwd_row = bwd_row;
    t.lstm.sigmoid = map<Act::sigmoid>;
    t.lstm.tanh = map<Act::tanh>;
    GateAct<S>::fill(t);  // the configurable gate activations
  }
};

}  // namespace
}  // namespace cellstate
