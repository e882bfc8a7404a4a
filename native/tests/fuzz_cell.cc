// fuzz_cell.cc - a libFuzzer harness for the C++ entry points below N-API: cell_prepare,
// cell_forward and cell_backward (every cell kind and option, the fused LSTM path and the generic
// one, fp32 and - inference - bf16 / int8 quantized weights, time-major and batch-first rows, strides and offsets, variable lengths, reverse, threaded
// or not) and sgemm / sgemm_packed with random shapes, transposes and leading dimensions.
//
// The input bytes are read as a small program of sizes and flags (FuzzInput); values are derived
// from a seed in the input, so the fuzzer explores shapes, not floats. Every buffer is allocated
// to exactly the extent the documented contract allows (cell.h, gemm.h), so AddressSanitizer sees
// any read or write past it; gaps inside strided buffers hold a NaN sentinel that must survive,
// outputs must be finite (inputs are bounded), padded rows must be 0, and sgemm must match a
// double-precision naive product. A violated property calls __builtin_trap().
//
// Built by native/tests/run_fuzz.sh: with clang, as a libFuzzer binary (-fsanitize=fuzzer);
// without it, with -DCELLSTATE_FUZZ_STANDALONE, whose main() feeds seeded random inputs for a time
// budget (same properties, no coverage guidance). It does not exercise native/napi/ (the N-API layer,
// whose descriptor reader is fuzzed from JS with hostile descriptors: test/fuzz.test.mjs) and does not check numerical agreement with the ts backend.
//
// Async calls as native/napi/cell_calls.cc runs them: with the `async` flag the backward runs on its own thread
// (the libuv worker) holding a shared reference to the packed weights, while this thread drops the
// other reference (cellRelease: an optimizer step repacking the weights) and runs a forward of
// its own without the pool (a call that did not get the pool lease). ASan sees a use after free if
// the weights do not outlive the call; TSan sees any race between the two calls.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "../cell/cell.h"
#include "../gemm/gemm.h"
#include "../threadpool.h"

using namespace cellstate;

namespace {

// Reads bytes as bounded integers; past the end it yields zeros (libFuzzer shrinks inputs).
struct FuzzInput {
  const uint8_t* p;
  size_t n;
  size_t i = 0;
  uint32_t byte() { return i < n ? p[i++] : 0; }
  int64_t range(int64_t lo, int64_t hi) {  // [lo, hi]
    const uint32_t v = byte() | (byte() << 8);
    return lo + static_cast<int64_t>(v % static_cast<uint32_t>(hi - lo + 1));
  }
  bool flag() { return byte() & 1; }
};

const uint32_t kSentinelBits = 0x7fc0beef;
float sentinel() { float f; std::memcpy(&f, &kSentinelBits, 4); return f; }
bool is_sentinel(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u == kSentinelBits; }

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_cell: property violated: %s\n", what);
    __builtin_trap();
  }
}

// An exactly-sized heap buffer (no slack), filled with sentinels or values.
struct Buf {
  std::unique_ptr<float[]> d;
  int64_t n = 0;
  explicit Buf(int64_t count) : d(new float[static_cast<size_t>(std::max<int64_t>(count, 1))]), n(count) {
    for (int64_t i = 0; i < std::max<int64_t>(n, 1); ++i) d[i] = sentinel();
  }
  float* get() { return d.get(); }
};

std::mt19937 g_vals;
float val() { return std::uniform_real_distribution<float>(-1.f, 1.f)(g_vals); }
void fill(float* p, int64_t n) { for (int64_t i = 0; i < n; ++i) p[i] = val(); }

// Rows r < N of `width` floats at offset off, stride ld: the region a kernel may touch.
struct Rows {
  Buf b;
  int64_t off, ld, width, N;
  Rows(int64_t N_, int64_t width_, int64_t off_, int64_t ld_) : b(off_ + (N_ - 1) * ld_ + width_), off(off_), ld(ld_), width(width_), N(N_) {}
  float* row0() { return b.get() + off; }
  void fill_values() { for (int64_t r = 0; r < N; ++r) fill(row0() + r * ld, width); }
  void fill_zero() { for (int64_t r = 0; r < N; ++r) std::memset(row0() + r * ld, 0, width * sizeof(float)); }
  bool gaps_intact() const {
    for (int64_t i = 0; i < b.n; ++i) {
      const int64_t q = i - off;
      const bool inside = q >= 0 && q / ld < N && q % ld < width;
      if (!inside && !is_sentinel(b.d[i])) return false;
    }
    return true;
  }
  bool finite_inside() const {
    for (int64_t r = 0; r < N; ++r) for (int64_t j = 0; j < width; ++j) if (!std::isfinite(b.d[off + r * ld + j])) return false;
    return true;
  }
};

bool all_finite(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) if (!std::isfinite(p[i])) return false;
  return true;
}

// The low-precision contract's weight quantization (docs/equations.md, "Low precision"), for a
// quantized cell: bf16 round-to-nearest-even of the bit pattern; int8 per row, symmetric.
uint16_t bf16_rne(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
// Exactly-sized quantized copies of W [rows, cols] (AddressSanitizer sees a read past them).
struct QBuf {
  std::unique_ptr<uint16_t[]> b16;
  std::unique_ptr<int8_t[]> i8;
  std::unique_ptr<float[]> scale;
  QWeight weight(Precision p, const float* w, int64_t rows, int64_t cols) {
    const int64_t n = std::max<int64_t>(rows * cols, 1);
    if (p == Precision::bf16) {
      b16.reset(new uint16_t[static_cast<size_t>(n)]);
      for (int64_t i = 0; i < rows * cols; ++i) b16[i] = bf16_rne(w[i]);
      return {b16.get(), nullptr};
    }
    i8.reset(new int8_t[static_cast<size_t>(n)]);
    scale.reset(new float[static_cast<size_t>(std::max<int64_t>(rows, 1))]);
    for (int64_t j = 0; j < rows; ++j) {
      float amax = 0.f;
      for (int64_t k = 0; k < cols; ++k) amax = std::max(amax, std::fabs(w[j * cols + k]));
      const float inv = amax == 0.f ? 0.f : 127.f / amax;
      scale[j] = amax == 0.f ? 1.f : amax / 127.f;
      for (int64_t k = 0; k < cols; ++k) i8[j * cols + k] = static_cast<int8_t>(std::max(-127.f, std::min(127.f, std::nearbyint(w[j * cols + k] * inv))));
    }
    return {i8.get(), scale.get()};
  }
};

ThreadPool& pool2() {
  static ThreadPool pool(2);
  return pool;
}

void fuzz_cell(FuzzInput& in) {
  CellConfig c;
  // Mostly small cells of any kind. One case in four is big: H large enough, and rows enough, for
  // a team of threads to split the steps by hidden units, always threaded, and half of those a
  // plain LSTM, the fused path whose forward and backward run as teams (lstm/lstm_forward.cc).
  const uint32_t first = in.byte();
  const bool big = (first & 3) == 0;
  const bool plain = big && in.flag();
  c.kind = plain ? CellKind::lstm : static_cast<CellKind>(in.range(0, 3));
  const bool lstm = c.kind == CellKind::lstm;
  c.I = in.range(1, 40);
  c.H = big ? in.range(65, 140) : in.range(1, 40);
  c.P = lstm && !plain && c.H > 1 && in.flag() ? in.range(1, c.H - 1) : c.H;
  const bool peephole = lstm && !plain && in.flag();
  if (peephole) c.flags |= lstm_kind::kPeephole;
  if (lstm && !plain && in.flag()) c.flags |= lstm_kind::kInputForget;
  if (in.flag() && c.kind == CellKind::gru) c.flags |= gru_kind::kLinearBeforeReset;
  c.clip = !plain && in.flag() ? static_cast<float>(in.range(1, 40)) / 8.f : 0.f;
  c.G = cell_gates(c.kind) * c.H;
  SeqDesc s;
  s.T = in.range(1, 12);
  s.B = big ? in.range(16, 24) : in.range(1, 9);  // big: rows enough to split the backward too
  const bool batch_first = in.flag();
  s.rowT = batch_first ? 1 : s.B;
  s.rowB = batch_first ? s.T : 1;
  s.reverse = in.flag();
  std::vector<int32_t> lengths;
  if (in.flag()) {
    for (int64_t b = 0; b < s.B; ++b) lengths.push_back(static_cast<int32_t>(in.range(1, s.T)));
    s.lengths = lengths.data();
  }
  const bool train = in.flag(), threaded = in.flag() || big, with_h0 = in.flag(), with_bias = in.flag();
  // Inference may run quantized (bf16 / int8 matrices, no fp32 ones), chosen by the first byte's
  // upper bits, so every byte keeps its meaning for an existing corpus.
  c.precision = train ? Precision::fp32 : static_cast<Precision>((first >> 2) % kPrecisions);
  const bool quant = c.quantized();
  const int64_t N = s.T * s.B, I = c.I, H = c.H, P = c.P, G = c.G;
  if (std::getenv("FUZZ_CELL_VERBOSE")) {
    std::fprintf(stderr, "cell kind=%d precision=%d I=%lld H=%lld P=%lld flags=%lld clip=%g T=%lld B=%lld batch_first=%d reverse=%d lengths=%d train=%d threaded=%d h0=%d bias=%d plain=%d\n",
                 static_cast<int>(c.kind), static_cast<int>(c.precision), (long long)I, (long long)H, (long long)P, (long long)c.flags, c.clip,
                 (long long)s.T, (long long)s.B, batch_first, s.reverse, s.lengths != nullptr, train, threaded, with_h0, with_bias, plain);
  }
  g_vals.seed(static_cast<uint32_t>(in.range(0, 65535)));

  // Weights exactly sized (cell_prepare reads them once).
  Buf wih(G * I), whh(G * P), bih(G), bhh(G), whr(P * H), pi(H), pf(H), po(H);
  fill(wih.get(), G * I); fill(whh.get(), G * P); fill(bih.get(), G); fill(bhh.get(), G);
  fill(whr.get(), P * H); fill(pi.get(), H); fill(pf.get(), H); fill(po.get(), H);
  // The kind's own parameters in its declared order (cell_codes.gen.h): the LSTM's weight_hr, peephole_{i,f,o}.
  std::vector<const float*> extra;
  if (lstm) extra = {P != H ? whr.get() : nullptr, peephole ? pi.get() : nullptr, peephole ? pf.get() : nullptr, peephole ? po.get() : nullptr};
  CellWeights cw{wih.get(), whh.get(), with_bias ? bih.get() : nullptr, with_bias ? bhh.get() : nullptr, extra, {}, {}, {}};
  QBuf qih, qhh, qhr;
  if (quant) {  // the matrices only quantized, the fp32 ones absent (cell.h CellWeights)
    cw.w_ih = cw.w_hh = nullptr;
    cw.q_ih = qih.weight(c.precision, wih.get(), G, I);
    cw.q_hh = qhh.weight(c.precision, whh.get(), G, P);
    cw.qextra.assign(extra.size(), QWeight{});
    if (lstm && P != H) {
      cw.extra[lstm_kind::weight_hr] = nullptr;
      cw.qextra[lstm_kind::weight_hr] = qhr.weight(c.precision, whr.get(), P, H);
    }
  }
  std::shared_ptr<const CellPacked> w = cell_prepare(c, cw);
  ThreadPool* pool = threaded ? &pool2() : nullptr;

  Rows x(N, I, in.range(0, 3), I + in.range(0, 3));
  Rows y(N, P, in.range(0, 3), P + in.range(0, 3));
  x.fill_values();
  Buf h0(s.B * P), c0(s.B * H), hN(s.B * P), cN(s.B * H);
  fill(h0.get(), s.B * P); fill(c0.get(), s.B * H);
  const int64_t cache_n = train ? cell_cache_floats(c, s.T, s.B) : 0;
  Buf cache(cache_n);
  FwdIO io{x.row0(), x.ld, y.row0(), y.ld, with_h0 ? h0.get() : nullptr, with_h0 && lstm ? c0.get() : nullptr,
           hN.get(), lstm ? cN.get() : nullptr, train ? cache.get() : nullptr};
  cell_forward(*w, s, io, pool);
  check(y.gaps_intact(), "forward wrote between or around the y rows");
  check(x.gaps_intact(), "forward wrote into x");
  check(y.finite_inside(), "forward: non-finite output");
  check(all_finite(hN.get(), s.B * P), "forward: non-finite hN");
  for (int64_t b = 0; b < s.B; ++b) {
    const int64_t len = s.lengths ? s.lengths[b] : s.T;
    for (int64_t t = len; t < s.T; ++t) {
      const float* row = y.row0() + (t * s.rowT + b * s.rowB) * y.ld;
      for (int64_t j = 0; j < P; ++j) check(row[j] == 0.f, "forward: a padded output row is not 0");
    }
  }
  if (!train) return;

  Rows dy(N, P, in.range(0, 3), P + in.range(0, 3));
  Rows dx(N, I, in.range(0, 3), I + in.range(0, 3));
  dy.fill_values();
  dx.fill_zero();
  Buf dhN(s.B * P), dcN(s.B * H), dh0(s.B * P), dc0(s.B * H);
  fill(dhN.get(), s.B * P); fill(dcN.get(), s.B * H);
  Buf dwih(G * I), dwhh(G * P), dbih(G), dbhh(G), dwhr(P * H), dpi(H), dpf(H), dpo(H);
  for (Buf* g : {&dwih, &dwhh, &dbih, &dbhh, &dwhr, &dpi, &dpf, &dpo}) std::memset(g->get(), 0, g->n * sizeof(float));
  const bool with_dy = in.flag(), with_dhN = in.flag(), with_dx = in.flag(), async_call = in.flag();
  BwdIO g{x.row0(), x.ld, cache.get(), with_dy ? dy.row0() : nullptr, dy.ld, with_dhN ? dhN.get() : nullptr,
          with_dhN && lstm ? dcN.get() : nullptr, with_dx ? dx.row0() : nullptr, dx.ld, dh0.get(), lstm ? dc0.get() : nullptr,
          dwih.get(), dwhh.get(), with_bias ? dbih.get() : nullptr, with_bias ? dbhh.get() : nullptr, {}};
  if (lstm) g.dextra = {P != H ? dwhr.get() : nullptr, peephole ? dpi.get() : nullptr, peephole ? dpf.get() : nullptr, peephole ? dpo.get() : nullptr};
  if (async_call) {
    std::shared_ptr<const CellPacked> held = w;  // the worker's reference (CallWorker's call)
    std::thread worker([&g, &s, pool, held] { cell_backward(*held, s, g, pool); });
    w.reset();  // cellRelease while the call runs: the worker's reference keeps the weights alive
    Buf x2(I), y2(P), h2(P), c2(H);
    fill(x2.get(), I);
    SeqDesc one;
    one.T = 1; one.B = 1; one.rowT = 1; one.rowB = 1;
    std::unique_ptr<CellPacked> other = cell_prepare(c, CellWeights{wih.get(), whh.get(), nullptr, nullptr, extra, {}, {}, {}});
    cell_forward(*other, one, FwdIO{x2.get(), I, y2.get(), P, nullptr, nullptr, h2.get(), lstm ? c2.get() : nullptr, nullptr}, nullptr);
    check(all_finite(y2.get(), P), "forward beside an async backward: non-finite output");
    worker.join();
  } else {
    cell_backward(*w, s, g, pool);
  }
  check(dx.gaps_intact(), "backward wrote between or around the dx rows");
  check(dy.gaps_intact(), "backward wrote into dy");
  if (with_dx) check(dx.finite_inside(), "backward: non-finite dx");
  check(all_finite(dh0.get(), s.B * P), "backward: non-finite dh0");
  check(all_finite(dwih.get(), G * I) && all_finite(dwhh.get(), G * P), "backward: non-finite weight gradients");
}

void fuzz_gemm(FuzzInput& in) {
  const bool ta = in.flag(), tb = in.flag(), packed = !ta && in.flag(), threaded = in.flag();
  const int64_t M = in.range(0, 70), N = in.range(0, 70), K = in.range(0, 300);
  const float beta = in.flag() ? 1.f : 0.f;
  g_vals.seed(static_cast<uint32_t>(in.range(0, 65535)));
  const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  const int64_t lda = std::max<int64_t>(ac, 1) + in.range(0, 3), ldb = std::max<int64_t>(bc, 1) + in.range(0, 3), ldc = std::max<int64_t>(N, 1) + in.range(0, 3);
  Buf A(ar && ac ? (ar - 1) * lda + ac : 0), B(br && bc ? (br - 1) * ldb + bc : 0), C(M && N ? (M - 1) * ldc + N : 0);
  fill(A.get(), A.n); fill(B.get(), B.n);
  for (int64_t i = 0; i < M; ++i) for (int64_t j = 0; j < N; ++j) C.d[i * ldc + j] = beta == 0.f ? std::nanf("") : 0.5f;
  ThreadPool* pool = threaded ? &pool2() : nullptr;
  if (packed) {
    const PackedB pb = pack_b(tb, K, N, B.get(), ldb);
    if (!pb.ok()) return;
    sgemm_packed(M, N, K, A.get(), lda, pb, beta, C.get(), ldc, nullptr, pool);
  } else {
    sgemm(ta, tb, M, N, K, A.get(), lda, B.get(), ldb, beta, C.get(), ldc, nullptr, pool);
  }
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double want = beta == 0.f ? 0.0 : 0.5;
      for (int64_t k = 0; k < K; ++k) {
        want += static_cast<double>(ta ? A.d[k * lda + i] : A.d[i * lda + k]) * (tb ? B.d[j * ldb + k] : B.d[k * ldb + j]);
      }
      const float got = C.d[i * ldc + j];
      check(std::fabs(got - want) <= 1e-5 * std::sqrt(static_cast<double>(K) + 1) * (1 + std::fabs(want)) * 4, "sgemm differs from the naive product");
    }
    for (int64_t j = N; N > 0 && i < M - 1 && j < ldc; ++j) check(is_sentinel(C.d[i * ldc + j]), "sgemm wrote between C rows");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in{data, size};
  if (in.flag()) fuzz_gemm(in);
  else fuzz_cell(in);
  return 0;
}

#ifdef CELLSTATE_FUZZ_STANDALONE
// Without libFuzzer: seeded random inputs for a time budget. Usage: fuzz_cell [seconds] [seed]
int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  std::mt19937_64 rng(argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<uint8_t> bytes(96);
  int64_t runs = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++runs;
  }
  std::printf("fuzz_cell (standalone): %lld inputs, no property violated\n", static_cast<long long>(runs));
  return 0;
}
#endif
