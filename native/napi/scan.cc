// scan.cc - firstNonFinite(a) -> index of the first NaN or ±Inf in the Float32Array a, or -1. The
// API checks every float32 input with it (lib/nn/sequence.ts): a JS loop costs about 1 ns per
// element, 8% of a forward call at M.
#include <string>

#include "../util/finite.h"
#include "args.h"
#include "calls.h"

namespace cellstate {

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  namespace S = schema::first_non_finite;
  check_count(info, "firstNonFinite", static_cast<size_t>(S::kSpec.args()));
  Desc a(info, "firstNonFinite", S::kSpec);
  int64_t n = 0;
  const float* p = a.f32_all(S::a_, &n);
  a.finish();
  return Napi::Number::New(info.Env(), static_cast<double>(first_non_finite(p, n)));
}

}  // namespace cellstate
