// cell_calls.cc - the cell calls of the addon: prepare, release, cache size, forward and backward
// (sync, async on a libuv worker, and pairs), each a descriptor of scripts/addon-schema.js read by
// one Desc (args.h) into the plain C++ calls of cell/cell.h.
//
// Typed arrays are used in place (no copies; byteOffset respected). Async calls run the same
// kernels on a libuv worker thread: the worker holds references to every buffer and shares
// ownership of the packed weights, so they stay alive until the promise settles. A reference does
// not stop JS from detaching or writing a buffer, so lib/ hands async calls only buffers no caller
// can reach (copies made at call time; lib/nn/recurrent.ts).
//
// Packed weights are refcounted: the External owns one reference, each call in flight another.
// cellRelease drops the External's at once, so a training loop that repacks every step and never
// yields to the event loop (where N-API finalizers run) keeps one packed copy, not one per step.
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "calls.h"
#include "pool.h"

namespace cellstate {
namespace {

namespace F = schema::cell_forward;
const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : p == Precision::int8 ? "int8" : "fp32"; }
namespace K = schema::cell_backward;

// A parameter's element count from its declared shape (cell_codes.gen.h), overflow-checked.
int64_t param_elems(const Desc& a, const CellParamSpec& q, const CellConfig& c) {
  const auto dim = [&c](ParamDim d) {
    switch (d) {
      case ParamDim::I: return c.I;
      case ParamDim::H: return c.H;
      case ParamDim::P: return c.P;
      case ParamDim::G: return c.G;
    }
    return int64_t{0};
  };
  return q.rank == 1 ? dim(q.dims[0]) : mul_checked(a, dim(q.dims[0]), dim(q.dims[1]), q.name);
}

const CellParamSpec& param_spec(const CellKindSpec& k, size_t i) {
  return i < kCellParamCount ? kCellParams[i] : k.params[i - kCellParamCount];
}
// Whether the cell has parameter q (always; with a projection or its flag exactly then; optional: may).
bool param_there(const CellParamSpec& q, const CellConfig& c) {
  return q.when == ParamWhen::always || (q.when == ParamWhen::projection && c.P != c.H) || (q.when == ParamWhen::flag && c.has(q.flag));
}
// The rows of a matrix parameter: its shape's first dimension alone.
constexpr CellParamSpec kRowsOf(const CellParamSpec& q) { return {q.name, 1, {q.dims[0], q.dims[0]}, q.when, q.flag}; }

[[noreturn]] void list_count_error(const Desc& a, int b, const CellConfig& c, size_t got) {
  const CellKindSpec& k = cell_kind_spec(c.kind);
  const size_t n = static_cast<size_t>(kCellParamCount + k.n_params);
  std::string names;
  for (size_t i = 0; i < n; ++i) names += (i ? ", " : "") + std::string(param_spec(k, i).name);
  a.type_error(b, "an Array of " + std::to_string(n) + " entries for a " + k.name + " cell (" + names + "), got " + std::to_string(got));
}

// The cell's parameter list - cellPrepare's params, cellBackward's grads - checked once against
// its kind's declaration (scripts/addon-schema.js): the count, which entries are there (always;
// optional: either; with a projection or a flag: exactly then), and their lengths. The pointers in
// order: the kCellParamCount every kind has, then the kind's own (null where absent). With
// `quantized`, every matrix parameter (rank 2) crosses in qparams instead and must be null here.
std::vector<float*> read_params(Desc& a, int b, const CellConfig& c, bool quantized = false) {
  const CellKindSpec& k = cell_kind_spec(c.kind);
  const std::vector<Desc::ListEntry> e = a.cell_params(b);
  const size_t n = static_cast<size_t>(kCellParamCount + k.n_params);
  if (e.size() != n) list_count_error(a, b, c, e.size());
  std::vector<float*> out(n, nullptr);
  for (size_t i = 0; i < n; ++i) {
    const CellParamSpec& q = param_spec(k, i);
    const bool optional = q.when == ParamWhen::optional;
    const bool there = param_there(q, c) && !(quantized && q.rank == 2);
    if (e[i].length == -2) a.entry_type_error(b, i, q.name, "a Float32Array or null");
    if (e[i].length < 0) {
      if (there) a.entry_type_error(b, i, q.name, "a Float32Array");
      continue;
    }
    if (!there && !optional) a.entry_type_error(b, i, q.name, quantized && q.rank == 2 ? "null (a quantized matrix crosses in qparams)" : "null (this cell has none)");
    const int64_t need = param_elems(a, q, c);
    if (e[i].length < need) a.entry_range_error(b, i, q.name, "expected at least " + std::to_string(need) + " elements, got " + std::to_string(e[i].length));
    out[i] = e[i].data;
  }
  return out;
}

// cellPrepare's quantized matrices (qparams, qscales): with a precision other than fp32 each
// matrix parameter the cell has is there in the precision's element type (Uint16Array bf16,
// Int8Array int8) with its rows x cols elements, and for int8 its [rows] scales; every other entry
// null. fp32: both lists null. Pointers in params order (null elsewhere).
std::vector<QWeight> read_qparams(Desc& a, int bq, int bs, const CellConfig& c) {
  const CellKindSpec& k = cell_kind_spec(c.kind);
  const std::vector<Desc::QEntry> e = a.q_params_opt(bq);
  const std::vector<Desc::ListEntry> sc = a.cell_params_opt(bs);
  const size_t n = static_cast<size_t>(kCellParamCount + k.n_params);
  std::vector<QWeight> out(n);
  if (c.precision == Precision::fp32) {
    if (!a.is_null(bq)) a.type_error(bq, "null (fp32 weights cross in params)");
    if (!a.is_null(bs)) a.type_error(bs, "null (fp32 weights have no scales)");
    return out;
  }
  const bool int8 = c.precision == Precision::int8;
  const char* type = int8 ? "an Int8Array (int8)" : "a Uint16Array (bf16)";
  if (a.is_null(bq)) a.type_error(bq, std::string("the quantized matrices (") + type + " for each)");
  if (e.size() != n) list_count_error(a, bq, c, e.size());
  if (int8 && a.is_null(bs)) a.type_error(bs, "the int8 row scales (a Float32Array for each matrix)");
  if (!int8 && !a.is_null(bs)) a.type_error(bs, "null (bf16 weights have no scales)");
  if (int8 && sc.size() != n) list_count_error(a, bs, c, sc.size());
  for (size_t i = 0; i < n; ++i) {
    const CellParamSpec& q = param_spec(k, i);
    const bool there = q.rank == 2 && param_there(q, c);
    if (!there) {
      if (e[i].length != -1) a.entry_type_error(bq, i, q.name, "null (not a matrix of this cell)");
      if (int8 && sc[i].length != -1) a.entry_type_error(bs, i, q.name, "null (not a matrix of this cell)");
      continue;
    }
    if (e[i].length < 0 || e[i].format != static_cast<int>(c.precision)) a.entry_type_error(bq, i, q.name, type);
    const int64_t need = param_elems(a, q, c);
    if (e[i].length < need) a.entry_range_error(bq, i, q.name, "expected at least " + std::to_string(need) + " elements, got " + std::to_string(e[i].length));
    out[i].data = e[i].data;
    if (int8) {
      if (sc[i].length < 0) a.entry_type_error(bs, i, q.name, "a Float32Array (the row scales)");
      const int64_t rows = param_elems(a, kRowsOf(q), c);
      if (sc[i].length < rows) a.entry_range_error(bs, i, q.name, "expected at least " + std::to_string(rows) + " scales, got " + std::to_string(sc[i].length));
      out[i].scale = sc[i].data;
    }
  }
  return out;
}

// The training cache's floats for T x B rows (cell_cache_shape, cell.h), overflow-checked.
int64_t cache_floats_checked(const Desc& a, const CellConfig& c, int64_t T, int64_t B) {
  const CacheShape k = cell_cache_shape(c);
  const int64_t n = mul_checked(a, mul_checked(a, T, B, "T*B"), k.per_row, "the training cache") + mul_checked(a, B, k.per_batch, "the training cache");
  if (n > kMaxElems) a.range_error("the training cache is too large");
  return n;
}

// Sequence layout shared by forward and backward (the same five header fields and `lengths`).
struct SeqArgs {
  SeqDesc seq;
  int64_t max_row = 0;  // largest row index any (t, b) maps to
  std::vector<int32_t> lengths;
};
static_assert(int{F::T} == int{K::T} && int{F::B} == int{K::B} && int{F::rowT} == int{K::rowT} && int{F::rowB} == int{K::rowB} &&
                  int{F::reverse} == int{K::reverse} && int{F::lengths_} == int{K::lengths_},
              "forward and backward declare the sequence fields alike (scripts/addon-schema.js)");
SeqArgs read_seq(Desc& a) {
  SeqArgs s;
  s.seq.T = a.integer(F::T, 1, kMaxElems);
  s.seq.B = a.integer(F::B, 1, kMaxElems);
  const int64_t N = mul_checked(a, s.seq.T, s.seq.B, "T*B");
  s.seq.rowT = a.integer(F::rowT, 0, N);
  s.seq.rowB = a.integer(F::rowB, 0, N);
  s.seq.reverse = a.flag(F::reverse);
  // Only the two layouts lib/ uses: time-major (B, 1) or batch-first (1, T). Both map the T*B
  // (t, b) pairs one-to-one onto rows [0, N), so no two steps (or threads) share a row, and every
  // row buffer must really hold N rows (internal scratch is then bounded by the caller's memory).
  const bool time_major = s.seq.rowT == s.seq.B && s.seq.rowB == 1, batch_first = s.seq.rowT == 1 && s.seq.rowB == s.seq.T;
  if (!time_major && !batch_first) a.range_error("rowT/rowB map rows outside the T*B rows or onto each other: expected (B, 1) or (1, T)");
  s.max_row = N - 1;
  if (a.i32_opt(F::lengths_, s.seq.B, &s.lengths)) {
    for (int32_t v : s.lengths) {
      if (v < 1 || v > s.seq.T) a.range_error("lengths: every entry must be in [1, T]");
    }
    s.seq.lengths = s.lengths.data();
  }
  return s;
}

// A rows buffer (header fields off and ld, buffer b): off + max_row*ld + width elements, ld >= width.
float* rows(Desc& a, int off_f, int ld_f, int b, bool optional, int64_t max_row, int64_t width, int64_t* ld_out) {
  const int64_t off = a.integer(off_f, 0, kMaxElems);
  const int64_t ld = a.integer(ld_f, width, kMaxElems);
  *ld_out = ld;
  const int64_t need = off + mul_checked(a, max_row, ld, a.buffer_name(b)) + width;
  float* p = optional ? a.f32_opt(b, need) : a.f32(b, need);
  return p ? p + off : nullptr;
}

// Everything one forward needs, read from its descriptor (shared by the sync and async calls).
struct ForwardCall {
  static constexpr const schema::CallSpec& kSpec = F::kSpec;
  CellRef w;
  SeqArgs s;
  FwdIO io{};

  explicit ForwardCall(Desc& a) {
    w = a.cell(F::w_);
    s = read_seq(a);
    const CellConfig& c = w->cfg;
    const bool state = cell_kind_spec(c.kind).cell_state;
    const int64_t BP = mul_checked(a, s.seq.B, c.P, "B*P"), BH = mul_checked(a, s.seq.B, c.H, "B*H");
    mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), c.G, "T*B*G (the gate pre-activations)");
    io.x = rows(a, F::xOffset, F::ldx, F::x_, false, s.max_row, c.I, &io.ldx);
    io.y = rows(a, F::yOffset, F::ldy, F::y_, false, s.max_row, c.P, &io.ldy);
    io.h0 = a.f32_opt(F::h0_, BP);
    io.c0 = a.f32_opt(F::c0_, BH);
    if (!state && io.c0) a.type_error(F::c0_, "null (this cell has none)");
    io.hN = a.f32(F::hN_, BP);
    io.cN = a.f32_when(F::cN_, state, BH);
    // A quantized cell runs inference only (training stays fp32).
    if (c.precision != Precision::fp32 && !a.is_null(F::cache_)) a.type_error(F::cache_, std::string("null: a cell quantized by quantize() (") + precision_name(c.precision) + ") runs inference only; train the fp32 model");
    // The cache's size is checked (and its overflow) only when there is one: an inference call.
    io.cache = a.f32_opt(F::cache_, a.is_null(F::cache_) ? 0 : cache_floats_checked(a, c, s.seq.T, s.seq.B));
    a.finish();
  }
  void run(ThreadPool* pool) const { cell_forward(*w, s.seq, io, pool); }
};

struct BackwardCall {
  static constexpr const schema::CallSpec& kSpec = K::kSpec;
  CellRef w;
  SeqArgs s;
  BwdIO g{};

  explicit BackwardCall(Desc& a) {
    w = a.cell(K::w_);
    s = read_seq(a);
    const CellConfig& c = w->cfg;
    const bool state = cell_kind_spec(c.kind).cell_state;
    if (c.precision != Precision::fp32) a.type_error(K::w_, std::string("fp32 cell weights: a cell quantized by quantize() (") + precision_name(c.precision) + ") runs inference only; train the fp32 model");
    // The list first: fetching its entries may run JS, which must not run after a pointer is taken.
    const std::vector<float*> d = read_params(a, K::grads_, c);
    g.dw_ih = d[0];
    g.dw_hh = d[1];
    g.db_ih = d[2];
    g.db_hh = d[3];
    g.dextra.assign(d.begin() + kCellParamCount, d.end());
    const int64_t BP = mul_checked(a, s.seq.B, c.P, "B*P"), BH = mul_checked(a, s.seq.B, c.H, "B*H");
    mul_checked(a, mul_checked(a, s.seq.T, s.seq.B, "T*B"), c.G, "T*B*G (the gate pre-activations)");
    g.x = rows(a, K::xOffset, K::ldx, K::x_, false, s.max_row, c.I, &g.ldx);
    g.cache = a.f32(K::cache_, cache_floats_checked(a, c, s.seq.T, s.seq.B));
    g.dy = rows(a, K::dyOffset, K::lddy, K::dy_, true, s.max_row, c.P, &g.lddy);
    g.dhN = a.f32_opt(K::dhN_, BP);
    g.dcN = a.f32_opt(K::dcN_, BH);
    if (!state && g.dcN) a.type_error(K::dcN_, "null (this cell has none)");
    g.dx = rows(a, K::dxOffset, K::lddx, K::dx_, true, s.max_row, c.I, &g.lddx);
    g.dh0 = a.f32(K::dh0_, BP);
    g.dc0 = a.f32_when(K::dc0_, state, BH);
    a.finish();
  }
  void run(ThreadPool* pool) const { cell_backward(*w, s.seq, g, pool); }
};

// One call: one descriptor at argument 0.
template <typename Call>
struct Single {
  Call call;
  static size_t args() { return static_cast<size_t>(Call::kSpec.args()); }
  static Call read(const Napi::CallbackInfo& info, const char* fn, size_t base) {
    Desc d(info, fn, Call::kSpec, base);
    return Call(d);
  }
  Single(const Napi::CallbackInfo& info, const char* fn) : call(read(info, fn, 0)) {}
  void run(ThreadPool* pool) const { call.run(pool); }
};

// Two independent calls (the directions of a bidirectional layer), two descriptors back to back:
// with a pool of 2+ threads each runs single-threaded on its own thread, so the directions need
// no per-step synchronisation; otherwise one after the other with whatever pool there is.
template <typename Call>
struct Pair {
  Call a, b;
  static size_t args() { return 2 * Single<Call>::args(); }
  Pair(const Napi::CallbackInfo& info, const char* fn)
      : a(Single<Call>::read(info, fn, 0)), b(Single<Call>::read(info, fn, Single<Call>::args())) {}
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
  check_count(info, fn, Call::args());
  Call call(info, fn);
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
  check_count(info, fn, Call::args());
  Call call(info, fn);  // every check before a worker exists (moved: SeqDesc points into SeqArgs::lengths)
  auto* worker = new CallWorker<Call>(info, std::move(call));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace

Napi::Value CellPrepare(const Napi::CallbackInfo& info) {
  namespace S = schema::cell_prepare;
  check_count(info, "cellPrepare", static_cast<size_t>(S::kSpec.args()));
  Desc a(info, "cellPrepare", S::kSpec);
  CellConfig c;
  c.kind = static_cast<CellKind>(a.integer(S::kind, 0, kCellKinds - 1));
  const CellKindSpec& k = cell_kind_spec(c.kind);
  c.I = a.integer(S::I, 1, kMaxElems);
  c.H = a.integer(S::H, 1, kMaxElems);
  const int64_t proj = a.integer(S::P, 0, k.projection ? c.H - 1 : 0);
  c.P = proj ? proj : c.H;
  c.flags = a.integer(S::flags, 0, k.flags_all);  // the kind's bits are 1, 2, 4, ...: every value up to all of them
  const double clip = a.number(S::clip);
  // The largest finite float32, as lib/nn/recurrent.ts checks it: both backends take the same clips.
  if (!(clip >= 0 && clip <= std::numeric_limits<float>::max())) a.range_error("clip: expected 0 (none) or a positive finite number <= 3.4028234663852886e38");
  c.clip = static_cast<float>(clip);
  c.G = mul_checked(a, cell_gates(c.kind), c.H, "G");
  c.precision = static_cast<Precision>(a.integer(S::precision, 0, kPrecisions - 1));
  {
    double codes[3], alphas[3], betas[3];
    for (int s = 0; s < 3; ++s) {
      codes[s] = static_cast<double>(a.integer(S::act0 + 3 * s, 0, kActs - 1));
      alphas[s] = a.number(S::alpha0 + 3 * s);
      betas[s] = a.number(S::beta0 + 3 * s);
    }
    if (const char* e = cell_set_acts(c, codes, alphas, betas)) a.range_error(e);
  }
  const bool quantized = c.precision != Precision::fp32;
  const std::vector<float*> p = read_params(a, S::params_, c, quantized);
  const std::vector<QWeight> q = read_qparams(a, S::qparams_, S::qscales_, c);
  a.finish();
  CellWeights in{p[0], p[1], p[2], p[3], std::vector<const float*>(p.begin() + kCellParamCount, p.end()),
                 q[0], q[1], std::vector<QWeight>(q.begin() + kCellParamCount, q.end())};
  std::unique_ptr<CellPacked> w;
  try {
    w = cell_prepare(c, in);
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "cellPrepare: out of memory");
  }
  const int64_t bytes = w->packed_bytes;
  auto* h = new CellHandle{CellRef(std::move(w)), bytes};
  auto ext = Napi::External<CellHandle>::New(info.Env(), h, [](Napi::Env env, CellHandle* p) {
    if (p->w) Napi::MemoryManagement::AdjustExternalMemory(env, -p->bytes);
    delete p;
  });
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes);
  if (napi_type_tag_object(info.Env(), ext, &kCellTag) != napi_ok) throw Napi::Error::New(info.Env(), "cellPrepare: tagging failed");
  return ext;
}

Napi::Value CellRelease(const Napi::CallbackInfo& info) {
  namespace S = schema::cell_release;
  check_count(info, "cellRelease", static_cast<size_t>(S::kSpec.args()));
  Desc a(info, "cellRelease", S::kSpec);
  CellHandle* h = a.handle(S::w_);
  a.finish();
  if (h->w) {
    h->w.reset();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->bytes);
  }
  return info.Env().Undefined();
}

// The exact count, as a double even past kMaxElems (lib/ checks it against its own size limit
// before allocating, with its own error); only sizes beyond int64 arithmetic throw here.
Napi::Value CellCacheSize(const Napi::CallbackInfo& info) {
  namespace S = schema::cell_cache_size;
  check_count(info, "cellCacheSize", static_cast<size_t>(S::kSpec.args()));
  Desc a(info, "cellCacheSize", S::kSpec);
  const CellRef w = a.cell(S::w_);
  const int64_t T = a.integer(S::T, 1, kMaxElems), B = a.integer(S::B, 1, kMaxElems);
  a.finish();
  const CacheShape k = cell_cache_shape(w->cfg);
  return Napi::Number::New(info.Env(), static_cast<double>(T) * static_cast<double>(B) * static_cast<double>(k.per_row) +
                                           static_cast<double>(B) * static_cast<double>(k.per_batch));
}

Napi::Value CellForward(const Napi::CallbackInfo& i) { return sync_call<Single<ForwardCall>>(i, "cellForward"); }
Napi::Value CellForwardAsync(const Napi::CallbackInfo& i) { return async_call<Single<ForwardCall>>(i, "cellForwardAsync"); }
Napi::Value CellBackward(const Napi::CallbackInfo& i) { return sync_call<Single<BackwardCall>>(i, "cellBackward"); }
Napi::Value CellBackwardAsync(const Napi::CallbackInfo& i) { return async_call<Single<BackwardCall>>(i, "cellBackwardAsync"); }
Napi::Value CellForwardPair(const Napi::CallbackInfo& i) { return sync_call<Pair<ForwardCall>>(i, "cellForwardPair"); }
Napi::Value CellForwardPairAsync(const Napi::CallbackInfo& i) { return async_call<Pair<ForwardCall>>(i, "cellForwardPairAsync"); }
Napi::Value CellBackwardPair(const Napi::CallbackInfo& i) { return sync_call<Pair<BackwardCall>>(i, "cellBackwardPair"); }
Napi::Value CellBackwardPairAsync(const Napi::CallbackInfo& i) { return async_call<Pair<BackwardCall>>(i, "cellBackwardPairAsync"); }

}  // namespace cellstate
