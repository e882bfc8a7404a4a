// optim.cc - the per-element update loops of optim.h. Plain C++17, no ISA flags: each loop is a
// straight pass with the branches on hyperparameters hoisted out, which the compiler vectorises.
// Every expression mirrors lib/train/optim-math.ts term for term (double arithmetic, one rounding
// to float at each store).
#include "optim.h"

#include <cmath>

namespace cellstate {

void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h) {
  const double lr = h.lr, mu = h.momentum, damp = 1.0 - h.dampening, wd = h.weight_decay;
  if (mu == 0.0) {
    for (int64_t i = 0; i < n; ++i) {
      const double d = wd != 0.0 ? g[i] + wd * p[i] : static_cast<double>(g[i]);
      p[i] = static_cast<float>(p[i] - lr * d);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double d = wd != 0.0 ? g[i] + wd * p[i] : static_cast<double>(g[i]);
    const double b = h.first ? d : mu * buf[i] + damp * d;
    buf[i] = static_cast<float>(b);
    const double step = h.nesterov ? d + mu * b : b;
    p[i] = static_cast<float>(p[i] - lr * step);
  }
}

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h) {
  const double lr = h.lr, b1 = h.beta1, b2 = h.beta2, eps = h.eps, wd = h.weight_decay;
  const double step_size = lr / h.bias_correction1, bc2s = h.bias_correction2_sqrt;
  const double decay = h.decoupled ? 1.0 - lr * wd : 1.0;
  const double l2 = h.decoupled ? 0.0 : wd;
  for (int64_t i = 0; i < n; ++i) {
    const double pv = p[i] * decay;
    const double gv = l2 != 0.0 ? g[i] + l2 * p[i] : static_cast<double>(g[i]);
    const double mv = b1 * m[i] + (1.0 - b1) * gv;
    const double vv = b2 * v[i] + (1.0 - b2) * gv * gv;
    m[i] = static_cast<float>(mv);
    v[i] = static_cast<float>(vv);
    const double denom = std::sqrt(vv) / bc2s + eps;
    p[i] = static_cast<float>(pv - step_size * (mv / denom));
  }
}

void rmsprop_update(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n, const RmspropHyper& h) {
  const double lr = h.lr, a = h.alpha, eps = h.eps, wd = h.weight_decay, mu = h.momentum;
  for (int64_t i = 0; i < n; ++i) {
    const double gv = wd != 0.0 ? g[i] + wd * p[i] : static_cast<double>(g[i]);
    const double sv = a * sq[i] + (1.0 - a) * gv * gv;
    sq[i] = static_cast<float>(sv);
    double avg;
    if (h.centered) {
      const double ga = a * gavg[i] + (1.0 - a) * gv;
      gavg[i] = static_cast<float>(ga);
      avg = std::sqrt(sv - ga * ga) + eps;
    } else {
      avg = std::sqrt(sv) + eps;
    }
    if (mu > 0.0) {
      const double b = mu * buf[i] + gv / avg;
      buf[i] = static_cast<float>(b);
      p[i] = static_cast<float>(p[i] - lr * b);
    } else {
      p[i] = static_cast<float>(p[i] - lr * (gv / avg));
    }
  }
}

}  // namespace cellstate
