// optim_napi.cc - N-API glue of the fused optimizer updates: one call per optimizer step over all
// parameters, each a descriptor of scripts/addon-schema.js (optimSgd, optimAdam, optimRmsprop):
// a Float64Array header of hyperparameters, then the buffer lists, each a JS Array of
// Float32Arrays, read by the addon's one argument reader (native/napi/args.h).
//
// Everything is checked before anything is written (all-or-nothing): every list is an Array of
// the same length, every entry a Float32Array whose element count (int64) equals its parameter's,
// every number finite. Failures throw JS TypeError / RangeError; nothing aborts or prints.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../napi/args.h"
#include "../napi/calls.h"
#include "optim.h"

namespace cellstate {
namespace {

using Arrays = std::vector<Napi::Float32Array>;

double finite(Desc& a, int f) {
  const double v = a.number(f);
  if (!std::isfinite(v)) a.header_range_error(f, "a finite number");
  return v;
}

std::vector<int64_t> sizes_of(const Arrays& params) {
  std::vector<int64_t> n;
  for (const auto& p : params) n.push_back(static_cast<int64_t>(p.ElementLength()));
  return n;
}

// Pass 2, after every list was read (no JS runs from here on, so no buffer can be detached or
// resized under us): element counts against the parameters' (int64), then raw pointers.
std::vector<float*> data(const Desc& a, int b, const Arrays& arrs, const std::vector<int64_t>& sizes) {
  const char* name = a.buffer_name(b);
  if (arrs.size() != sizes.size()) {
    a.range_error(std::string(name) + ": expected " + std::to_string(sizes.size()) + " entries (one per parameter), got " + std::to_string(arrs.size()));
  }
  std::vector<float*> out;
  for (size_t k = 0; k < arrs.size(); ++k) {
    const int64_t n = static_cast<int64_t>(arrs[k].ElementLength());
    if (n != sizes[k]) {
      a.range_error(std::string(name) + ": expected " + name + "[" + std::to_string(k) + "] with " + std::to_string(sizes[k]) + " elements (its parameter's), got " + std::to_string(n));
    }
    Napi::Float32Array arr = arrs[k];
    out.push_back(arr.Data());
  }
  return out;
}

}  // namespace

Napi::Value OptimSgd(const Napi::CallbackInfo& info) {
  namespace S = schema::optim_sgd;
  check_count(info, S::kSpec.name, static_cast<size_t>(S::kSpec.args()));
  Desc a(info, S::kSpec.name, S::kSpec);
  const Arrays P = a.f32list(S::params_), G = a.f32list(S::grads_), Buf = a.f32list_opt(S::bufs_);
  SgdHyper h{finite(a, S::lr), finite(a, S::momentum), finite(a, S::dampening), finite(a, S::weightDecay), a.flag(S::nesterov), a.flag(S::first)};
  a.finish();
  if (h.momentum != 0.0 && a.is_null(S::bufs_)) a.type_error(S::bufs_, "momentum buffers (an Array of Float32Arrays) when momentum != 0");
  const auto n = sizes_of(P);
  auto p = data(a, S::params_, P, n), g = data(a, S::grads_, G, n);
  auto buf = h.momentum != 0.0 ? data(a, S::bufs_, Buf, n) : std::vector<float*>();
  for (size_t k = 0; k < p.size(); ++k) sgd_update(p[k], g[k], buf.empty() ? nullptr : buf[k], n[k], h);
  return info.Env().Undefined();
}

Napi::Value OptimAdam(const Napi::CallbackInfo& info) {
  namespace S = schema::optim_adam;
  check_count(info, S::kSpec.name, static_cast<size_t>(S::kSpec.args()));
  Desc a(info, S::kSpec.name, S::kSpec);
  const Arrays P = a.f32list(S::params_), G = a.f32list(S::grads_), M = a.f32list(S::expAvg_), V = a.f32list(S::expAvgSq_);
  AdamHyper h{finite(a, S::lr), finite(a, S::beta1), finite(a, S::beta2), finite(a, S::eps), finite(a, S::weightDecay), a.flag(S::decoupled),
              finite(a, S::biasCorrection1), finite(a, S::biasCorrection2Sqrt)};
  a.finish();
  if (!(h.bias_correction1 > 0.0)) a.header_range_error(S::biasCorrection1, "a positive bias correction");
  if (!(h.bias_correction2_sqrt > 0.0)) a.header_range_error(S::biasCorrection2Sqrt, "a positive bias correction");
  const auto n = sizes_of(P);
  auto p = data(a, S::params_, P, n), g = data(a, S::grads_, G, n), m = data(a, S::expAvg_, M, n), v = data(a, S::expAvgSq_, V, n);
  for (size_t k = 0; k < p.size(); ++k) adam_update(p[k], g[k], m[k], v[k], n[k], h);
  return info.Env().Undefined();
}

Napi::Value OptimRmsprop(const Napi::CallbackInfo& info) {
  namespace S = schema::optim_rmsprop;
  check_count(info, S::kSpec.name, static_cast<size_t>(S::kSpec.args()));
  Desc a(info, S::kSpec.name, S::kSpec);
  const Arrays P = a.f32list(S::params_), G = a.f32list(S::grads_), Sq = a.f32list(S::squareAvg_);
  const Arrays Ga = a.f32list_opt(S::gradAvg_), Buf = a.f32list_opt(S::momentumBuffer_);
  RmspropHyper h{finite(a, S::lr), finite(a, S::alpha), finite(a, S::eps), finite(a, S::weightDecay), finite(a, S::momentum), a.flag(S::centered)};
  a.finish();
  if (h.centered && a.is_null(S::gradAvg_)) a.type_error(S::gradAvg_, "gradient averages (an Array of Float32Arrays) when centered");
  if (h.momentum > 0.0 && a.is_null(S::momentumBuffer_)) a.type_error(S::momentumBuffer_, "momentum buffers (an Array of Float32Arrays) when momentum > 0");
  const auto n = sizes_of(P);
  auto p = data(a, S::params_, P, n), g = data(a, S::grads_, G, n), sq = data(a, S::squareAvg_, Sq, n);
  auto gavg = h.centered ? data(a, S::gradAvg_, Ga, n) : std::vector<float*>();
  auto buf = h.momentum > 0.0 ? data(a, S::momentumBuffer_, Buf, n) : std::vector<float*>();
  for (size_t k = 0; k < p.size(); ++k) {
    rmsprop_update(p[k], g[k], sq[k], gavg.empty() ? nullptr : gavg[k], buf.empty() ? nullptr : buf[k], n[k], h);
  }
  return info.Env().Undefined();
}

}  // namespace cellstate
