// diagnostics.cc - what the addon runs on (info), the thread count (setThreads), the big scratch
// blocks given back (trimScratch), the FP32 peak probe (fmaPeak), the library GEMM as a test hook (sgemm), and the call descriptors as compiled
// in (schema). setThreads, fmaPeak and sgemm are descriptors of scripts/addon-schema.js read by
// args.h like every call; info, trimScratch and schema take no arguments.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../cpu/dispatch.h"
#include "../gemm/gemm.h"
#include "../gemm/pack.h"
#include "../util/scratch.h"
#include "../cell/cell_codes.gen.h"
#include "args.h"
#include "calls.h"
#include "pool.h"
#include "schema.gen.h"

namespace cellstate {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  const KernelTable& kt = kernels();
  o.Set("isa", isa_name(kt.isa));
  o.Set("detectedIsa", isa_name(detect_isa()));
  o.Set("bf16Kernel", kt.qgemm.bf16_kernel);
  o.Set("threads", threads_asked());
  o.Set("hardwareThreads", hardware_threads());
  o.Set("blas", info.Env().Null());
  o.Set("warning", dispatch_warning());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

namespace {

// The one field of setThreads and fmaPeak: a thread count in [1, 1024].
int read_threads(const Napi::CallbackInfo& info, const schema::CallSpec& spec) {
  check_count(info, spec.name, static_cast<size_t>(spec.args()));
  Desc a(info, spec.name, spec);
  const int n = static_cast<int>(a.integer(0, 1, 1024));
  a.finish();
  return n;
}

}  // namespace

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  static_assert(schema::set_threads::threads == 0 && schema::fma_peak::threads == 0, "read_threads reads field 0");
  set_threads(read_threads(info, schema::set_threads::kSpec));
  return info.Env().Undefined();
}

// trimScratch() frees the scratch blocks too big for the recycler's cache (util/scratch.h): the
// native backend calls it once no backward has run for a few seconds.
Napi::Value TrimScratch(const Napi::CallbackInfo& info) {
  check_count(info, "trimScratch", 0);
  scratch_trim();
  return info.Env().Undefined();
}

// fmaPeak(threads) -> GFLOP/s of the FMA probe run on `threads` threads at once (the pool's,
// or a temporary one of that size): the machine's FP32 peak as the benchmark reports it.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  const int n = read_threads(info, schema::fma_peak::kSpec);
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

// Test hook (not public API): the sgemm descriptor of scripts/addon-schema.js runs the library
// GEMM (packed: pack op(B) first, then sgemm_packed) so the mocha suite can check it against a
// naive product on every ISA tier.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  namespace S = schema::sgemm;
  check_count(info, "sgemm", static_cast<size_t>(S::kSpec.args()));
  Desc a(info, "sgemm", S::kSpec);
  const bool ta = a.flag(S::transA), tb = a.flag(S::transB), packed = a.flag(S::packed);
  const int64_t M = a.integer(S::M, 0, kMaxElems), N = a.integer(S::N, 0, kMaxElems), K = a.integer(S::K, 0, kMaxElems);
  // op(X) is rows x cols; stored as (trans ? cols x rows : rows x cols) with leading dimension ld.
  auto mat = [&](int off_f, int ld_f, int buf, bool trans, int64_t r, int64_t c, const char* name, int64_t* ld) -> float* {
    const int64_t sr = trans ? c : r, sc = trans ? r : c;
    const int64_t off = a.integer(off_f, 0, kMaxElems);
    *ld = a.integer(ld_f, sc > 0 ? sc : 1, kMaxElems);
    const int64_t need = sr == 0 || sc == 0 ? off : off + mul_checked(a, sr - 1, *ld, name) + sc;
    return a.f32(buf, need) + off;
  };
  int64_t lda = 0, ldb = 0, ldc = 0;
  const float* A = mat(S::aOffset, S::lda, S::A_, ta, M, K, "A", &lda);
  const float* B = mat(S::bOffset, S::ldb, S::B_, tb, K, N, "B", &ldb);
  const double beta = a.number(S::beta);
  if (beta != 0 && beta != 1) a.header_range_error(S::beta, "0 or 1");
  float* C = mat(S::cOffset, S::ldc, S::C_, false, M, N, "C", &ldc);
  a.finish();
  if (packed && ta) a.range_error("packed: transA is not supported");
  PoolLease lease;
  if (packed) {
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
  static const char* kDtype[] = {"f32", "i32", "cell", "f32list", "cellParams", "qParams"};
  static const char* kPresence[] = {"required", "optional", "when"};
  static const char* kDim[] = {"I", "H", "P", "G"};
  static const char* kWhen[] = {"always", "optional", "projection"};
  Napi::Object o = Napi::Object::New(env);
  // A parameter's `when` is its case, or for ParamWhen::flag the name of the kind's flag.
  const auto params = [&env](const CellParamSpec* ps, int n, const CellKindSpec* k) {
    Napi::Array arr = Napi::Array::New(env);
    for (int i = 0; i < n; ++i) {
      const CellParamSpec& q = ps[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", q.name);
      Napi::Array shape = Napi::Array::New(env);
      for (int d = 0; d < q.rank; ++d) shape.Set(static_cast<uint32_t>(d), kDim[static_cast<int>(q.dims[d])]);
      e.Set("shape", shape);
      const char* when = "?";
      if (q.when != ParamWhen::flag) when = kWhen[static_cast<int>(q.when)];
      else for (int f = 0; k && f < k->n_flags; ++f) if (k->flags[f].bit == q.flag) when = k->flags[f].name;
      e.Set("when", when);
      arr.Set(static_cast<uint32_t>(i), e);
    }
    return arr;
  };
  o.Set("cellParams", params(kCellParams, kCellParamCount, nullptr));
  Napi::Array kinds = Napi::Array::New(env);
  for (int c = 0; c < kCellKinds; ++c) {
    const CellKindSpec& k = kCellKindSpecs[c];
    Napi::Object e = Napi::Object::New(env);
    e.Set("name", k.name);
    e.Set("code", c);
    e.Set("gates", static_cast<double>(k.gates));
    e.Set("cellState", k.cell_state);
    e.Set("projection", k.projection);
    Napi::Array flags = Napi::Array::New(env);
    for (int f = 0; f < k.n_flags; ++f) {
      Napi::Object x = Napi::Object::New(env);
      x.Set("name", k.flags[f].name);
      x.Set("bit", static_cast<double>(k.flags[f].bit));
      flags.Set(static_cast<uint32_t>(f), x);
    }
    e.Set("flags", flags);
    e.Set("params", params(k.params, k.n_params, &k));
    kinds.Set(static_cast<uint32_t>(c), e);
  }
  o.Set("cellKinds", kinds);
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
