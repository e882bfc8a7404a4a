// simd/activations.h - exp, sigmoid and tanh over one vector, written once for every SIMD tier
// against its vocabulary S (simd/<isa>.h); the constants live here and nowhere else.
//
// Accuracy: exp uses a degree-6 minimax polynomial after range reduction (~2 ulp), 2^n applied by
// S::scale2; tanh uses an odd polynomial for |x| < 0.625 (no cancellation near 0) and
// 1 - 2/(e^{2|x|} + 1) above; inputs are clamped so |x| ~ 100 (or ±inf) gives 0/1/±1, never NaN or
// overflow. Every tier runs the same sequence of roundings (FMA where written as fmadd/fnmadd), so
// the tiers agree to a few ulp with each other; the scalar tier (lstm_postgemm_scalar.cc) uses
// std::exp / std::tanh and is the reference they are tested against.
#pragma once

#include "common.h"

namespace cellstate {
namespace {

template <class S>
struct Activations {
  using V = typename S::V;

  static inline V exp(V x) {
    x = S::min(S::max(x, S::set1(-87.3f)), S::set1(88.0f));
    const V n = S::round(S::mul(x, S::set1(1.44269504088896341f)));
    V r = S::fnmadd(n, S::set1(0.693359375f), x);   // x - n*ln2 (hi)
    r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);  // ... - n*ln2 (lo)
    V p = S::set1(1.9875691500e-4f);
    p = S::fmadd(p, r, S::set1(1.3981999507e-3f));
    p = S::fmadd(p, r, S::set1(8.3334519073e-3f));
    p = S::fmadd(p, r, S::set1(4.1665795894e-2f));
    p = S::fmadd(p, r, S::set1(1.6666665459e-1f));
    p = S::fmadd(p, r, S::set1(5.0000001201e-1f));
    p = S::fmadd(p, S::mul(r, r), S::add(r, S::set1(1.f)));
    return S::scale2(p, n);  // n in [-126, 127] after the clamp
  }

  static inline V sigmoid(V x) {
    const V one = S::set1(1.f);
    return S::div(one, S::add(one, exp(S::neg(x))));
  }

  static inline V tanh(V x) {
    const V ax = S::abs(x);
    // small |x|: x + x^3 * P(x^2)
    const V z = S::mul(x, x);
    V p = S::set1(-5.70498872745e-3f);
    p = S::fmadd(p, z, S::set1(2.06390887954e-2f));
    p = S::fmadd(p, z, S::set1(-5.37397155531e-2f));
    p = S::fmadd(p, z, S::set1(1.33314422036e-1f));
    p = S::fmadd(p, z, S::set1(-3.33332819422e-1f));
    const V small = S::fmadd(S::mul(p, z), x, x);
    // large |x|: sign(x) * (1 - 2 / (exp(2|x|) + 1))
    const V one = S::set1(1.f);
    const V e = exp(S::add(ax, ax));
    const V big = S::sub(one, S::div(S::set1(2.f), S::add(e, one)));
    const V bigs = S::with_sign_of(big, x);
    return S::select_lt(ax, S::set1(0.625f), small, bigs);
  }
};

}  // namespace
}  // namespace cellstate
