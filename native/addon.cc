// addon.cc - the N-API surface of the native backend: argument checks and marshalling only.
//
// The TypeScript layer (lib/backend/native.ts, interface NativeAddon) validates user input; this
// file re-checks only what would be unsafe: every typed array's element type and that every
// index a kernel will touch, derived from the dims, lies inside it (int64 arithmetic). Failures
// throw JS TypeError/RangeError, the classes the ts backend throws; nothing here aborts or prints.
// Typed arrays are used in place (no copies; byteOffset respected).
//
// Async calls (…Async) run the same kernels on a libuv worker thread: the worker holds references
// to every buffer and shares ownership of the packed weights, so they stay alive until the promise
// settles. A reference does not stop JS from detaching or writing a buffer, so lib/ hands async
// calls only buffers no caller can reach (copies made at call time; lib/nn/recurrent.ts).
//
// Packed weights are refcounted: the External owns one reference, each call in flight another.
// cellRelease drops the External's at once, so a training loop that repacks every step and never
// yields to the event loop (where N-API finalizers run) keeps one packed copy, not one per step.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cell/cell.h"
#include "cell/cell_kind.h"
#include "optim/optim_napi.h"
#include "threadpool.h"
#include "util/finite.h"

namespace cellstate {
namespace {

// ---------------------------------------------------------------- thread pool

std::mutex g_pool_mu;  // held by the one call using the pool; others run single-threaded
std::unique_ptr<ThreadPool> g_pool;  // guarded by g_pool_mu
std::atomic<int> g_threads{0};       // the size asked for; the pool takes it when next free

// With g_pool_mu held: make the pool the size last asked for.
void resize_pool_locked() {
  const int n = g_threads.load();
  if (g_pool && g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(n);
}

// Exclusive use of the pool for one call, or none (nullptr) when another call has it.
class PoolLease {
 public:
  PoolLease() : lock_(g_pool_mu, std::try_to_lock) {
    if (lock_.owns_lock()) resize_pool_locked();
  }
  ThreadPool* get() const { return lock_.owns_lock() && g_pool && g_pool->size() > 1 ? g_pool.get() : nullptr; }
 private:
  std::unique_lock<std::mutex> lock_;
};

// Never waits for a call in flight (that would block the event loop for the rest of the call):
// when the pool is busy, the call that holds it, or the next one, resizes it.
void set_threads(int n) {
  g_threads.store(n);
  std::unique_lock<std::mutex> lock(g_pool_mu, std::try_to_lock);
  if (lock.owns_lock()) resize_pool_locked();
}

// ---------------------------------------------------------------- argument checks

const napi_type_tag kCellTag = {0x6c73746d63656c6cULL, 0x7374617465303033ULL};  // "lstmcell" "state003"

// What a cellPrepare External holds: a reference to the packed weights (null once released).
struct CellHandle {
  std::shared_ptr<const CellPacked> w;
  int64_t bytes = 0;  // reported to V8 as external memory while w is held
};
using CellRef = std::shared_ptr<const CellPacked>;

struct Arg {
  const Napi::CallbackInfo& info;
  const char* fn;
  size_t base = 0;  // argument i of this call is info[base + i] (pair calls carry two sets)
  Napi::Value at(size_t i) const { return info[base + i]; }
  size_t count() const { return info.Length() > base ? info.Length() - base : 0; }
  [[noreturn]] void type_error(size_t i, const std::string& what) const {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(base + i) + ": expected " + what);
  }
  [[noreturn]] void range_error(const std::string& msg) const {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + msg);
  }
  int64_t integer(size_t i, int64_t lo, int64_t hi) const {
    if (i >= count() || !at(i).IsNumber()) type_error(i, "an integer");
    const double v = at(i).As<Napi::Number>().DoubleValue();
    if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != static_cast<double>(static_cast<int64_t>(v))) {
      range_error("argument " + std::to_string(base + i) + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return static_cast<int64_t>(v);
  }
  bool boolean(size_t i) const {
    if (i >= count() || !at(i).IsBoolean()) type_error(i, "a boolean");
    return at(i).As<Napi::Boolean>().Value();
  }
  bool is_null(size_t i) const { return i < count() && (at(i).IsNull() || at(i).IsUndefined()); }
  // A Float32Array holding at least `need` elements (after its own byteOffset).
  float* f32(size_t i, int64_t need, const char* name) const {
    if (i >= count() || !at(i).IsTypedArray() ||
        at(i).As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      type_error(i, std::string("a Float32Array for ") + name);
    }
    auto a = at(i).As<Napi::Float32Array>();
    if (need < 0 || static_cast<int64_t>(a.ElementLength()) < need) {
      range_error(std::string(name) + ": expected at least " + std::to_string(need) + " elements, got " + std::to_string(a.ElementLength()));
    }
    return a.Data();
  }
  float* f32_or_null(size_t i, int64_t need, const char* name) const { return is_null(i) ? nullptr : f32(i, need, name); }
  CellHandle* handle(size_t i) const {
    if (i >= count() || !at(i).IsExternal()) type_error(i, "prepared cell weights");
    auto ext = at(i).As<Napi::External<CellHandle>>();
    bool ok = false;
    if (napi_check_object_type_tag(info.Env(), ext, &kCellTag, &ok) != napi_ok || !ok) type_error(i, "prepared cell weights");
    return ext.Data();
  }
  CellRef cell(size_t i) const {
    CellRef w = handle(i)->w;
    if (!w) type_error(i, "prepared cell weights that were not released");
    return w;
  }
  // A Float32Array that must be present exactly when `want` (else null): `need` elements.
  float* f32_if(size_t i, bool want, int64_t need, const char* name) const {
    if (want) return f32(i, need, name);
    if (!is_null(i)) type_error(i, std::string("null for ") + name + " (this cell has none)");
    return nullptr;
  }
};

// Element count limit for any buffer the addon computes over or allocates: 2^31, the library's
// MAX_ELEMENTS (lib/tensor.ts, SECURITY.md), so every element index fits an int32 and no product
// of two checked sizes overflows int64 (index arithmetic in the kernels is int64 throughout).
constexpr int64_t kMaxElems = int64_t{1} << 31;

// Checked a*b (+ c) for non-negative operands within kMaxElems.
int64_t mul_checked(const Arg& a, int64_t x, int64_t y, const char* what) {
  if (x < 0 || y < 0 || (x != 0 && y > kMaxElems / x)) a.range_error(std::string(what) + " is too large");
  return x * y;
}

// Sequence layout shared by forward and backward: T, B, rowT, rowB, reverse, lengths at `i`.
struct SeqArgs {
  SeqDesc seq;
  int64_t max_row = 0;  // largest row index any (t, b) maps to
  std::vector<int32_t> lengths;
};
SeqArgs read_seq(const Arg& a, size_t i) {
  SeqArgs s;
  s.seq.T = a.integer(i, 1, kMaxElems);
  s.seq.B = a.integer(i + 1, 1, kMaxElems);
  const int64_t N = mul_checked(a, s.seq.T, s.seq.B, "T*B");
  s.seq.rowT = a.integer(i + 2, 0, N);
  s.seq.rowB = a.integer(i + 3, 0, N);
  s.seq.reverse = a.boolean(i + 4);
  // Only the two layouts lib/ uses: time-major (B, 1) or batch-first (1, T). Both map the T*B
  // (t, b) pairs one-to-one onto rows [0, N), so no two steps (or threads) share a row, and every
  // row buffer must really hold N rows (internal scratch is then bounded by the caller's memory).
  const bool time_major = s.seq.rowT == s.seq.B && s.seq.rowB == 1, batch_first = s.seq.rowT == 1 && s.seq.rowB == s.seq.T;
  if (!time_major && !batch_first) a.range_error("rowT/rowB map rows outside the T*B rows or onto each other: expected (B, 1) or (1, T)");
  s.max_row = N - 1;
  if (!a.is_null(i + 5)) {
    if (!a.at(i + 5).IsTypedArray() || a.at(i + 5).As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      a.type_error(i + 5, "an Int32Array of lengths or null");
    }
    auto l = a.at(i + 5).As<Napi::Int32Array>();
    if (static_cast<int64_t>(l.ElementLength()) != s.seq.B) a.range_error("lengths: expected B entries");
    s.lengths.assign(l.Data(), l.Data() + l.ElementLength());  // a private copy: JS may not change it under us
    for (int32_t v : s.lengths) {
      if (v < 1 || v > s.seq.T) a.range_error("lengths: every entry must be in [1, T]");
    }
    s.seq.lengths = s.lengths.data();
  }
  return s;
}

// Rows buffer: offset + max_row*ld + width elements, with ld >= width.
float* rows_arg(const Arg& a, size_t i, int64_t max_row, int64_t width, bool nullable, const char* name,
                int64_t* ld_out) {
  const int64_t off = a.integer(i + 1, 0, kMaxElems);
  const int64_t ld = a.integer(i + 2, width, kMaxElems);
  *ld_out = ld;
  const int64_t need = off + mul_checked(a, max_row, ld, name) + width;
  float* p = nullable ? a.f32_or_null(i, need, name) : a.f32(i, need, name);
  return p ? p + off : nullptr;
}

// ---------------------------------------------------------------- calls

// Everything one forward needs, read from the JS arguments (shared by the sync and async calls).
// cellForward(w, T, B, rowT, rowB, reverse, lengths, x, xOff, ldx, y, yOff, ldy, h0, c0, hN, cN, cache)
struct ForwardCall {
  CellRef w;
  SeqArgs s;
  FwdIO io{};
  static constexpr size_t kArgs = 18;

  explicit ForwardCall(const Arg& a) {
    w = a.cell(0);
    s = read_seq(a, 1);
    const CellConfig& c = w->cfg;
    const bool lstm = c.kind == CellKind::lstm;
    const int64_t BP = mul_checked(a, s.seq.B, c.P, "B*P"), BH = mul_checked(a, s.seq.B, c.H, "B*H");
    mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), c.G, "T*B*G (the gate pre-activations)");
    io.x = rows_arg(a, 7, s.max_row, c.I, false, "x", &io.ldx);
    io.y = rows_arg(a, 10, s.max_row, c.P, false, "y", &io.ldy);
    io.h0 = a.f32_or_null(13, BP, "h0");
    io.c0 = lstm ? a.f32_or_null(14, BH, "c0") : a.f32_if(14, false, 0, "c0");
    io.hN = a.f32(15, BP, "hN");
    io.cN = a.f32_if(16, lstm, BH, "cN");
    if (!a.is_null(17)) {
      mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), 6 * c.G + 2 * c.P, "the training cache");
      io.cache = a.f32(17, cell_cache_floats(c, s.seq.T, s.seq.B), "cache");
    }
  }
  void run(ThreadPool* pool) const { cell_forward(*w, s.seq, io, pool); }
};

// cellBackward(w, T, B, rowT, rowB, reverse, lengths, x, xOff, ldx, cache, dy, dyOff, lddy, dhN,
//              dcN, dx, dxOff, lddx, dh0, dc0, dWih, dWhh, dBih, dBhh, dWhr, dPi, dPf, dPo)
struct BackwardCall {
  CellRef w;
  SeqArgs s;
  BwdIO g{};
  static constexpr size_t kArgs = 29;

  explicit BackwardCall(const Arg& a) {
    w = a.cell(0);
    s = read_seq(a, 1);
    const CellConfig& c = w->cfg;
    const bool lstm = c.kind == CellKind::lstm, proj = lstm && c.P != c.H;
    const int64_t BP = mul_checked(a, s.seq.B, c.P, "B*P"), BH = mul_checked(a, s.seq.B, c.H, "B*H");
    mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), c.G, "T*B*G (the gate pre-activations)");
    g.x = rows_arg(a, 7, s.max_row, c.I, false, "x", &g.ldx);
    mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), 6 * c.G + 2 * c.P, "the training cache");
    g.cache = a.f32(10, cell_cache_floats(c, s.seq.T, s.seq.B), "cache");
    g.dy = rows_arg(a, 11, s.max_row, c.P, true, "dy", &g.lddy);
    g.dhN = a.f32_or_null(14, BP, "dhN");
    g.dcN = lstm ? a.f32_or_null(15, BH, "dcN") : a.f32_if(15, false, 0, "dcN");
    g.dx = rows_arg(a, 16, s.max_row, c.I, true, "dx", &g.lddx);
    g.dh0 = a.f32(19, BP, "dh0");
    g.dc0 = a.f32_if(20, lstm, BH, "dc0");
    g.dw_ih = a.f32(21, mul_checked(a, c.G, c.I, "G*I"), "dWeightIh");
    g.dw_hh = a.f32(22, mul_checked(a, c.G, c.P, "G*P"), "dWeightHh");
    g.db_ih = a.f32_or_null(23, c.G, "dBiasIh");
    g.db_hh = a.f32_or_null(24, c.G, "dBiasHh");
    g.dw_hr = a.f32_if(25, proj, mul_checked(a, c.P, c.H, "P*H"), "dWeightHr");
    g.dp_i = a.f32_if(26, c.peephole, c.H, "dPeepholeI");
    g.dp_f = a.f32_if(27, c.peephole, c.H, "dPeepholeF");
    g.dp_o = a.f32_if(28, c.peephole, c.H, "dPeepholeO");
  }
  void run(ThreadPool* pool) const { cell_backward(*w, s.seq, g, pool); }
};

// Two independent calls (the directions of a bidirectional layer): with a pool of 2+ threads each
// runs single-threaded on its own thread, so the directions need no per-step synchronisation;
// otherwise one after the other with whatever pool there is.
template <typename Call>
struct PairCall {
  Call a, b;
  static constexpr size_t kArgs = 2 * Call::kArgs;
  explicit PairCall(const Arg& x) : a(Arg{x.info, x.fn, 0}), b(Arg{x.info, x.fn, Call::kArgs}) {}
  void run(ThreadPool* pool) const {
    if (pool && pool->size() >= 2) pool->parallel_for(2, [this](int64_t t, int) { (t == 0 ? a : b).run(nullptr); });
    else { a.run(pool); b.run(pool); }
  }
};

// Runs a call on a libuv worker; keeps every JS argument referenced until it settles.
template <typename Call>
class CallWorker : public Napi::AsyncWorker {
 public:
  CallWorker(const Napi::CallbackInfo& info, Call call)
      : Napi::AsyncWorker(info.Env(), "cellstate"), call_(std::move(call)), deferred_(Napi::Promise::Deferred::New(info.Env())) {
    for (size_t i = 0; i < info.Length(); ++i) {  // typed arrays and the weights External
      if (info[i].IsObject() || info[i].IsExternal()) refs_.push_back(Napi::Reference<Napi::Value>::New(info[i], 1));
    }
  }
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override {
    try {
      PoolLease lease;
      call_.run(lease.get());
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Call call_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::Reference<Napi::Value>> refs_;
};

template <typename Call>
Napi::Value sync_call(const Napi::CallbackInfo& info, const char* fn) {
  Arg a{info, fn};
  if (info.Length() != Call::kArgs) a.type_error(info.Length(), std::to_string(Call::kArgs) + " arguments");
  Call call(a);
  try {
    PoolLease lease;
    call.run(lease.get());
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": out of memory");
  }
  return info.Env().Undefined();
}

template <typename Call>
Napi::Value async_call(const Napi::CallbackInfo& info, const char* fn) {
  Arg a{info, fn};
  if (info.Length() != Call::kArgs) a.type_error(info.Length(), std::to_string(Call::kArgs) + " arguments");
  auto* worker = new CallWorker<Call>(info, Call(a));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

// cellPrepare(kind, I, H, P, flags, clip, wIh [G*I], wHh [G*Hout], bIh|null, bHh|null,
//             wHr [P*H]|null, peepI|null, peepF|null, peepO|null) -> External
//   kind: 0 lstm, 1 gru, 2 rnn_tanh, 3 rnn_relu; P: LSTM projection (0 = none, else 1..H-1);
//   flags: 1 peephole (LSTM), 2 input-forget (LSTM), 4 linear-before-reset (GRU); clip: 0 = none.
Napi::Value CellPrepare(const Napi::CallbackInfo& info) {
  Arg a{info, "cellPrepare"};
  if (info.Length() != 14) a.type_error(info.Length(), "14 arguments");
  CellConfig c;
  c.kind = static_cast<CellKind>(a.integer(0, 0, 3));
  c.I = a.integer(1, 1, kMaxElems);
  c.H = a.integer(2, 1, kMaxElems);
  const bool lstm = c.kind == CellKind::lstm;
  const int64_t proj = a.integer(3, 0, lstm ? c.H - 1 : 0);
  c.P = proj ? proj : c.H;
  const int64_t flags = a.integer(4, 0, 7);
  c.peephole = lstm && (flags & 1);
  c.input_forget = lstm && (flags & 2);
  c.linear_before_reset = (flags & 4) != 0;
  if (!info[5].IsNumber()) a.type_error(5, "a number for clip");
  const double clip = info[5].As<Napi::Number>().DoubleValue();
  // The largest finite float32, as lib/nn/recurrent.ts checks it: both backends take the same clips.
  if (!(clip >= 0 && clip <= std::numeric_limits<float>::max())) a.range_error("clip: expected 0 (none) or a positive finite number <= 3.4028234663852886e38");
  c.clip = static_cast<float>(clip);
  c.G = mul_checked(a, cell_kind_ops(c.kind).gates, c.H, "G");
  const float* wih = a.f32(6, mul_checked(a, c.G, c.I, "G*I"), "weightIh");
  const float* whh = a.f32(7, mul_checked(a, c.G, c.P, "G*Hout"), "weightHh");
  const float* bih = a.f32_or_null(8, c.G, "biasIh");
  const float* bhh = a.f32_or_null(9, c.G, "biasHh");
  const float* whr = a.f32_if(10, lstm && c.P != c.H, mul_checked(a, c.P, c.H, "P*H"), "weightHr");
  const float* pi = a.f32_if(11, c.peephole, c.H, "peephole_i");
  const float* pf = a.f32_if(12, c.peephole, c.H, "peephole_f");
  const float* po = a.f32_if(13, c.peephole, c.H, "peephole_o");
  std::unique_ptr<CellPacked> w;
  try {
    w = cell_prepare(c, wih, whh, bih, bhh, whr, pi, pf, po);
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "cellPrepare: out of memory");
  }
  const int64_t bytes = static_cast<int64_t>(sizeof(float)) * (2 * c.G * (c.I + c.P) + (c.fused() ? c.G * c.H : 0));
  auto* h = new CellHandle{CellRef(std::move(w)), bytes};
  auto ext = Napi::External<CellHandle>::New(info.Env(), h, [](Napi::Env env, CellHandle* p) {
    if (p->w) Napi::MemoryManagement::AdjustExternalMemory(env, -p->bytes);
    delete p;
  });
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes);
  if (napi_type_tag_object(info.Env(), ext, &kCellTag) != napi_ok) throw Napi::Error::New(info.Env(), "cellPrepare: tagging failed");
  return ext;
}

// cellRelease(w): drop the External's reference to the packed weights now (calls in flight keep
// theirs); a later call with w throws. Releasing twice is harmless.
Napi::Value CellRelease(const Napi::CallbackInfo& info) {
  Arg a{info, "cellRelease"};
  CellHandle* h = a.handle(0);
  if (h->w) {
    h->w.reset();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->bytes);
  }
  return info.Env().Undefined();
}

// cellCacheSize(w, T, B) -> floats of the training cache for T x B rows.
Napi::Value CellCacheSize(const Napi::CallbackInfo& info) {
  Arg a{info, "cellCacheSize"};
  const CellRef w = a.cell(0);
  const int64_t T = a.integer(1, 1, kMaxElems), B = a.integer(2, 1, kMaxElems);
  mul_checked(a, mul_checked(a, T, B, "T*B"), 6 * w->cfg.G + 2 * w->cfg.P, "the training cache");
  return Napi::Number::New(info.Env(), static_cast<double>(cell_cache_floats(w->cfg, T, B)));
}

// Test hook (not public API): sgemm(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, beta, C,
// cOff, ldc, packed) runs the library GEMM (packed: pack op(B) first, then sgemm_packed) so the
// mocha suite can check it against a naive product on every ISA tier.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Arg a{info, "sgemm"};
  if (info.Length() != 16) a.type_error(info.Length(), "16 arguments");
  const bool ta = a.boolean(0), tb = a.boolean(1), packed = a.boolean(15);
  const int64_t M = a.integer(2, 0, kMaxElems), N = a.integer(3, 0, kMaxElems), K = a.integer(4, 0, kMaxElems);
  // op(X) is rows x cols; stored as (trans ? cols x rows : rows x cols) with leading dimension ld.
  auto mat = [&](size_t i, bool trans, int64_t rows, int64_t cols, const char* name) -> float* {
    const int64_t sr = trans ? cols : rows, sc = trans ? rows : cols;
    const int64_t off = a.integer(i + 1, 0, kMaxElems), ld = a.integer(i + 2, sc > 0 ? sc : 1, kMaxElems);
    const int64_t need = sr == 0 || sc == 0 ? off : off + mul_checked(a, sr - 1, ld, name) + sc;
    return a.f32(i, need, name) + off;
  };
  const float* A = mat(5, ta, M, K, "A");
  const float* B = mat(8, tb, K, N, "B");
  const double beta = info[11].IsNumber() ? info[11].As<Napi::Number>().DoubleValue() : -1;
  if (beta != 0 && beta != 1) a.range_error("beta: expected 0 or 1");
  float* C = mat(12, false, M, N, "C");
  const int64_t lda = a.integer(7, 0, kMaxElems), ldb = a.integer(10, 0, kMaxElems), ldc = a.integer(14, 0, kMaxElems);
  PoolLease lease;
  if (packed) {
    if (ta) a.range_error("packed: transA is not supported");
    const PackedB pb = pack_b(tb, K, N, B, ldb);
    sgemm_packed(M, N, K, A, lda, pb, static_cast<float>(beta), C, ldc, nullptr, lease.get());
  } else {
    sgemm(ta, tb, M, N, K, A, lda, B, ldb, static_cast<float>(beta), C, ldc, nullptr, lease.get());
  }
  return info.Env().Undefined();
}

// firstNonFinite(a) -> index of the first NaN or ±Inf in the Float32Array a, or -1. The API
// checks every float32 input with it (lib/nn/sequence.ts): a JS loop costs about 1 ns per
// element, 8% of a forward call at M.
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Arg a{info, "firstNonFinite"};
  if (!a.at(0).IsTypedArray() || a.at(0).As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    a.type_error(0, "a Float32Array");
  }
  const auto arr = a.at(0).As<Napi::Float32Array>();
  return Napi::Number::New(info.Env(), static_cast<double>(first_non_finite(arr.Data(), static_cast<int64_t>(arr.ElementLength()))));
}

// fmaPeak(threads) -> GFLOP/s of the FMA probe run on `threads` threads at once (the pool's,
// or a temporary one of that size): the machine's FP32 peak as the benchmark reports it.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Arg a{info, "fmaPeak"};
  const int n = static_cast<int>(a.integer(0, 1, 1024));
  const KernelTable& kt = kernels();
  std::unique_lock<std::mutex> lock(g_pool_mu);
  resize_pool_locked();
  std::unique_ptr<ThreadPool> own;
  ThreadPool* pool = g_pool.get();
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

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  const KernelTable& kt = kernels();
  o.Set("isa", isa_name(kt.isa));
  o.Set("detectedIsa", isa_name(detect_isa()));
  o.Set("threads", g_threads.load());
  o.Set("hardwareThreads", hardware_threads());
  o.Set("blas", info.Env().Null());
  o.Set("warning", dispatch_warning());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Arg a{info, "setThreads"};
  set_threads(static_cast<int>(a.integer(0, 1, 1024)));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kernels();  // fill the dispatch table once, at load
  set_threads(hardware_threads());
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite));
  exports.Set("cellPrepare", Napi::Function::New(env, CellPrepare));
  exports.Set("cellRelease", Napi::Function::New(env, CellRelease));
  exports.Set("cellCacheSize", Napi::Function::New(env, CellCacheSize));
  exports.Set("cellForward", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return sync_call<ForwardCall>(i, "cellForward"); }));
  exports.Set("cellForwardAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return async_call<ForwardCall>(i, "cellForwardAsync"); }));
  exports.Set("cellBackward", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return sync_call<BackwardCall>(i, "cellBackward"); }));
  exports.Set("cellBackwardAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return async_call<BackwardCall>(i, "cellBackwardAsync"); }));
  exports.Set("cellForwardPair", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return sync_call<PairCall<ForwardCall>>(i, "cellForwardPair"); }));
  exports.Set("cellForwardPairAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return async_call<PairCall<ForwardCall>>(i, "cellForwardPairAsync"); }));
  exports.Set("cellBackwardPair", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return sync_call<PairCall<BackwardCall>>(i, "cellBackwardPair"); }));
  exports.Set("cellBackwardPairAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return async_call<PairCall<BackwardCall>>(i, "cellBackwardPairAsync"); }));
  register_optim(env, exports);
  return exports;
}

}  // namespace
}  // namespace cellstate

static Napi::Object InitCellstate(Napi::Env env, Napi::Object exports) { return cellstate::Init(env, exports); }
NODE_API_MODULE(cellstate, InitCellstate)
