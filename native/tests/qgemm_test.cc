// qgemm_test.cc - the quantized GEMM (gemm/qgemm.h) of the active tier against a plain scalar
// evaluation of the low-precision contract (docs/equations.md, "Low precision"), written here
// independently of the kernels: bf16 rounding by an explicit halfway test, int8 rounding by
// std::nearbyint, int64 sums. int8 must match bit for bit on every tier; bf16 bit for bit on the
// widening tiers (one fp32 FMA per k, in k order) and within the fp32 accumulation-order bound
// on avx512_bf16 (vdpbf16ps). Edge sizes: K odd / not a multiple of 4 / 0 / 1, N off nr, M off
// mr, row strides with padding, sentinels around C, beta 0 (NaN in C) and 1, a column subset
// of panels, permuted packing, threads. Linked into gemm_test (run_gemm_test.sh runs every tier).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../cpu/cpu_features.h"
#include "../cpu/dispatch.h"
#include "../gemm/gemm.h"
#include "../gemm/qgemm.h"
#include "../gemm/qpack.h"
#include "../threadpool.h"

using namespace cellstate;

void qgemm_fail(const std::string& what);  // gemm_test.cc
void qgemm_check();                        // gemm_test.cc: counts one check

namespace {

std::mt19937_64 q_rng(777);
float qrand(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(q_rng); }

uint32_t bits(float x) { uint32_t u; std::memcpy(&u, &x, 4); return u; }
float from_bits(uint32_t u) { float x; std::memcpy(&x, &u, 4); return x; }
const uint32_t kSent = 0x7fc0beefu;
bool is_sent(float x) { return bits(x) == kSent; }

// Reference bf16 rounding of a finite float: keep the high half, round up past half or at exactly
// half when the kept half is odd.
uint16_t ref_bf16(float x) {
  const uint32_t u = bits(x);
  uint32_t hi = u >> 16;
  const uint32_t rem = u & 0xFFFFu;
  if (rem > 0x8000u || (rem == 0x8000u && (hi & 1u))) ++hi;
  return static_cast<uint16_t>(hi);
}
float bf16_val(uint16_t b) { return from_bits(static_cast<uint32_t>(b) << 16); }

// Reference int8 rule for one row.
float ref_quant_i8(const float* x, int64_t k, int8_t* q) {
  float amax = 0.f;
  for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.f) {
    for (int64_t i = 0; i < k; ++i) q[i] = 0;
    return 1.f;
  }
  const float s = amax / 127.f, inv = 127.f / amax;
  for (int64_t i = 0; i < k; ++i) {
    volatile float p = x[i] * inv;
    const float t = std::nearbyint(p);
    q[i] = static_cast<int8_t>(std::min(127.f, std::max(-127.f, t)));
  }
  return s;
}

struct Case {
  int64_t M, N, K, lda_pad, ldc_pad;
  float beta;
  bool bias;
  int64_t q0, q1;  // panel range (q1 < 0: all)
  bool perm;
  float amp;       // activation amplitude
};

void run_case(QFormat fmt, const Case& cs, ThreadPool* pool, const char* tag) {
  const int64_t M = cs.M, N = cs.N, K = cs.K, lda = K + cs.lda_pad, ldc = N + cs.ldc_pad;
  std::vector<float> A(static_cast<size_t>(M > 0 ? (M - 1) * lda + K : 0), from_bits(kSent));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) A[static_cast<size_t>(i * lda + k)] = qrand(-cs.amp, cs.amp) * (i % 3 == 2 ? 0.01f : 1.f);
  // Weights W [N, K] (row j = output column j), quantized by the reference.
  std::vector<float> W(static_cast<size_t>(N * K));
  for (auto& w : W) w = qrand(-0.5f, 0.5f);
  if (N > 2 && K > 0) for (int64_t k = 0; k < K; ++k) W[static_cast<size_t>(1 * K + k)] = 0.f;  // an all-zero row
  std::vector<uint16_t> wb(W.size());
  std::vector<int8_t> wq(W.size());
  std::vector<float> sw(static_cast<size_t>(N));
  for (size_t i = 0; i < W.size(); ++i) wb[i] = ref_bf16(W[i]);
  for (int64_t j = 0; j < N; ++j) sw[static_cast<size_t>(j)] = ref_quant_i8(W.data() + j * K, K, wq.data() + j * K);
  std::vector<float> bias(static_cast<size_t>(N));
  for (auto& b : bias) b = qrand(-1.f, 1.f);
  // Optional permutation: packed column j is W row perm[j] (reversed), as the fused LSTM's gate interleave.
  std::vector<int32_t> perm(static_cast<size_t>(N));
  for (int64_t j = 0; j < N; ++j) perm[static_cast<size_t>(j)] = static_cast<int32_t>(cs.perm ? N - 1 - j : j);
  PackedQ B = fmt == QFormat::bf16 ? pack_q_bf16(K, N, wb.data(), K, cs.perm ? perm.data() : nullptr)
                                   : pack_q_i8(K, N, wq.data(), K, sw.data(), cs.perm ? perm.data() : nullptr);
  const int64_t q0 = cs.q1 < 0 ? 0 : cs.q0, q1 = cs.q1 < 0 ? B.num_panels() : cs.q1;
  const int64_t j0 = q0 * B.nr, j1 = std::min(N, q1 * B.nr);

  std::vector<float> C(static_cast<size_t>(M > 0 ? (M - 1) * ldc + N : 0), from_bits(kSent));
  std::vector<float> C0(C.size());
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = j0; j < j1; ++j) C[static_cast<size_t>(i * ldc + j)] = cs.beta == 0.f ? std::nanf("") : qrand(-1.f, 1.f);
  C0 = C;
  const bool ok = qgemm_packed_panels(M, K, A.data(), lda, B, q0, q1, cs.beta, C.data(), ldc,
                                      cs.bias ? bias.data() : nullptr, pool);
  qgemm_check();
  if (!ok) { qgemm_fail(std::string(tag) + ": qgemm_packed_panels refused"); return; }

  const bool exact_bf16 = kernels().qgemm.a_bf16 == QuantA::f32;  // widening tiers: one FMA per k in k order
  std::vector<int8_t> qa(static_cast<size_t>(K));
  int64_t bad = 0;
  char msg[320] = "";
  for (int64_t i = 0; i < M; ++i) {
    const float* a = A.data() + i * lda;
    const float sa = fmt == QFormat::int8 ? ref_quant_i8(a, K, qa.data()) : 0.f;
    for (int64_t j = 0; j < N; ++j) {
      const size_t ci = static_cast<size_t>(i * ldc + j);
      const float got = C[ci];
      if (j < j0 || j >= j1) {
        if (!is_sent(got) && bad++ == 0) std::snprintf(msg, sizeof msg, "column %lld outside the panels written", (long long)j);
        continue;
      }
      const int64_t r = perm[static_cast<size_t>(j)];  // W row of packed column j
      float want;
      double tol = 0.0;
      if (fmt == QFormat::bf16) {
        float acc = 0.f;
        double mag = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          const float p = bf16_val(ref_bf16(a[k])) * bf16_val(wb[static_cast<size_t>(r * K + k)]);  // exact in fp32
          acc = acc + p;
          mag += std::fabs(static_cast<double>(p));
        }
        want = acc;
        if (!exact_bf16) tol = (static_cast<double>(K) + 2.0) * std::ldexp(1.0, -23) * mag + 1e-30;
      } else {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += static_cast<int64_t>(qa[static_cast<size_t>(k)]) * wq[static_cast<size_t>(r * K + k)];
        volatile float s = sa * sw[static_cast<size_t>(r)];  // volatile: rounded, never fused with an add
        volatile float y = static_cast<float>(static_cast<int32_t>(acc)) * s;
        want = y;
      }
      // The adds of C and bias: a dot product that differs in its last bits can round each sum to
      // the neighbouring float, so each add may differ by one ulp of its own result.
      double adds = 0.0;
      if (cs.beta != 0.f) want = want + C0[ci], adds += std::fabs(static_cast<double>(want));
      if (cs.bias) want = want + bias[static_cast<size_t>(j)], adds += std::fabs(static_cast<double>(want));
      if (tol > 0.0) tol += 2.0 * std::ldexp(adds, -23);
      const bool good = tol == 0.0 ? bits(got) == bits(want) : std::fabs(static_cast<double>(got) - want) <= tol;
      if (!good && bad++ == 0)
        std::snprintf(msg, sizeof msg, "C(%lld,%lld) = %.9g, want %.9g (tol %.3g)", (long long)i, (long long)j, got, want, tol);
    }
  }
  if (bad) {
    char head[200];
    std::snprintf(head, sizeof head, "%s %s M=%lld N=%lld K=%lld beta=%g bias=%d panels [%lld,%lld) perm=%d: %lld bad, first ",
                  tag, fmt == QFormat::bf16 ? "bf16" : "int8", (long long)M, (long long)N, (long long)K, cs.beta, cs.bias,
                  (long long)q0, (long long)q1, cs.perm, (long long)bad);
    qgemm_fail(std::string(head) + msg);
  }
}

// The activation quantizers against the reference rules (every format of the tier).
void test_quantizers() {
  const QGemmKernel& g = kernels().qgemm;
  for (int64_t k : {0, 1, 2, 3, 4, 5, 7, 8, 31, 33, 100, 300, 901}) {
    std::vector<float> x(static_cast<size_t>(k));
    for (auto& v : x) v = qrand(-3.f, 3.f);
    if (k > 3) { x[1] = 0.5f * 3.f / 127.f * 3.f; x[2] = -x[3]; }  // near-halfway values
    std::vector<uint8_t> out(static_cast<size_t>(4 * (k + 4)), 0xAB);
    std::vector<int8_t> qr(static_cast<size_t>(k));
    const float s = g.quant_i8(k, x.data(), out.data());
    const float sref = ref_quant_i8(x.data(), k, qr.data());
    qgemm_check();
    if (bits(s) != bits(sref)) qgemm_fail("quant_i8 scale differs, k=" + std::to_string(k));
    const int64_t k4 = (k + 3) / 4 * 4;
    for (int64_t i = 0; i < k4; ++i) {
      const int32_t want = i < k ? qr[static_cast<size_t>(i)] : 0;
      int32_t got;
      if (g.a_i8 == QuantA::s8) got = static_cast<int8_t>(out[static_cast<size_t>(i)]);
      else if (g.a_i8 == QuantA::u8) got = static_cast<int32_t>(out[static_cast<size_t>(i)]) - 128;
      else {  // s16eo: quad (q0, q1, q2, q3) stored as (q0, q2, q1, q3)
        static const int kPos[4] = {0, 2, 1, 3};
        int16_t v;
        std::memcpy(&v, out.data() + 2 * ((i / 4) * 4 + kPos[i % 4]), 2);
        got = v;
      }
      qgemm_check();
      if (got != want) { qgemm_fail("quant_i8 value differs at " + std::to_string(i) + ", k=" + std::to_string(k)); break; }
    }
    g.quant_bf16(k, x.data(), out.data());
    for (int64_t i = 0; i < (k + 1) / 2 * 2; ++i) {
      const uint16_t want = i < k ? ref_bf16(x[static_cast<size_t>(i)]) : 0;
      uint16_t got;
      if (g.a_bf16 == QuantA::bf16) std::memcpy(&got, out.data() + 2 * i, 2);
      else { float f; std::memcpy(&f, out.data() + 4 * i, 4); got = static_cast<uint16_t>(bits(f) >> 16); if ((bits(f) & 0xFFFF) != 0) got ^= 1; }
      qgemm_check();
      if (got != want) { qgemm_fail("quant_bf16 differs at " + std::to_string(i)); break; }
    }
  }
  // bf16 of special values, in the full vectors and the tail: ties to even, the largest finite
  // rounding to Inf, ±Inf, NaN (a quiet NaN of the top bits), ±0, denormals - rounded like any
  // value, except on the tiers whose products read bf16 denormals as zero (QuantA::bf16: vdpbf16ps,
  // AMX), whose quantizer gives them a zero of their sign (simd/avx512_bf16.h).
  {
    const uint32_t specials[] = {0x3F808000u, 0x3F818000u, 0x3F808001u, 0xBF818000u, 0x7F7FFFFFu, 0x7F7F7FFFu,
                                 0x7F800000u, 0xFF800000u, 0x7F800001u, 0xFFC12345u, 0x00000000u, 0x80000000u,
                                 0x00000001u, 0x807FFFFFu, 0x007F8000u, 0x00800000u, 0x80808000u, 0x3F800000u};
    const int64_t ns = static_cast<int64_t>(sizeof(specials) / sizeof(specials[0]));
    for (int64_t k : {ns, 2 * ns + 5, 3 * ns}) {
      std::vector<float> x(static_cast<size_t>(k));
      for (int64_t i = 0; i < k; ++i) x[static_cast<size_t>(i)] = from_bits(specials[(i * 7) % ns]);
      std::vector<uint8_t> out(static_cast<size_t>(4 * (k + 2)), 0xAB);
      g.quant_bf16(k, x.data(), out.data());
      for (int64_t i = 0; i < (k + 1) / 2 * 2; ++i) {
        const uint32_t u = i < k ? bits(x[static_cast<size_t>(i)]) : 0u;
        const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u, denormal = (u & 0x7F800000u) == 0 && (u & 0x7FFFFFu) != 0;
        const uint16_t want = nan ? static_cast<uint16_t>((u >> 16) | 0x40u)
                              : denormal && g.a_bf16 == QuantA::bf16 ? static_cast<uint16_t>((u >> 16) & 0x8000u)
                                                                      : ref_bf16(from_bits(u));
        uint16_t got;
        if (g.a_bf16 == QuantA::bf16) std::memcpy(&got, out.data() + 2 * i, 2);
        else { float f; std::memcpy(&f, out.data() + 4 * i, 4); got = static_cast<uint16_t>(bits(f) >> 16); }
        qgemm_check();
        if (got != want) {
          char msg[128];
          std::snprintf(msg, sizeof msg, "quant_bf16 of 0x%08X: 0x%04X, want 0x%04X (k=%lld)", u, got, want, (long long)k);
          qgemm_fail(msg);
          break;
        }
      }
    }
  }
  // A row holding Inf gets a NaN scale (its products are NaN); an all-zero row scale 1.
  std::vector<float> x = {1.f, INFINITY, -2.f};
  std::vector<uint8_t> out(64);
  qgemm_check();
  if (!std::isnan(g.quant_i8(3, x.data(), out.data()))) qgemm_fail("quant_i8 of a row with Inf: scale not NaN");
  std::vector<float> z(5, 0.f);
  qgemm_check();
  if (g.quant_i8(5, z.data(), out.data()) != 1.f) qgemm_fail("quant_i8 of a zero row: scale not 1");
}

// Saturation: |q| = 127 everywhere, K = 4096: pair sums of 255 * 127 would saturate int16
// (vpmaddubsw); the result must be the exact int32 sum.
void test_no_saturation(ThreadPool* pool) {
  const int64_t M = 3, N = 40, K = 4096;
  std::vector<float> A(static_cast<size_t>(M * K));
  for (int64_t i = 0; i < M; ++i) for (int64_t k = 0; k < K; ++k) A[static_cast<size_t>(i * K + k)] = (i == 1 ? -1.f : 1.f);
  std::vector<int8_t> wq(static_cast<size_t>(N * K));
  std::vector<float> sw(static_cast<size_t>(N), 1.f / 127.f);
  for (int64_t j = 0; j < N; ++j) for (int64_t k = 0; k < K; ++k) wq[static_cast<size_t>(j * K + k)] = static_cast<int8_t>(j % 2 ? -127 : 127);
  PackedQ B = pack_q_i8(K, N, wq.data(), K, sw.data());
  std::vector<float> C(static_cast<size_t>(M * N));
  qgemm_packed(M, K, A.data(), K, B, 0.f, C.data(), N, nullptr, pool);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float sa = 1.f / 127.f;
      const int64_t acc = (i == 1 ? -1 : 1) * (j % 2 ? -1 : 1) * int64_t{127} * 127 * K;
      volatile float s = sa * (1.f / 127.f);
      const float want = static_cast<float>(acc) * s;
      qgemm_check();
      if (bits(C[static_cast<size_t>(i * N + j)]) != bits(want)) {
        qgemm_fail("int8 saturation case: C(" + std::to_string(i) + "," + std::to_string(j) + ") = " +
                   std::to_string(C[static_cast<size_t>(i * N + j)]) + ", want " + std::to_string(want));
        return;
      }
    }
}

}  // namespace

// qgemm_tile called directly - outside any QTileScope, then inside one, with row counts that need
// different tile configurations in turn (AMX: 5, 20, 16, 5 rows) - gives what qgemm_rows gives.
void test_tile_scopes() {
  const int64_t M = 41, N = 64, K = 100;
  std::vector<float> A(static_cast<size_t>(M * K)), W(static_cast<size_t>(N * K)), sw(static_cast<size_t>(N));
  for (auto& a : A) a = qrand(-1.f, 1.f);
  for (auto& w : W) w = qrand(-0.5f, 0.5f);
  std::vector<uint16_t> wb(W.size());
  std::vector<int8_t> wq(W.size());
  for (size_t i = 0; i < W.size(); ++i) wb[i] = ref_bf16(W[i]);
  for (int64_t j = 0; j < N; ++j) sw[static_cast<size_t>(j)] = ref_quant_i8(W.data() + j * K, K, wq.data() + j * K);
  for (QFormat fmt : {QFormat::bf16, QFormat::int8}) {
    PackedQ B = fmt == QFormat::bf16 ? pack_q_bf16(K, N, wb.data(), K) : pack_q_i8(K, N, wq.data(), K, sw.data());
    std::vector<float> want(static_cast<size_t>(M * N)), got(want.size());
    qgemm_packed(M, K, A.data(), K, B, 0.f, want.data(), N, nullptr, nullptr);
    QuantRows qa;
    if (!quant_rows_reserve(qa, fmt, M, K)) { qgemm_fail("tile scopes: reserve failed"); return; }
    quant_rows_fill(qa, M, A.data(), K, nullptr);
    const int mr = qgemm_mr(fmt);
    for (int scoped = 0; scoped < 2; ++scoped) {
      std::fill(got.begin(), got.end(), 0.f);
      auto run = [&] {
        int64_t i0 = 0;
        for (int64_t rows : {int64_t{5}, int64_t{20}, int64_t{16}}) {  // 41 = M rows, in tiles of <= mr
          for (int64_t left = rows; left > 0;) {
            const int64_t t = std::min<int64_t>(mr, left);
            for (int64_t p = 0; p < B.num_panels(); ++p) {
              qgemm_tile(qa, i0, t, B, p, std::min<int64_t>(B.nr, N - p * B.nr), got.data() + i0 * N + p * B.nr, N,
                         false, nullptr);
            }
            i0 += t;
            left -= t;
          }
        }
      };
      if (scoped) {
        const QTileScope scope;
        run();
      } else {
        run();
      }
      qgemm_check();
      for (size_t i = 0; i < got.size(); ++i) {
        if (bits(got[i]) != bits(want[i])) {
          qgemm_fail(std::string("tile scopes: ") + (fmt == QFormat::bf16 ? "bf16" : "int8") +
                     (scoped ? " inside" : " outside") + " a scope differs at " + std::to_string(i));
          break;
        }
      }
    }
    // qgemm_tile2 with both operand pairs the same: twice the product, the bias once, exactly as
    // the two calls (want + bias) + want on every tier (AMX's bf16_2 / i8_2 in one call too).
    // Each call also runs side work (TileSideWork) of 0, 1, 7, 32 or 200 pieces: every piece
    // exactly once, in order, before the call returns, and the products unchanged by it.
    {
      const QTileScope scope;
      std::vector<float> two(want.size()), bias(static_cast<size_t>(N));
      for (auto& b : bias) b = qrand(-1.f, 1.f);
      struct Log {
        std::vector<int64_t> seen;
        static void run(void* ctx, int64_t piece) { static_cast<Log*>(ctx)->seen.push_back(piece); }
      } log;
      const int64_t counts[] = {0, 1, 7, 32, 200};
      int call = 0;
      for (int64_t i0 = 0; i0 < M; i0 += mr) {
        for (int64_t p = 0; p < B.num_panels(); ++p, ++call) {
          const TileSideWork side{&Log::run, &log, counts[call % 5]};
          log.seen.clear();
          qgemm_tile2(qa, B, qa, B, i0, std::min<int64_t>(mr, M - i0), p, std::min<int64_t>(B.nr, N - p * B.nr),
                      two.data() + i0 * N + p * B.nr, N, bias.data() + p * B.nr, &side);
          bool ok = static_cast<int64_t>(log.seen.size()) == side.pieces;
          for (size_t q = 0; ok && q < log.seen.size(); ++q) ok = log.seen[q] == static_cast<int64_t>(q);
          if (!ok) qgemm_fail("qgemm_tile2: side work of " + std::to_string(side.pieces) + " pieces ran " +
                              std::to_string(log.seen.size()) + " pieces or out of order");
        }
      }
      qgemm_check();
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) {
          const size_t ci = static_cast<size_t>(i * N + j);
          const float w2 = (want[ci] + bias[static_cast<size_t>(j)]) + want[ci];  // the two calls' order
          const bool good = bits(two[ci]) == bits(w2);
          if (!good) {
            qgemm_fail(std::string("qgemm_tile2 ") + (fmt == QFormat::bf16 ? "bf16" : "int8") + " differs at " +
                       std::to_string(ci) + ": " + std::to_string(two[ci]) + " vs " + std::to_string(w2));
            i = M;
            break;
          }
        }
      }
    }
  }
}

void run_qgemm_tests(ThreadPool* pool2, bool quick) {
  const QGemmKernel& g = kernels().qgemm;
  std::printf("qgemm: bf16 mr=%d A=%d, int8 mr=%d A=%d\n", g.mr_bf16, static_cast<int>(g.a_bf16), g.mr_i8,
              static_cast<int>(g.a_i8));
  test_quantizers();
  test_no_saturation(pool2);
  test_tile_scopes();
  const std::vector<int64_t> Ms = {1, 2, 3, 4, 5, 6, 7, 13, 15, 16, 17, 33, 65};  // edges of mr 4, 6 and 16 (AMX)
  const std::vector<int64_t> Ns = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130};
  const std::vector<int64_t> Ks = {0, 1, 2, 3, 4, 5, 7, 64, 257, 300};
  int64_t rot = 0;
  for (QFormat fmt : {QFormat::bf16, QFormat::int8}) {
    for (int64_t M : Ms)
      for (int64_t N : Ns)
        for (int64_t K : Ks) {
          ++rot;
          const Case cs{M, N, K, rot % 3, (rot / 3) % 2 * 5, rot % 2 ? 1.f : 0.f, rot % 4 < 2, 0, -1, rot % 5 == 0,
                        rot % 7 == 0 ? 1e-3f : 2.f};
          run_case(fmt, cs, (rot % 3 == 0) ? pool2 : nullptr, "shape");
        }
    // A panel subset (the fused LSTM's per-member columns), with threads.
    run_case(fmt, Case{37, 300, 129, 3, 2, 1.f, true, 1, 3, true, 1.f}, pool2, "panels");
    // Large: threads over row blocks and panels.
    const std::vector<Case> bigs = quick ? std::vector<Case>{Case{100, 700, 450, 0, 0, 0.f, true, 0, -1, false, 1.f}}
                                         : std::vector<Case>{Case{512, 2048, 512, 0, 0, 0.f, true, 0, -1, false, 1.f},
                                                             Case{67, 1000, 803, 1, 1, 1.f, false, 0, -1, true, 1.f},
                                                             Case{1000, 67, 901, 0, 3, 0.f, true, 0, -1, false, 1.f}};
    for (const Case& c : bigs) run_case(fmt, c, pool2, "big");
  }
}

void bench_qgemm() {
  ThreadPool pool1(1), pool2(2);
  struct Shape { int64_t M, N, K; };
  for (Shape sh : {Shape{1024, 1024, 1024}, Shape{64, 2048, 512}, Shape{1, 4096, 1024}}) {
    std::vector<float> A(static_cast<size_t>(sh.M * sh.K)), W(static_cast<size_t>(sh.N * sh.K));
    for (auto& v : A) v = qrand(-1.f, 1.f);
    for (auto& v : W) v = qrand(-1.f, 1.f);
    std::vector<uint16_t> wb(W.size());
    std::vector<int8_t> wq(W.size());
    std::vector<float> sw(static_cast<size_t>(sh.N));
    for (size_t i = 0; i < W.size(); ++i) wb[i] = ref_bf16(W[i]);
    for (int64_t j = 0; j < sh.N; ++j) sw[static_cast<size_t>(j)] = ref_quant_i8(W.data() + j * sh.K, sh.K, wq.data() + j * sh.K);
    PackedB pf = pack_b(true, sh.K, sh.N, W.data(), sh.K);
    PackedQ pb = pack_q_bf16(sh.K, sh.N, wb.data(), sh.K), pi = pack_q_i8(sh.K, sh.N, wq.data(), sh.K, sw.data());
    std::vector<float> C(static_cast<size_t>(sh.M * sh.N));
    for (ThreadPool* pool : {&pool1, &pool2}) {
      auto best = [&](auto f) {
        double b = 1e30;
        const int reps = sh.M == 1 ? 200 : 5;
        for (int r = 0; r < reps; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          f();
          b = std::min(b, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        return b;
      };
      const double tf = best([&] { sgemm_packed(sh.M, sh.N, sh.K, A.data(), sh.K, pf, 0.f, C.data(), sh.N, nullptr, pool); });
      const double tb = best([&] { qgemm_packed(sh.M, sh.K, A.data(), sh.K, pb, 0.f, C.data(), sh.N, nullptr, pool); });
      const double ti = best([&] { qgemm_packed(sh.M, sh.K, A.data(), sh.K, pi, 0.f, C.data(), sh.N, nullptr, pool); });
      const double ops = 2.0 * sh.M * sh.N * sh.K * 1e-9;
      std::printf("perf %-11s M=%-4lld N=%-4lld K=%-4lld threads=%d: fp32 %7.1f  bf16 %7.1f (%.2fx)  int8 %7.1f (%.2fx) GOP/s\n",
                  isa_name(kernels().isa), (long long)sh.M, (long long)sh.N, (long long)sh.K, pool->size(), ops / tf,
                  ops / tb, tf / tb, ops / ti, tf / ti);
    }
  }
}
