// simd/gate_act.h - the configurable gate activations (ONNX's RNN set: docs/equations.md, "Gate
// activations") over an array, written once for every SIMD tier against its vocabulary S
// (simd/<isa>.h) and instanced by lstm/lstm_postgemm_<isa>.cc into the dispatch table (the scalar
// reference: lstm/lstm_postgemm_scalar.cc). One switch on the activation code per call, outside
// the loop: the loop itself is one inlined vector function, never a per-element call.
//
//   act:      y[i] = f(x[i])                   (y may alias x)
//   act_dmul: d[i] = g[i] * f'(x[i]), written from y[i] = f(x[i]) alone (d may alias g)
//
// The derivatives read the output, as the fused LSTM reads its stored gates: sigmoid y(1-y),
// tanh 1-y², relu [y > 0], hardSigmoid alpha·[0 < y < 1], affine alpha, leakyRelu (alpha >= 0)
// y > 0 ? 1 : alpha, thresholdedRelu [y != 0], scaledTanh beta·(alpha - y²/alpha) (0 when alpha
// = 0), elu (alpha >= 0) y > 0 ? 1 : y + alpha, softsign (1-|y|)², softplus 1 - e^{-y} (a
// series below 0.05, where 1 - e^{-y} cancels). At a kink the right-hand choice is 0 for relu,
// hardSigmoid and thresholdedRelu (PyTorch's relu'(0) = 0) and alpha for leakyRelu and elu.
// hardSigmoid and affine round alpha*x before adding beta (S::keep: no FMA), as TF.js computes
// Keras' hard_sigmoid (mul, then add), so the float32 values agree bit for bit.
#pragma once

#include "../cpu/dispatch.h"
#include "activations.h"

namespace cellstate {
namespace {

template <class S>
struct GateAct {
  using V = typename S::V;
  using Mask = typename S::Mask;
  using Fn = Activations<S>;
  static constexpr int kVw = S::kVw;

  // log(1 + u) for u in [0, 1]: 2 atanh(s), s = u / (2 + u) in [0, 1/3], by its odd series to s^17
  // (the next term is below 2^-30 relative): no exponent bit tricks, so every tier has it.
  static CS_ALWAYS_INLINE V log1p_unit(V u) {
    const V s = S::div(u, S::add(S::set1(2.f), u));
    const V z = S::mul(s, s);
    V p = S::set1(1.f / 17.f);
    p = S::fmadd(p, z, S::set1(1.f / 15.f));
    p = S::fmadd(p, z, S::set1(1.f / 13.f));
    p = S::fmadd(p, z, S::set1(1.f / 11.f));
    p = S::fmadd(p, z, S::set1(1.f / 9.f));
    p = S::fmadd(p, z, S::set1(1.f / 7.f));
    p = S::fmadd(p, z, S::set1(1.f / 5.f));
    p = S::fmadd(p, z, S::set1(1.f / 3.f));
    p = S::fmadd(p, z, S::set1(1.f));
    return S::mul(S::add(s, s), p);
  }

  template <class F>
  static CS_ALWAYS_INLINE void map(int64_t n, const float* x, float* y, F f) {
    int64_t i = 0;
    for (; i + kVw <= n; i += kVw) S::storeu(y + i, f(S::loadu(x + i)));
    if (i < n) {
      const Mask k = S::mask_part(n - i);
      S::store_mask(y + i, k, f(S::load_mask(x + i, k)));
    }
  }
  // d = g * f(y)
  template <class F>
  static CS_ALWAYS_INLINE void map_mul(int64_t n, const float* y, const float* g, float* d, F f) {
    int64_t i = 0;
    for (; i + kVw <= n; i += kVw) S::storeu(d + i, S::mul(S::loadu(g + i), f(S::loadu(y + i))));
    if (i < n) {
      const Mask k = S::mask_part(n - i);
      S::store_mask(d + i, k, S::mul(S::load_mask(g + i, k), f(S::load_mask(y + i, k))));
    }
  }

  static void act(const ActSpec& a, int64_t n, const float* x, float* y) {
    const V al = S::set1(a.alpha), be = S::set1(a.beta), zero = S::zero(), one = S::set1(1.f);
    switch (a.code) {
      case Act::sigmoid: return map(n, x, y, [](V v) { return Fn::sigmoid(v); });
      case Act::tanh: return map(n, x, y, [](V v) { return Fn::tanh(v); });
      case Act::relu: return map(n, x, y, [=](V v) { return S::max(v, zero); });
      case Act::hardSigmoid:
        return map(n, x, y, [=](V v) { return S::min(S::max(S::add(S::keep(S::mul(al, v)), be), zero), one); });
      case Act::affine: return map(n, x, y, [=](V v) { return S::add(S::keep(S::mul(al, v)), be); });
      case Act::leakyRelu: return map(n, x, y, [=](V v) { return S::select_lt(v, zero, S::mul(al, v), v); });
      case Act::thresholdedRelu: return map(n, x, y, [=](V v) { return S::select_lt(al, v, v, zero); });
      case Act::scaledTanh: return map(n, x, y, [=](V v) { return S::mul(al, Fn::tanh(S::mul(be, v))); });
      case Act::elu:
        return map(n, x, y, [=](V v) { return S::select_lt(v, zero, S::mul(al, S::sub(Fn::exp(v), one)), v); });
      case Act::softsign: return map(n, x, y, [=](V v) { return S::div(v, S::add(one, S::abs(v))); });
      case Act::softplus:  // max(x, 0) + log(1 + e^{-|x|}): no overflow, no cancellation
        return map(n, x, y, [=](V v) { return S::add(S::max(v, zero), log1p_unit(Fn::exp(S::neg(S::abs(v))))); });
      default: return;
    }
  }

  static void act_dmul(const ActSpec& a, int64_t n, const float* y, const float* g, float* d) {
    const V al = S::set1(a.alpha), zero = S::zero(), one = S::set1(1.f);
    switch (a.code) {
      case Act::sigmoid: return map_mul(n, y, g, d, [=](V v) { return S::mul(v, S::sub(one, v)); });
      case Act::tanh: return map_mul(n, y, g, d, [=](V v) { return S::sub(one, S::mul(v, v)); });
      case Act::relu: return map_mul(n, y, g, d, [=](V v) { return S::select_lt(zero, v, one, zero); });
      case Act::hardSigmoid:
        return map_mul(n, y, g, d, [=](V v) { return S::select_lt(zero, v, S::select_lt(v, one, al, zero), zero); });
      case Act::affine: return map_mul(n, y, g, d, [=](V) { return al; });
      case Act::leakyRelu: return map_mul(n, y, g, d, [=](V v) { return S::select_lt(zero, v, one, al); });
      case Act::thresholdedRelu: return map_mul(n, y, g, d, [=](V v) { return S::select_lt(zero, S::abs(v), one, zero); });
      case Act::scaledTanh: {
        // beta * alpha * (1 - (y/alpha)^2); alpha = 0 makes f = 0 and f' = 0
        const float inv = a.alpha != 0.f ? 1.f / a.alpha : 0.f;
        const V ab = S::set1(a.alpha * a.beta), ia = S::set1(inv);
        return map_mul(n, y, g, d, [=](V v) { const V t = S::mul(v, ia); return S::mul(ab, S::sub(one, S::mul(t, t))); });
      }
      case Act::elu: return map_mul(n, y, g, d, [=](V v) { return S::select_lt(zero, v, one, S::add(v, al)); });
      case Act::softsign:
        return map_mul(n, y, g, d, [=](V v) { const V t = S::sub(one, S::abs(v)); return S::mul(t, t); });
      case Act::softplus:
        return map_mul(n, y, g, d, [=](V v) {
          // 1 - e^{-y}; below 0.05 its series y - y²/2 + y³/6 - y⁴/24 (relative error < 1e-7)
          const V s = S::mul(v, S::fmadd(v, S::fmadd(v, S::fmadd(v, S::set1(-1.f / 24.f), S::set1(1.f / 6.f)), S::set1(-0.5f)), one));
          return S::select_lt(v, S::set1(0.05f), s, S::sub(one, Fn::exp(S::neg(v))));
        });
      default: return;
    }
  }

  static void fill(KernelTable& t) {
    t.lstm.act = act;
    t.lstm.act_dmul = act_dmul;
  }
};

}  // namespace
}  // namespace cellstate
