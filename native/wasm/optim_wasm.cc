// optim_wasm.cc - the fused optimizer updates (native/optim/optim.h, the same loops the addon's
// optimSgd / optimAdam / optimRmsprop run) behind the C ABI of the WebAssembly build. One call per
// optimizer step covers every parameter, as on the addon; lib/backend/wasm.ts is the only caller.
//
// Arguments: a double header in the layout of the addon's descriptor (scripts/addon-schema.js:
// optimSgd 6, optimAdam 8, optimRmsprop 6 numbers; lib/backend/schema.gen.ts encodes it), the
// parameter count, the element count of each parameter (double[count]) and one pointer list
// (count entries) per buffer list, all in linear memory allocated by the caller. The caller copies
// parameters and state in and back out; everything it passes was checked by lib/train/optim.ts.
// This file re-checks what the loops would otherwise read wrongly: finite hyperparameters,
// positive bias corrections, the lists a configuration needs, non-negative sizes. A bad call
// returns -1 and leaves a message for cs_last_error(), before anything is written.
//
// Size legend: count = parameters of the step; n[k] = elements of parameter k.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../optim/optim.h"

#define CS_EXPORT(name) extern "C" __attribute__((export_name(#name)))

extern "C" const char* cs_last_error();

namespace cellstate {
namespace {

int fail(const char* msg) {
  char* e = const_cast<char*>(cs_last_error());  // cellstate_wasm.cc's 256-byte message buffer
  std::strncpy(e, msg, 255);
  e[255] = '\0';
  return -1;
}

bool finite(const double* h, int n) {
  for (int i = 0; i < n; ++i) if (!std::isfinite(h[i])) return false;
  return true;
}

// Every size a whole number >= 0; every required list present with non-null entries.
bool sizes_ok(const double* n, int count) {
  for (int k = 0; k < count; ++k) if (!(n[k] >= 0 && n[k] == std::floor(n[k]) && n[k] < 9007199254740992.0)) return false;
  return true;
}

template <typename P>
bool list_ok(P const* list, int count) {
  if (!list) return false;
  for (int k = 0; k < count; ++k) if (!list[k]) return false;
  return true;
}

}  // namespace
}  // namespace cellstate

using namespace cellstate;

// h: lr, momentum, dampening, weightDecay, nesterov, first. buf may be null when momentum == 0.
CS_EXPORT(cs_optim_sgd) int cs_optim_sgd(const double* h, int count, const double* n, float* const* p, const float* const* g,
                                         float* const* buf) {
  if (count < 0 || !finite(h, 6) || !sizes_ok(n, count)) return fail("optimSgd: header or sizes out of range");
  if (!list_ok(p, count) || !list_ok(g, count)) return fail("optimSgd: params and grads are required");
  if (h[1] != 0.0 && !list_ok(buf, count)) return fail("optimSgd: bufs are required when momentum != 0");
  const SgdHyper hy{h[0], h[1], h[2], h[3], h[4] != 0, h[5] != 0};
  for (int k = 0; k < count; ++k) sgd_update(p[k], g[k], h[1] != 0.0 ? buf[k] : nullptr, static_cast<int64_t>(n[k]), hy);
  return 0;
}

// h: lr, beta1, beta2, eps, weightDecay, decoupled, biasCorrection1, biasCorrection2Sqrt.
CS_EXPORT(cs_optim_adam) int cs_optim_adam(const double* h, int count, const double* n, float* const* p, const float* const* g,
                                           float* const* m, float* const* v) {
  if (count < 0 || !finite(h, 8) || !sizes_ok(n, count)) return fail("optimAdam: header or sizes out of range");
  if (!(h[6] > 0.0) || !(h[7] > 0.0)) return fail("optimAdam: bias corrections must be positive");
  if (!list_ok(p, count) || !list_ok(g, count) || !list_ok(m, count) || !list_ok(v, count)) return fail("optimAdam: params, grads, expAvg and expAvgSq are required");
  const AdamHyper hy{h[0], h[1], h[2], h[3], h[4], h[5] != 0, h[6], h[7]};
  for (int k = 0; k < count; ++k) adam_update(p[k], g[k], m[k], v[k], static_cast<int64_t>(n[k]), hy);
  return 0;
}

// h: lr, alpha, eps, weightDecay, momentum, centered. gavg may be null unless centered, buf unless momentum > 0.
CS_EXPORT(cs_optim_rmsprop) int cs_optim_rmsprop(const double* h, int count, const double* n, float* const* p, const float* const* g,
                                                 float* const* sq, float* const* gavg, float* const* buf) {
  if (count < 0 || !finite(h, 6) || !sizes_ok(n, count)) return fail("optimRmsprop: header or sizes out of range");
  if (!list_ok(p, count) || !list_ok(g, count) || !list_ok(sq, count)) return fail("optimRmsprop: params, grads and squareAvg are required");
  const bool centered = h[5] != 0, mom = h[4] > 0.0;
  if (centered && !list_ok(gavg, count)) return fail("optimRmsprop: gradAvg is required when centered");
  if (mom && !list_ok(buf, count)) return fail("optimRmsprop: momentumBuffer is required when momentum > 0");
  const RmspropHyper hy{h[0], h[1], h[2], h[3], h[4], centered};
  for (int k = 0; k < count; ++k) {
    rmsprop_update(p[k], g[k], sq[k], centered ? gavg[k] : nullptr, mom ? buf[k] : nullptr, static_cast<int64_t>(n[k]), hy);
  }
  return 0;
}
