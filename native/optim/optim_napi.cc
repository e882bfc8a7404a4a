// optim_napi.cc - N-API glue of the fused optimizer updates: one call per optimizer step over all
// parameters, each buffer list a JS Array of Float32Arrays (lib/backend/native-optim.ts declares
// the TypeScript side).
//
//   optimSgd(params, grads, bufs|null, lr, momentum, dampening, weightDecay, nesterov, first)
//   optimAdam(params, grads, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, bc1, bc2sqrt)
//   optimRmsprop(params, grads, sq, gavg|null, buf|null, lr, alpha, eps, weightDecay, momentum, centered)
//
// Everything is checked before anything is written (all-or-nothing): every list is an Array of
// the same length, every entry a Float32Array whose element count (int64) equals its parameter's,
// every number finite. Failures throw JS TypeError / RangeError; nothing aborts or prints.
#include "optim_napi.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "optim.h"

namespace cellstate {
namespace {

constexpr int64_t kMaxTensors = int64_t{1} << 20;

struct OptimArgs {
  const Napi::CallbackInfo& info;
  const char* fn;
  [[noreturn]] void type_error(size_t i, const std::string& what) const {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + ": expected " + what);
  }
  [[noreturn]] void range_error(size_t i, const std::string& what) const {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + ": expected " + what);
  }
  double number(size_t i) const {
    if (i >= info.Length() || !info[i].IsNumber()) type_error(i, "a number");
    const double v = info[i].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(v)) range_error(i, "a finite number");
    return v;
  }
  bool boolean(size_t i) const {
    if (i >= info.Length() || !info[i].IsBoolean()) type_error(i, "a boolean");
    return info[i].As<Napi::Boolean>().Value();
  }
  bool is_null(size_t i) const { return i < info.Length() && (info[i].IsNull() || info[i].IsUndefined()); }
  // Pass 1: an Array of Float32Arrays (reading an element may run JS: a getter, a Proxy trap).
  std::vector<Napi::Float32Array> list(size_t i, const char* name) const {
    if (i >= info.Length() || !info[i].IsArray()) type_error(i, std::string("an Array of Float32Arrays (") + name + ")");
    Napi::Array arr = info[i].As<Napi::Array>();
    const int64_t len = arr.Length();
    if (len > kMaxTensors) range_error(i, std::string("at most ") + std::to_string(kMaxTensors) + " tensors in " + name);
    std::vector<Napi::Float32Array> out;
    out.reserve(static_cast<size_t>(len));
    for (int64_t k = 0; k < len; ++k) {
      Napi::Value v = arr.Get(static_cast<uint32_t>(k));
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        type_error(i, std::string("a Float32Array at ") + name + "[" + std::to_string(k) + "]");
      }
      out.push_back(v.As<Napi::Float32Array>());
    }
    return out;
  }
  std::vector<Napi::Float32Array> list_or_null(size_t i, const char* name) const {
    return is_null(i) ? std::vector<Napi::Float32Array>() : list(i, name);
  }
  // Pass 2, after every list was read (no JS runs from here on, so no buffer can be detached or
  // resized under us): element counts against the parameters' (int64), then raw pointers.
  std::vector<float*> data(size_t i, const char* name, const std::vector<Napi::Float32Array>& arrs, const std::vector<int64_t>& sizes) const {
    if (arrs.size() != sizes.size()) {
      range_error(i, std::string(name) + " with " + std::to_string(sizes.size()) + " entries (one per parameter), got " + std::to_string(arrs.size()));
    }
    std::vector<float*> out;
    for (size_t k = 0; k < arrs.size(); ++k) {
      const int64_t n = static_cast<int64_t>(arrs[k].ElementLength());
      if (n != sizes[k]) {
        range_error(i, std::string(name) + "[" + std::to_string(k) + "] with " + std::to_string(sizes[k]) + " elements (its parameter's), got " + std::to_string(n));
      }
      Napi::Float32Array arr = arrs[k];
      out.push_back(arr.Data());
    }
    return out;
  }
  static std::vector<int64_t> sizes_of(const std::vector<Napi::Float32Array>& params) {
    std::vector<int64_t> n;
    for (const auto& a : params) n.push_back(static_cast<int64_t>(a.ElementLength()));
    return n;
  }
};

Napi::Value OptimSgd(const Napi::CallbackInfo& info) {
  OptimArgs a{info, "optimSgd"};
  auto P = a.list(0, "params");
  auto G = a.list(1, "grads");
  auto Buf = a.list_or_null(2, "bufs");
  SgdHyper h{a.number(3), a.number(4), a.number(5), a.number(6), a.boolean(7), a.boolean(8)};
  if (h.momentum != 0.0 && a.is_null(2)) a.type_error(2, "momentum buffers (an Array of Float32Arrays) when momentum != 0");
  const auto n = OptimArgs::sizes_of(P);
  auto p = a.data(0, "params", P, n), g = a.data(1, "grads", G, n);
  auto buf = h.momentum != 0.0 ? a.data(2, "bufs", Buf, n) : std::vector<float*>();
  for (size_t k = 0; k < p.size(); ++k) sgd_update(p[k], g[k], buf.empty() ? nullptr : buf[k], n[k], h);
  return info.Env().Undefined();
}

Napi::Value OptimAdam(const Napi::CallbackInfo& info) {
  OptimArgs a{info, "optimAdam"};
  auto P = a.list(0, "params");
  auto G = a.list(1, "grads");
  auto M = a.list(2, "expAvg");
  auto V = a.list(3, "expAvgSq");
  AdamHyper h{a.number(4), a.number(5), a.number(6), a.number(7), a.number(8), a.boolean(9), a.number(10), a.number(11)};
  if (!(h.bias_correction1 > 0.0)) a.range_error(10, "a positive bias correction");
  if (!(h.bias_correction2_sqrt > 0.0)) a.range_error(11, "a positive bias correction");
  const auto n = OptimArgs::sizes_of(P);
  auto p = a.data(0, "params", P, n), g = a.data(1, "grads", G, n), m = a.data(2, "expAvg", M, n), v = a.data(3, "expAvgSq", V, n);
  for (size_t k = 0; k < p.size(); ++k) adam_update(p[k], g[k], m[k], v[k], n[k], h);
  return info.Env().Undefined();
}

Napi::Value OptimRmsprop(const Napi::CallbackInfo& info) {
  OptimArgs a{info, "optimRmsprop"};
  auto P = a.list(0, "params");
  auto G = a.list(1, "grads");
  auto Sq = a.list(2, "squareAvg");
  auto Ga = a.list_or_null(3, "gradAvg");
  auto Buf = a.list_or_null(4, "momentumBuffer");
  RmspropHyper h{a.number(5), a.number(6), a.number(7), a.number(8), a.number(9), a.boolean(10)};
  if (h.centered && a.is_null(3)) a.type_error(3, "gradient averages (an Array of Float32Arrays) when centered");
  if (h.momentum > 0.0 && a.is_null(4)) a.type_error(4, "momentum buffers (an Array of Float32Arrays) when momentum > 0");
  const auto n = OptimArgs::sizes_of(P);
  auto p = a.data(0, "params", P, n), g = a.data(1, "grads", G, n), sq = a.data(2, "squareAvg", Sq, n);
  auto gavg = h.centered ? a.data(3, "gradAvg", Ga, n) : std::vector<float*>();
  auto buf = h.momentum > 0.0 ? a.data(4, "momentumBuffer", Buf, n) : std::vector<float*>();
  for (size_t k = 0; k < p.size(); ++k) {
    rmsprop_update(p[k], g[k], sq[k], gavg.empty() ? nullptr : gavg[k], buf.empty() ? nullptr : buf[k], n[k], h);
  }
  return info.Env().Undefined();
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  exports.Set("optimSgd", Napi::Function::New(env, OptimSgd));
  exports.Set("optimAdam", Napi::Function::New(env, OptimAdam));
  exports.Set("optimRmsprop", Napi::Function::New(env, OptimRmsprop));
}

}  // namespace cellstate
