// simd/lnlstm_postgemm.h - the layer-normalised LSTM's entries of the dispatch table
// (cell/lnlstm_kernels.h), written once for every SIMD tier against its vocabulary S
// (simd/<isa>.h); a per-ISA file (cell/lnlstm_postgemm_<isa>.cc) only calls LnLstmPostgemm<S>::fill.
// Activations are simd/activations.h's (the LSTM's). Full vectors load and store unmasked, the
// last partial one through S's masks (load_mask zero-fills), so no byte outside the n floats is
// read or written; the reductions (sums for mean and variance) add the partial tail in scalar, so
// its zero-filled lanes never enter (z - mean)². Equations: docs/equations.md.
#pragma once

#include <cmath>

#include "../cpu/dispatch.h"
#include "activations.h"

namespace cellstate {
namespace {

template <class S>
struct LnLstmPostgemm {
  using V = typename S::V;
  using Mask = typename S::Mask;
  using Act = Activations<S>;
  static constexpr int kVw = S::kVw;

  struct Span {
    int64_t j;  // first float
    Mask k;     // the partial vector's lanes (full == false)
    bool full;
  };
  static CS_ALWAYS_INLINE V ld(const float* p, const Span& s) { return s.full ? S::loadu(p + s.j) : S::load_mask(p + s.j, s.k); }
  static CS_ALWAYS_INLINE void st(float* p, const Span& s, V v) {
    if (s.full) S::storeu(p + s.j, v);
    else S::store_mask(p + s.j, s.k, v);
  }
  // f(span) over n floats: full vectors, then one masked partial vector.
  template <class F>
  static CS_ALWAYS_INLINE void over(int64_t n, F&& f) {
    int64_t j = 0;
    for (; j + kVw <= n; j += kVw) f(Span{j, S::mask_first(kVw), true});
    if (j < n) f(Span{j, S::mask_first(n - j), false});
  }
  static CS_ALWAYS_INLINE float hsum(V v) {
    float t[kVw];
    S::storeu(t, v);
    float s = 0.f;
    for (int l = 0; l < kVw; ++l) s += t[l];
    return s;
  }
  // 1 where |pre| <= clip (or no clipping), else 0.
  static CS_ALWAYS_INLINE V pass(const float* pre, const Span& s, float clip) {
    const V one = S::set1(1.f);
    if (!pre || clip == 0.f) return one;
    return S::select_lt(S::set1(clip), S::abs(ld(pre, s)), S::zero(), one);
  }

  static float normalise(int64_t n, const float* z, float eps, float* xh) {
    const int64_t nv = n / kVw * kVw;
    V acc = S::zero();
    for (int64_t j = 0; j < nv; j += kVw) acc = S::add(acc, S::loadu(z + j));
    float sum = hsum(acc);
    for (int64_t j = nv; j < n; ++j) sum += z[j];
    const float mean = sum / static_cast<float>(n);
    const V vm = S::set1(mean);
    V acc2 = S::zero();
    for (int64_t j = 0; j < nv; j += kVw) {
      const V d = S::sub(S::loadu(z + j), vm);
      acc2 = S::fmadd(d, d, acc2);
    }
    float v = hsum(acc2);
    for (int64_t j = nv; j < n; ++j) v += (z[j] - mean) * (z[j] - mean);
    const float rs = 1.f / std::sqrt(v / static_cast<float>(n) + eps);
    const V vr = S::set1(rs);
    over(n, [&](const Span& s) { st(xh, s, S::mul(S::sub(ld(z, s), vm), vr)); });
    return rs;
  }

  static void normalise_backward(int64_t n, const float* dy, const float* gain, const float* xh, float rs, float* dz) {
    V a1 = S::zero(), a2 = S::zero();
    over(n, [&](const Span& s) {  // masked lanes load 0 from dy, gain and xh: they add nothing
      const V d = S::mul(ld(dy, s), ld(gain, s));
      a1 = S::add(a1, d);
      a2 = S::fmadd(d, ld(xh, s), a2);
    });
    const V m1 = S::set1(hsum(a1) / static_cast<float>(n)), m2 = S::set1(hsum(a2) / static_cast<float>(n)), vr = S::set1(rs);
    over(n, [&](const Span& s) {
      const V d = S::mul(ld(dy, s), ld(gain, s));
      st(dz, s, S::mul(vr, S::fnmadd(ld(xh, s), m2, S::sub(d, m1))));
    });
  }

  static void gates_forward(int64_t H, const float* g_ih, const float* xh_ih, const float* g_hh, const float* xh_hh,
                            const float* beta, float clip, float* pre, float* a, const float* c, float* ct) {
    const V lo = S::set1(-clip), hi = S::set1(clip);
    over(4 * H, [&](const Span& s) {
      V v = S::fmadd(ld(g_ih, s), ld(xh_ih, s), S::fmadd(ld(g_hh, s), ld(xh_hh, s), ld(beta, s)));
      if (pre) st(pre, s, v);
      if (clip > 0.f) v = S::min(S::max(v, lo), hi);
      st(a, s, v);
    });
    float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
    over(H, [&](const Span& s) {
      const V ig = Act::sigmoid(ld(ai, s)), fg = Act::sigmoid(ld(af, s)), gg = Act::tanh(ld(ag, s));
      st(ai, s, ig);
      st(af, s, fg);
      st(ag, s, gg);
      st(ao, s, Act::sigmoid(ld(ao, s)));
      st(ct, s, S::fmadd(fg, ld(c, s), S::mul(ig, gg)));
    });
  }

  static void state_forward(int64_t H, const float* g_c, const float* xh_c, const float* b_c, const float* o,
                            float* c, float* h, float* y) {
    over(H, [&](const Span& s) {
      const V cn = S::fmadd(ld(g_c, s), ld(xh_c, s), ld(b_c, s));
      st(c, s, cn);
      const V hn = S::mul(ld(o, s), Act::tanh(cn));
      st(h, s, hn);
      st(y, s, hn);
    });
  }

  static void state_backward(int64_t H, const float* dh, const float* dy, const float* o, const float* c, const float* dc,
                             const float* pre_o, float clip, float* dA_o, float* dct) {
    const V one = S::set1(1.f);
    over(H, [&](const Span& s) {
      const V d = dy ? S::add(ld(dh, s), ld(dy, s)) : ld(dh, s);
      const V og = ld(o, s), tc = Act::tanh(ld(c, s));
      st(dA_o, s, S::mul(S::mul(S::mul(d, tc), S::mul(og, S::sub(one, og))), pass(pre_o, s, clip)));
      st(dct, s, S::fmadd(S::mul(d, og), S::fnmadd(tc, tc, one), ld(dc, s)));
    });
  }

  static void gates_backward(int64_t H, const float* dctilde, const float* a, const float* c_prev, const float* pre,
                             float clip, float* dA, float* dc_prev) {
    const V one = S::set1(1.f);
    const float* pi = pre, *pf = pre ? pre + H : nullptr, *pg = pre ? pre + 2 * H : nullptr;
    over(H, [&](const Span& s) {
      const V d = ld(dctilde, s);
      const V ig = ld(a, s), fg = ld(a + H, s), gg = ld(a + 2 * H, s);
      st(dA, s, S::mul(S::mul(S::mul(d, gg), S::mul(ig, S::sub(one, ig))), pass(pi, s, clip)));
      st(dA + H, s, S::mul(S::mul(S::mul(d, ld(c_prev, s)), S::mul(fg, S::sub(one, fg))), pass(pf, s, clip)));
      st(dA + 2 * H, s, S::mul(S::mul(S::mul(d, ig), S::fnmadd(gg, gg, one)), pass(pg, s, clip)));
      st(dc_prev, s, S::mul(d, fg));
    });
  }

  static void add_products(int64_t n, const float* a, const float* b, float* out) {
    over(n, [&](const Span& s) { st(out, s, S::fmadd(ld(a, s), ld(b, s), ld(out, s))); });
  }

  static void fill(KernelTable& t) {
    t.lnlstm.normalise = normalise;
    t.lnlstm.normalise_backward = normalise_backward;
    t.lnlstm.gates_forward = gates_forward;
    t.lnlstm.state_forward = state_forward;
    t.lnlstm.state_backward = state_backward;
    t.lnlstm.gates_backward = gates_backward;
    t.lnlstm.add_products = add_products;
  }
};

}  // namespace
}  // namespace cellstate
