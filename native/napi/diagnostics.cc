// diagnostics.cc - what the addon runs on (info), the thread count (setThreads), the FP32 peak
// probe (fmaPeak), the library GEMM as a test hook (sgemm), and the call descriptors as compiled
// in (schema). Plain positional arguments: none of these is a per-sequence call.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/dispatch.h"
#include "../gemm/gemm.h"
#include "../gemm/pack.h"
#include "../cell/cell_codes.gen.h"
#include "calls.h"
#include "pool.h"
#include "schema.gen.h"

namespace cellstate {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;  // kMaxElems of args.h

[[noreturn]] void range_error(const Napi::CallbackInfo& info, const char* fn, const std::string& msg) {
  throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + msg);
}

// Positional argument i: an integer in [lo, hi] (a TypeError if not a number).
int64_t integer(const Napi::CallbackInfo& info, const char* fn, size_t i, int64_t lo, int64_t hi) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + ": expected an integer");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != static_cast<double>(static_cast<int64_t>(v))) {
    range_error(info, fn, "argument " + std::to_string(i) + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int64_t>(v);
}

bool boolean(const Napi::CallbackInfo& info, const char* fn, size_t i) {
  if (!info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + ": expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

float* f32(const Napi::CallbackInfo& info, const char* fn, size_t i, int64_t need, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + ": expected a Float32Array for " + name);
  }
  auto a = info[i].As<Napi::Float32Array>();
  if (need < 0 || static_cast<int64_t>(a.ElementLength()) < need) {
    range_error(info, fn, std::string(name) + ": expected at least " + std::to_string(need) + " elements, got " + std::to_string(a.ElementLength()));
  }
  return a.Data();
}

}  // namespace

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  const KernelTable& kt = kernels();
  o.Set("isa", isa_name(kt.isa));
  o.Set("detectedIsa", isa_name(detect_isa()));
  o.Set("threads", threads_asked());
  o.Set("hardwareThreads", hardware_threads());
  o.Set("blas", info.Env().Null());
  o.Set("warning", dispatch_warning());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  set_threads(static_cast<int>(integer(info, "setThreads", 0, 1, 1024)));
  return info.Env().Undefined();
}

// fmaPeak(threads) -> GFLOP/s of the FMA probe run on `threads` threads at once (the pool's,
// or a temporary one of that size): the machine's FP32 peak as the benchmark reports it.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  const int n = static_cast<int>(integer(info, "fmaPeak", 0, 1, 1024));
  const KernelTable& kt = kernels();
  PoolWait wait;
  std::unique_ptr<ThreadPool> own;
  ThreadPool* pool = wait.get();
  if (!pool || pool->size() != n) pool = (own = std::make_unique<ThreadPool>(n)).get();
  kt.fma_chains(1 << 20);  // warm up clocks
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<double> flops(n, 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    pool->parallel_for(n, [&](int64_t task, int) { flops[task] = kt.fma_chains(int64_t{1} << 23); });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / sec / 1e9);
  }
  return Napi::Number::New(info.Env(), best);
}

// Test hook (not public API): sgemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, beta, C,
// cOff, ldc, packed) runs the library GEMM (packed: pack op(B) first, then sgemm_packed) so the
// mocha suite can check it against a naive product on every ISA tier.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const char* fn = "sgemm";
  if (info.Length() != 16) throw Napi::TypeError::New(info.Env(), "sgemm: expected 16 arguments");
  const bool ta = boolean(info, fn, 0), tb = boolean(info, fn, 1), packed = boolean(info, fn, 15);
  const int64_t M = integer(info, fn, 2, 0, kMaxDim), N = integer(info, fn, 3, 0, kMaxDim), K = integer(info, fn, 4, 0, kMaxDim);
  auto mul = [&](int64_t x, int64_t y, const char* what) {
    if (x < 0 || y < 0 || (x != 0 && y > kMaxDim / x)) range_error(info, fn, std::string(what) + " is too large");
    return x * y;
  };
  // op(X) is rows x cols; stored as (trans ? cols x rows : rows x cols) with leading dimension ld.
  auto mat = [&](size_t i, bool trans, int64_t r, int64_t c, const char* name) -> float* {
    const int64_t sr = trans ? c : r, sc = trans ? r : c;
    const int64_t off = integer(info, fn, i + 1, 0, kMaxDim), ld = integer(info, fn, i + 2, sc > 0 ? sc : 1, kMaxDim);
    const int64_t need = sr == 0 || sc == 0 ? off : off + mul(sr - 1, ld, name) + sc;
    return f32(info, fn, i, need, name) + off;
  };
  const float* A = mat(5, ta, M, K, "A");
  const float* B = mat(8, tb, K, N, "B");
  const double beta = info[11].IsNumber() ? info[11].As<Napi::Number>().DoubleValue() : -1;
  if (beta != 0 && beta != 1) range_error(info, fn, "beta: expected 0 or 1");
  float* C = mat(12, false, M, N, "C");
  const int64_t lda = integer(info, fn, 7, 0, kMaxDim), ldb = integer(info, fn, 10, 0, kMaxDim), ldc = integer(info, fn, 14, 0, kMaxDim);
  PoolLease lease;
  if (packed) {
    if (ta) range_error(info, fn, "packed: transA is not supported");
    const PackedB pb = pack_b(tb, K, N, B, ldb);
    sgemm_packed(M, N, K, A, lda, pb, static_cast<float>(beta), C, ldc, nullptr, lease.get());
  } else {
    sgemm(ta, tb, M, N, K, A, lda, B, ldb, static_cast<float>(beta), C, ldc, nullptr, lease.get());
  }
  return info.Env().Undefined();
}

// schema() -> the descriptor tables and codes compiled into this binary, in the form of SCHEMA in
// lib/backend/schema.gen.ts (test/schema.test.mjs compares the two).
Napi::Value Schema(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  static const char* kField[] = {"dim", "flag", "number", "code"};
  static const char* kDtype[] = {"f32", "i32", "cell", "f32list"};
  static const char* kPresence[] = {"required", "optional", "when"};
  Napi::Object o = Napi::Object::New(env);
  Napi::Array kinds = Napi::Array::New(env);
  for (int k = 0; k < kCellKinds; ++k) {
    Napi::Object e = Napi::Object::New(env);
    const CellKind kind = static_cast<CellKind>(k);
    e.Set("name", kCellKindNames[k]);
    e.Set("code", k);
    e.Set("gates", static_cast<double>(cell_gates(kind)));
    kinds.Set(static_cast<uint32_t>(k), e);
  }
  o.Set("cellKinds", kinds);
  Napi::Array flags = Napi::Array::New(env);
  uint32_t k = 0;
  for (const CellFlagName& f : kCellFlags) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", f.name);
    e.Set("bit", static_cast<double>(f.bit));
    flags.Set(k++, e);
  }
  o.Set("cellFlags", flags);
  Napi::Array calls = Napi::Array::New(env);
  uint32_t n = 0;
  for (const schema::CallSpec* c : schema::kCalls) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", c->name);
    Napi::Array h = Napi::Array::New(env), b = Napi::Array::New(env);
    for (int f = 0; f < c->header_len; ++f) {
      Napi::Object x = Napi::Object::New(env);
      x.Set("name", c->header[f].name);
      x.Set("kind", kField[static_cast<int>(c->header[f].kind)]);
      h.Set(static_cast<uint32_t>(f), x);
    }
    for (int f = 0; f < c->buffers_len; ++f) {
      Napi::Object x = Napi::Object::New(env);
      x.Set("name", c->buffers[f].name);
      x.Set("dtype", kDtype[static_cast<int>(c->buffers[f].dtype)]);
      x.Set("presence", kPresence[static_cast<int>(c->buffers[f].presence)]);
      b.Set(static_cast<uint32_t>(f), x);
    }
    e.Set("header", h);
    e.Set("buffers", b);
    calls.Set(n++, e);
  }
  o.Set("calls", calls);
  return o;
}

}  // namespace cellstate
