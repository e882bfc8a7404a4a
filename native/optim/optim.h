// optim.h - fused optimizer updates over flat float32 parameter buffers (one call per parameter
// tensor; the N-API glue in optim_napi.cc loops over every parameter of a step in one crossing).
//
// The arithmetic is done per element in double and rounded once when stored, in exactly the
// order of the TypeScript mirror (lib/train/optim-math.ts), so both backends agree to the last
// bit wherever the compiler does not contract a*b+c into an FMA. The update rules are PyTorch's
// (torch.optim.SGD / Adam / AdamW / RMSprop, non-fused, non-capturable), written in optim-math.ts.
//
// Size legend: n = elements of one parameter tensor. p parameter, g gradient (read only); the
// other buffers are optimizer state of the same n, updated in place.
#pragma once
#include <cstdint>

namespace cellstate {

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first;  // first step with momentum: the buffer starts as the gradient
};
// buf may be null when momentum == 0.
void sgd_update(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h);

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr*wd instead of adding wd*p to the gradient
  double bias_correction1;  // 1 - beta1^t
  double bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamHyper& h);

struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
};
// gavg may be null unless centered; buf may be null unless momentum > 0.
void rmsprop_update(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n, const RmspropHyper& h);

}  // namespace cellstate
