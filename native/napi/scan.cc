// scan.cc - firstNonFinite(a) -> index of the first NaN or ±Inf in the Float32Array a, or -1. The
// API checks every float32 input with it (lib/nn/sequence.ts): a JS loop costs about 1 ns per
// element, 8% of a forward call at M.
#include <string>

#include "../util/finite.h"
#include "calls.h"

namespace cellstate {

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), "firstNonFinite: argument 0: expected a Float32Array");
  }
  const auto arr = info[0].As<Napi::Float32Array>();
  return Napi::Number::New(info.Env(), static_cast<double>(first_non_finite(arr.Data(), static_cast<int64_t>(arr.ElementLength()))));
}

}  // namespace cellstate
