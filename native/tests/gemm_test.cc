// gemm_test.cc - standalone correctness + throughput check of the GEMM core.
//
// Tests whatever tier the dispatch table picks: run it once per
// CELLSTATE_MAX_ISA value (run_gemm_test.sh does). Every sgemm / sgemm_packed
// result is compared with a double-accumulated naive product; C is filled
// with NaN sentinels outside the M x N region (must stay bit-identical) and
// with NaN inside when beta == 0 (must be overwritten). A, B and C are
// allocated to their exact extent so sanitizers catch over-reads. Also checks
// the ThreadPool contract and prints GFLOP/s (informational, no threshold).
// The quantized GEMM (bf16, int8) is checked by qgemm_test.cc, linked in.
// Flags: --quick (smaller large cases, for sanitizer builds), --no-perf.
// Exit status 0 iff every check passed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../cpu/cpu_features.h"
#include "../cpu/dispatch.h"
#include "../gemm/gemm.h"
#include "../gemm/pack.h"
#include "../threadpool.h"
#include "../util/scratch.h"

using namespace cellstate;

namespace {

int64_t g_checks = 0, g_failures = 0;

void fail(const std::string& what) {
  if (g_failures < 30) std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  ++g_failures;
}

const uint32_t kSentinelBits = 0x7fc0dead;  // quiet NaN with a recognisable payload
float sentinel() {
  float f;
  std::memcpy(&f, &kSentinelBits, sizeof(f));
  return f;
}
bool is_sentinel(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u == kSentinelBits;
}

std::mt19937_64 g_rng(12345);
float urand() { return std::uniform_real_distribution<float>(-1.f, 1.f)(g_rng); }

// A rows x cols matrix with row stride ld >= cols, allocated to exactly
// (rows-1)*ld + cols floats; the padding between rows holds sentinels.
struct Mat {
  int64_t rows = 0, cols = 0, ld = 0;
  std::vector<float> v;
  Mat(int64_t r, int64_t c, int64_t pad) : rows(r), cols(c), ld(c + pad) {
    v.assign(static_cast<size_t>(r > 0 && c > 0 ? (r - 1) * ld + c : 0), sentinel());
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j) v[static_cast<size_t>(i * ld + j)] = urand();
  }
  float at(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * ld + j)]; }
  const float* data() const { return v.empty() ? nullptr : v.data(); }
};

// Reference op(A) * op(Bsrc) over all nsrc source columns, in double, plus
// sum |a||b| per element for the error bound.
struct Ref {
  int64_t M, Nsrc;
  std::vector<double> prod, mag;  // [M][Nsrc]
};

Ref reference(bool ta, bool tb, int64_t M, int64_t Nsrc, int64_t K, const Mat& A, const Mat& B) {
  Ref r{M, Nsrc, std::vector<double>(static_cast<size_t>(M * Nsrc)), std::vector<double>(static_cast<size_t>(M * Nsrc))};
  std::vector<double> arow(static_cast<size_t>(K));
  std::vector<double> bt(static_cast<size_t>(K * Nsrc));  // bt[j*K + kk] = op(B)(kk, j)
  for (int64_t kk = 0; kk < K; ++kk)
    for (int64_t j = 0; j < Nsrc; ++j) bt[static_cast<size_t>(j * K + kk)] = tb ? B.at(j, kk) : B.at(kk, j);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t kk = 0; kk < K; ++kk) arow[static_cast<size_t>(kk)] = ta ? A.at(kk, i) : A.at(i, kk);
    for (int64_t j = 0; j < Nsrc; ++j) {
      double s = 0, m = 0;
      const double* b = bt.data() + j * K;
      for (int64_t kk = 0; kk < K; ++kk) {
        s += arow[static_cast<size_t>(kk)] * b[kk];
        m += std::fabs(arow[static_cast<size_t>(kk)] * b[kk]);
      }
      r.prod[static_cast<size_t>(i * Nsrc + j)] = s;
      r.mag[static_cast<size_t>(i * Nsrc + j)] = m;
    }
  }
  return r;
}

struct Variant {
  float beta;
  bool bias, perm, packed;
  ThreadPool* pool;
  int64_t q0 = 0, q1 = -1;  // packed only: q1 >= 0 computes panels [q0, q1) (sgemm_packed_panels)
};

// Runs one sgemm / sgemm_packed call and checks every element of C.
void run_variant(const char* tag, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const Mat& A,
                 const Mat& B, const Ref& ref, const std::vector<int32_t>& perm,
                 const std::vector<float>& biasv, const Variant& var) {
  // C: (M+1) rows (one sentinel row below), ldc = N + 5, NaN everywhere outside M x N.
  const int64_t ldc = N + 5;
  std::vector<float> C(static_cast<size_t>((M + 1) * ldc), sentinel());
  std::vector<float> C0(static_cast<size_t>(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float c0 = var.beta == 0.f ? std::nanf("") : urand();  // beta 0: garbage must be overwritten
      C0[static_cast<size_t>(i * N + j)] = c0;
      C[static_cast<size_t>(i * ldc + j)] = c0;
    }
  const float* bias = var.bias ? biasv.data() : nullptr;
  const int32_t* p = var.perm ? perm.data() : nullptr;
  // Columns [j_lo, j_hi) are computed; the rest of C must keep its bits.
  const int64_t nr = kernels().gemm.nr;
  const int64_t j_lo = var.q1 >= 0 ? var.q0 * nr : 0, j_hi = var.q1 >= 0 ? std::min(N, var.q1 * nr) : N;
  const std::vector<float> Cin = C;
  if (var.packed) {
    PackedB pb = pack_b(tb, K, N, B.data(), B.ld, p);
    PackedB moved = std::move(pb);  // exercise the move
    if (!moved.ok()) { fail("pack_b allocation"); return; }
    if (var.q1 >= 0) sgemm_packed_panels(M, K, A.data(), A.ld, moved, var.q0, var.q1, var.beta, C.data(), ldc, bias, var.pool);
    else sgemm_packed(M, N, K, A.data(), A.ld, moved, var.beta, C.data(), ldc, bias, var.pool);
  } else {
    sgemm(ta, tb, M, N, K, A.data(), A.ld, B.data(), B.ld, var.beta, C.data(), ldc, bias, var.pool);
  }
  const double tol = 1e-5 * std::sqrt(static_cast<double>(K > 0 ? K : 1)) + 1e-6;
  int64_t bad = 0;
  char first[256] = {0};
  for (int64_t i = 0; i <= M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = C[static_cast<size_t>(i * ldc + j)];
      if (i == M || j >= N) {
        if (!is_sentinel(got) && bad++ == 0) std::snprintf(first, sizeof(first), "sentinel (%lld,%lld) overwritten", (long long)i, (long long)j);
        continue;
      }
      if (j < j_lo || j >= j_hi) {
        const float was = Cin[static_cast<size_t>(i * ldc + j)];
        if (std::memcmp(&got, &was, sizeof(float)) != 0 && bad++ == 0)
          std::snprintf(first, sizeof(first), "C(%lld,%lld) outside panels [%lld, %lld) changed", (long long)i, (long long)j, (long long)var.q0, (long long)var.q1);
        continue;
      }
      const int64_t src_col = var.perm ? perm[static_cast<size_t>(j)] : j;
      const double c0 = var.beta == 0.f ? 0.0 : static_cast<double>(var.beta) * C0[static_cast<size_t>(i * N + j)];
      const double bj = bias ? bias[j] : 0.0;
      const double want = c0 + ref.prod[static_cast<size_t>(i * ref.Nsrc + src_col)] + bj;
      const double scale = std::fabs(c0) + ref.mag[static_cast<size_t>(i * ref.Nsrc + src_col)] + std::fabs(bj) + 1e-30;
      if (!(std::fabs(got - want) <= tol * scale) && bad++ == 0)
        std::snprintf(first, sizeof(first), "C(%lld,%lld) = %g, want %g", (long long)i, (long long)j, got, want);
    }
  }
  ++g_checks;
  if (bad) {
    char msg[512];
    std::snprintf(msg, sizeof(msg), "%s ta=%d tb=%d M=%lld N=%lld K=%lld beta=%g bias=%d perm=%d packed=%d threads=%d: %lld bad, first: %s",
                  tag, ta, tb, (long long)M, (long long)N, (long long)K, var.beta, var.bias, var.perm, var.packed,
                  var.pool ? var.pool->size() : 1, (long long)bad, first);
    fail(msg);
  }
}

// All variants of one shape and transpose pair. `full` runs the whole cross
// product of beta x bias x pool (and perm x ... for packed); otherwise a
// rotating subset so that every flag still gets exercised.
void test_shape(bool ta, bool tb, int64_t M, int64_t N, int64_t K, ThreadPool* pool2, bool full, int64_t* rot) {
  const int64_t Nsrc = N + 3;  // perm picks from N+3 source columns
  // op(A) is M x K: stored K x M when transposed. op(B) is K x Nsrc: stored Nsrc x K when transposed.
  Mat A = ta ? Mat(K, M, 3) : Mat(M, K, 3);
  Mat B = tb ? Mat(Nsrc, K, 2) : Mat(K, Nsrc, 2);
  Ref ref = reference(ta, tb, M, Nsrc, K, A, B);
  std::vector<int32_t> perm(static_cast<size_t>(N));
  for (int64_t j = 0; j < N; ++j) perm[static_cast<size_t>(j)] = static_cast<int32_t>((j * 7 + 3) % Nsrc);
  std::vector<float> biasv(static_cast<size_t>(N));
  for (auto& b : biasv) b = urand();

  for (int v = 0; v < 8; ++v) {
    if (!full && (v != (*rot % 8))) continue;
    Variant var{(v & 1) ? 1.f : 0.f, (v & 2) != 0, false, false, (v & 4) ? pool2 : nullptr};
    run_variant("sgemm", ta, tb, M, N, K, A, B, ref, perm, biasv, var);
  }
  if (!ta) {  // sgemm_packed takes A as is
    for (int v = 0; v < 16; ++v) {
      if (!full && (v != (*rot % 16) && v != ((*rot + 5) % 16))) continue;
      Variant var{(v & 1) ? 1.f : 0.f, (v & 2) != 0, (v & 8) != 0, true, (v & 4) ? pool2 : nullptr};
      run_variant("packed", ta, tb, M, N, K, A, B, ref, perm, biasv, var);
    }
    // A range of panels only (each team member of the fused LSTM projects its own).
    const int64_t np = (N + kernels().gemm.nr - 1) / kernels().gemm.nr;
    if (np >= 2 || full) {
      const int64_t ranges[3][2] = {{0, 1}, {np / 2, np}, {1, np > 2 ? np - 1 : 1}};
      for (const auto& qr : ranges) {
        Variant var{(*rot & 1) ? 1.f : 0.f, (*rot & 2) != 0, (*rot & 4) != 0, true, (*rot & 8) ? pool2 : nullptr, qr[0], qr[1]};
        run_variant("panels", ta, tb, M, N, K, A, B, ref, perm, biasv, var);
      }
    }
  }
  ++*rot;
}

void test_special(ThreadPool* pool2) {
  // General beta (not 0/1) and degenerate sizes.
  int64_t rot = 0;
  {
    Mat A(13, 70, 1), B(70, 33 + 3, 1);
    Ref ref = reference(false, false, 13, 36, 70, A, B);
    std::vector<int32_t> perm(33, 0);
    std::vector<float> biasv(33, 0.25f);
    run_variant("beta0.5", false, false, 13, 33, 70, A, B, ref, perm, biasv, Variant{0.5f, true, false, false, pool2});
    run_variant("beta0.5", false, false, 13, 33, 70, A, B, ref, perm, biasv, Variant{0.5f, false, false, true, nullptr});
  }
  for (int64_t K0 : {0}) {
    for (int v = 0; v < 4; ++v) {
      Mat A(5, 1, 1), B(1, 20, 1);  // K == 0: A and B are not read
      Ref ref{5, 20, std::vector<double>(100, 0.0), std::vector<double>(100, 0.0)};
      std::vector<int32_t> perm(17, 0);
      std::vector<float> biasv(17, -1.5f);
      run_variant("K=0", false, false, 5, 17, K0, A, B, ref, perm, biasv, Variant{(v & 1) ? 1.f : 0.f, (v & 2) != 0, false, false, pool2});
      run_variant("K=0", false, false, 5, 17, K0, A, B, ref, perm, biasv, Variant{(v & 1) ? 1.f : 0.f, (v & 2) != 0, false, true, pool2});
    }
  }
  // M == 0 / N == 0 must not touch anything (C is a single sentinel).
  {
    float c = sentinel();
    float a = 1.f, b = 1.f;
    sgemm(false, false, 0, 4, 3, &a, 3, &b, 4, 0.f, &c, 4, nullptr, pool2);
    sgemm(true, true, 4, 0, 3, &a, 4, &b, 3, 0.f, &c, 1, nullptr, pool2);
    PackedB pb = pack_b(false, 3, 0, &b, 1);
    sgemm_packed(4, 0, 3, &a, 3, pb, 0.f, &c, 1, nullptr, pool2);
    ++g_checks;
    if (!is_sentinel(c)) fail("M or N == 0 wrote C");
  }
  // Mismatched PackedB: C untouched.
  {
    Mat B(8, 8, 0);
    PackedB pb = pack_b(false, 8, 8, B.data(), B.ld);
    std::vector<float> A(64, 1.f), C(64, sentinel());
    sgemm_packed(8, 8, 7, A.data(), 8, pb, 0.f, C.data(), 8, nullptr, nullptr);
    ++g_checks;
    if (!std::all_of(C.begin(), C.end(), is_sentinel)) fail("sgemm_packed with mismatched K wrote C");
  }
  (void)rot;
}

void test_threadpool() {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    ++g_checks;
    if (pool.size() != n) fail("ThreadPool::size");
    // Every task runs exactly once, thread index in range, across many rapid jobs.
    // A task seeing another job's number means it ran outside its parallel_for.
    std::vector<std::atomic<int>> hits(257);
    std::atomic<int> bad_thread{0}, stale{0};
    std::atomic<int> current{-1};
    for (int rep = 0; rep < 20000; ++rep) {
      const int64_t ntasks = rep < 2000 ? rep % 257 : 2 + rep % 7;  // then many tiny jobs
      for (int64_t t = 0; t < ntasks; ++t) hits[static_cast<size_t>(t)].store(0);
      current.store(rep);
      pool.parallel_for(ntasks, [&, rep](int64_t t, int th) {
        if (current.load() != rep) stale.fetch_add(1);
        hits[static_cast<size_t>(t)].fetch_add(1);
        if (th < 0 || th >= n) bad_thread.fetch_add(1);
      });
      current.store(-1);
      for (int64_t t = 0; t < ntasks; ++t)
        if (hits[static_cast<size_t>(t)].load() != 1) { fail("parallel_for task count"); break; }
      // Now and then let the workers fall asleep so the wake-up path runs too.
      if (rep % 2000 == 1999) std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    ++g_checks;
    if (bad_thread.load()) fail("parallel_for thread index out of range");
    ++g_checks;
    if (stale.load()) fail("a task ran outside its own parallel_for call");
    // Nested parallel_for runs inline (no deadlock) and still covers all tasks.
    std::atomic<int64_t> sum{0};
    pool.parallel_for(8, [&](int64_t t, int) {
      pool.parallel_for(10, [&](int64_t u, int) { sum.fetch_add(t * 10 + u); });
    });
    ++g_checks;
    if (sum.load() != 79 * 80 / 2) fail("nested parallel_for");
  }
}

// run_team: every member runs once, on its own participant, all at the same time (each phase's
// barrier would hang otherwise - guarded by a deadline), members see each other's writes after a
// barrier, nested teams run inline with one member, and small parallel_for jobs keep affinity.
void test_team() {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    for (int want = 1; want <= n + 1; ++want) {
      const int team = pool.team_size(want);
      ++g_checks;
      if (team != std::min(want, n)) fail("team_size");
      for (int rep = 0; rep < 300; ++rep) {
        std::vector<std::atomic<int>> ran(static_cast<size_t>(team));
        std::vector<int> slots(static_cast<size_t>(2 * team), -1);  // [phase parity][member]
        TeamBarrier barrier(team);
        std::atomic<int> bad{0}, timeouts{0}, seen_team{0};
        std::atomic<int> checked_in{0};
        pool.run_team(want, [&](int64_t t, int size) {
          seen_team.store(size);
          ran[static_cast<size_t>(t)].fetch_add(1);
          // All members run at once: each sees all the others check in (bounded wait, so a
          // broken pool fails here instead of hanging in the barrier below).
          checked_in.fetch_add(1);
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
          while (checked_in.load() < size && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
          if (checked_in.load() < size) { timeouts.fetch_add(1); return; }
          for (int phase = 0; phase < 20; ++phase) {
            slots[static_cast<size_t>((phase & 1) * team + t)] = phase;  // plain writes: the barrier orders them
            barrier.arrive_and_wait(static_cast<int>(t));
            for (int j = 0; j < size; ++j)
              if (slots[static_cast<size_t>((phase & 1) * team + j)] != phase) bad.fetch_add(1);
            // wait_for alone: member t waits for the next member only (a ring), the other pattern.
            barrier.arrive(static_cast<int>(t));
            barrier.wait_for(static_cast<int>(t), static_cast<int>((t + 1) % size));
          }
          barrier.arrive_and_wait(static_cast<int>(t));  // nobody leaves while another still waits on it
        });
        ++g_checks;
        if (seen_team.load() != team) { fail("run_team: team size passed to members"); break; }
        for (int t = 0; t < team; ++t)
          if (ran[static_cast<size_t>(t)].load() != 1) { fail("run_team: a member did not run exactly once"); break; }
        ++g_checks;
        if (timeouts.load()) { fail("run_team: members did not all run at the same time"); break; }
        ++g_checks;
        if (bad.load()) { fail("run_team: a write before a barrier was not visible after it"); break; }
        // Now and then let the workers fall asleep so the wake-up path runs too.
        if (rep % 100 == 99) std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    }
    // A team on a pool whose workers may not have started running yet (each must still join).
    for (int rep = 0; rep < 200; ++rep) {
      ThreadPool fresh(n);
      std::atomic<int> members{0};
      TeamBarrier barrier(fresh.team_size(n));
      fresh.run_team(n, [&](int64_t t, int) {
        members.fetch_add(1);
        barrier.arrive_and_wait(static_cast<int>(t));
      });
      ++g_checks;
      if (members.load() != fresh.team_size(n)) { fail("run_team on a fresh pool"); break; }
    }
    // Inside a task, a team is the calling thread alone.
    std::atomic<int> inner{0};
    pool.parallel_for(3, [&](int64_t, int) {
      if (pool.team_size(n) != 1) inner.fetch_add(100);
      pool.run_team(n, [&](int64_t t, int size) { inner.fetch_add(t == 0 && size == 1 ? 1 : 100); });
    });
    ++g_checks;
    if (inner.load() != 3) fail("nested run_team is not a one-member team");
  }
  // Affinity: task t of a small job runs on participant t. Each task waits until both have
  // started, so neither participant can finish its task and take the other's: with affinity the
  // caller always holds task 0 and the worker task 1; plain first-come claiming would give the
  // worker task 0 whenever it sees the job first.
  {
    ThreadPool pool(2);
    std::atomic<int> mismatched{0}, timeouts{0};
    for (int rep = 0; rep < 2000; ++rep) {
      std::atomic<int> started{0};
      pool.parallel_for(2, [&](int64_t t, int th) {
        started.fetch_add(1);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (started.load() < 2 && std::chrono::steady_clock::now() < deadline) {
        }
        if (started.load() < 2) timeouts.fetch_add(1);
        if (t != th) mismatched.fetch_add(1);
      });
    }
    ++g_checks;
    if (mismatched.load() || timeouts.load()) fail("parallel_for affinity: task t did not run on participant t");
  }
}

// The scratch recycler (util/scratch.h): aligned blocks, reuse of freed blocks that fit, no reuse
// of a block four times too big, small blocks not pooled, the cache capped, blocks too big for it
// kept until scratch_trim, and safe from
// several threads at once (the TSan build checks the last).
void test_scratch() {
  const int64_t big = kScratchMinBytes / 4 * 8;  // floats: 8x the pooling threshold
  float* a = scratch_alloc(big);
  ++g_checks;
  if (a == nullptr || reinterpret_cast<uintptr_t>(a) % 64 != 0) { fail("scratch_alloc: null or unaligned"); return; }
  for (int64_t i = 0; i < big; ++i) a[i] = static_cast<float>(i);  // the whole block is ours (ASan)
  const int64_t before = scratch_cached_bytes();
  scratch_free(a);
  ++g_checks;
  if (scratch_cached_bytes() != before + big * 4) fail("scratch_free: a pooled block was not kept");
  float* b = scratch_alloc(big - 5);  // fits in the freed block
  ++g_checks;
  if (b != a) fail("scratch_alloc: a freed block that fits was not reused");
  float* c = scratch_alloc(big / 5);  // pooled size, but under a quarter of b's: a new block
  scratch_free(b);
  float* d = scratch_alloc(big / 5);
  ++g_checks;
  if (d == b) fail("scratch_alloc: a block four times too big was handed out");
  scratch_free(c);
  scratch_free(d);
  float* e = scratch_alloc(big * 2);  // bigger than anything cached: fresh
  ++g_checks;
  if (e == nullptr || e == b) fail("scratch_alloc: a block too small was handed out");
  scratch_free(e);
  const int64_t small_before = scratch_cached_bytes();
  scratch_free(scratch_alloc(16));
  ++g_checks;
  if (scratch_cached_bytes() != small_before) fail("scratch: a small block was pooled");
  // More than the cap freed at once: the cache stays within it.
  std::vector<float*> many;
  for (int i = 0; i < 40; ++i) many.push_back(scratch_alloc(kScratchCacheBytes / 4 / 16));  // 1/16 of the cap each
  for (float* p : many) scratch_free(p);
  ++g_checks;
  if (scratch_cached_bytes() > kScratchCacheBytes) fail("scratch: the cache grew past its cap");
  // Blocks bigger than the whole cache: kept (up to kScratchLargeBlocks) and reused until
  // scratch_trim(), which frees them and leaves the cache alone.
  const int64_t huge = kScratchCacheBytes / 4 + 1024;  // floats: just over the cap
  const int64_t cached = scratch_cached_bytes();
  scratch_trim();
  float* h1 = scratch_alloc(huge);
  float* h2 = scratch_alloc(huge);
  ++g_checks;
  if (h1 == nullptr || h2 == nullptr || h1 == h2) { fail("scratch_alloc: two big blocks"); return; }
  h1[huge - 1] = 1.f;  // the whole block is ours (ASan)
  scratch_free(h1);
  scratch_free(h2);
  ++g_checks;
  if (scratch_large_bytes() != 2 * huge * 4 || scratch_cached_bytes() != cached) fail("scratch_free: big blocks were not kept apart from the cache");
  float* h3 = scratch_alloc(huge - 7);
  ++g_checks;
  if (h3 != h1 && h3 != h2) fail("scratch_alloc: a kept big block that fits was not reused");
  scratch_free(h3);
  std::vector<float*> bigs;
  for (int i = 0; i < kScratchLargeBlocks + 2; ++i) bigs.push_back(scratch_alloc(huge));
  for (float* p : bigs) scratch_free(p);
  ++g_checks;
  if (scratch_large_bytes() != kScratchLargeBlocks * huge * 4) fail("scratch: more big blocks kept than kScratchLargeBlocks");
  scratch_trim();
  ++g_checks;
  if (scratch_large_bytes() != 0 || scratch_cached_bytes() != cached) fail("scratch_trim: big blocks left, or the cache changed");
  // Threads allocating, writing and freeing at once.
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int rep = 0; rep < 300; ++rep) {
        const int64_t n = kScratchMinBytes / 4 * (1 + (rep * 7 + t) % 5);
        float* p = scratch_alloc(n);
        if (p == nullptr) { bad.fetch_add(1); continue; }
        for (int64_t i = 0; i < n; i += 1024) p[i] = static_cast<float>(t);
        for (int64_t i = 0; i < n; i += 1024) if (p[i] != static_cast<float>(t)) bad.fetch_add(1);
        scratch_free(p);
      }
    });
  }
  for (auto& th : ts) th.join();
  ++g_checks;
  if (bad.load()) fail("scratch: concurrent use handed one block to two threads");
}

// Dispatch overhead of a 2-task job whose tasks each busy-wait 5 us (an LSTM
// step is a few such tasks): hot = workers still spinning, cold = workers
// asleep after 1 ms idle. Overhead = elapsed - 5 us.
void bench_threadpool() {
  ThreadPool pool(2);
  const auto busy = std::chrono::microseconds(5);
  auto job = [&](int64_t, int) {
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < busy) {
    }
  };
  auto timed = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(2, job);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() * 1e6 - 5.0;
  };
  for (int i = 0; i < 1000; ++i) timed();
  std::vector<double> hot, cold;
  for (int i = 0; i < 20000; ++i) hot.push_back(timed());
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // workers go to sleep
    cold.push_back(timed());
  }
  std::sort(hot.begin(), hot.end());
  std::sort(cold.begin(), cold.end());
  std::printf("threadpool(2): 2 x 5 us tasks, overhead median %.2f us (p90 %.2f) with spinning workers, "
              "%.2f us (p90 %.2f) after 1 ms idle\n",
              hot[hot.size() / 2], hot[hot.size() * 9 / 10], cold[cold.size() / 2], cold[cold.size() * 9 / 10]);
}

double gflops(int64_t M, int64_t N, int64_t K, double secs) { return 2.0 * M * N * K / secs / 1e9; }

// Best-of timing of f(), repeated until ~0.3 s are spent.
template <class F>
double best_time(F&& f) {
  f();  // warm-up (scratch allocation, page faults)
  double best = 1e30, total = 0;
  for (int r = 0; r < 50 && total < 0.3; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

void bench_gemm() {
  ThreadPool pool1(1), pool2(2);
  struct Shape { int64_t M, N, K; };
  for (Shape sh : {Shape{1024, 1024, 1024}, Shape{64, 2048, 512}}) {
    Mat A(sh.M, sh.K, 0), B(sh.K, sh.N, 0);
    std::vector<float> C(static_cast<size_t>(sh.M * sh.N));
    std::vector<float> Bt(static_cast<size_t>(sh.N * sh.K));  // B^T (N x K): LSTM weight layout
    for (int64_t kk = 0; kk < sh.K; ++kk)
      for (int64_t j = 0; j < sh.N; ++j) Bt[static_cast<size_t>(j * sh.K + kk)] = B.at(kk, j);
    std::vector<float> At(static_cast<size_t>(sh.K * sh.M));  // A^T (K x M)
    for (int64_t i = 0; i < sh.M; ++i)
      for (int64_t kk = 0; kk < sh.K; ++kk) At[static_cast<size_t>(kk * sh.M + i)] = A.at(i, kk);
    PackedB pb = pack_b(true, sh.K, sh.N, Bt.data(), sh.K);
    for (ThreadPool* pool : {&pool1, &pool2}) {
      const double t_nn = best_time([&] {
        sgemm(false, false, sh.M, sh.N, sh.K, A.data(), A.ld, B.data(), B.ld, 0.f, C.data(), sh.N, nullptr, pool);
      });
      const double t_nt = best_time([&] {
        sgemm(false, true, sh.M, sh.N, sh.K, A.data(), A.ld, Bt.data(), sh.K, 0.f, C.data(), sh.N, nullptr, pool);
      });
      const double t_tn = best_time([&] {
        sgemm(true, false, sh.M, sh.N, sh.K, At.data(), sh.M, B.data(), B.ld, 0.f, C.data(), sh.N, nullptr, pool);
      });
      const double t_pk = best_time([&] {
        sgemm_packed(sh.M, sh.N, sh.K, A.data(), A.ld, pb, 0.f, C.data(), sh.N, nullptr, pool);
      });
      std::printf("perf %-6s M=%-4lld N=%-4lld K=%-4lld threads=%d: sgemm NN %6.1f  NT %6.1f  TN %6.1f  packed %6.1f GFLOP/s\n",
                  isa_name(kernels().isa), (long long)sh.M, (long long)sh.N, (long long)sh.K, pool->size(),
                  gflops(sh.M, sh.N, sh.K, t_nn), gflops(sh.M, sh.N, sh.K, t_nt), gflops(sh.M, sh.N, sh.K, t_tn),
                  gflops(sh.M, sh.N, sh.K, t_pk));
    }
  }
}

}  // namespace

// qgemm_test.cc's hooks into this file's counters, and its entry points.
void qgemm_fail(const std::string& what) { fail(what); }
void qgemm_check() { ++g_checks; }
void run_qgemm_tests(ThreadPool* pool2, bool quick);
void bench_qgemm();

int main(int argc, char** argv) {
  // A deadlocked pool or team would otherwise hang the run: fail it instead.
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(300));
    std::fprintf(stderr, "FAIL: gemm_test still running after 300 s (a hang in the thread pool?)\n");
    std::fflush(stderr);
    std::_Exit(2);
  }).detach();
  bool quick = false, perf = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--no-perf") == 0) perf = false;
  }

  // Which tier must the table have picked?
  const Isa hw = detect_isa();
  const char* env = std::getenv("CELLSTATE_MAX_ISA");
  Isa want = hw;
  bool expect_warning = false;
  if (env != nullptr && env[0] != '\0') {
    // A cap is a level (native/isa.json through isa.gen.h), the same on either kind of CPU: the
    // table holds this architecture's highest tier within both the cap and the CPU.
    const std::string e = env;
    int cap = -1;
    for (int i = 0; i < kIsaCount; ++i) if (e == kIsaNames[i]) cap = kIsaLevels[i];
    if (cap < 0) expect_warning = true;
    else {  // the highest tier the CPU has within the cap (the tiers' sets are not a chain)
      want = Isa::scalar;
      for (Isa t : kArchTiers) if (isa_rank(t) <= cap && (supported_isas() & isa_bit(t)) != 0) want = t;
    }
  }
  const KernelTable& kt = kernels();
  std::printf("detected %s, CELLSTATE_MAX_ISA=%s -> table %s (mr=%d nr=%d vw=%d)%s%s\n", isa_name(hw),
              env ? env : "(unset)", isa_name(kt.isa), kt.gemm.mr, kt.gemm.nr, kt.gemm.vw,
              dispatch_warning()[0] ? ", warning: " : "", dispatch_warning());
  ++g_checks;
  if (kt.isa != want) fail(std::string("dispatch picked ") + isa_name(kt.isa) + ", expected " + isa_name(want));
  ++g_checks;
  if (expect_warning != (dispatch_warning()[0] != '\0')) fail("dispatch_warning() mismatch");
  ++g_checks;
  if (kt.gemm.nr != 4 * kt.gemm.vw) fail("nr != 4 * vw");
  set_max_isa(Isa::scalar);  // too late: must be ignored
  ++g_checks;
  if (kernels().isa != want) fail("set_max_isa after first use changed the table");

  test_threadpool();
  test_team();
  test_scratch();

  ThreadPool pool2(2);
  const std::vector<int64_t> Ms = {1, 2, 3, 5, 6, 7, 13, 64, 65};
  const std::vector<int64_t> Ns = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 130};
  const std::vector<int64_t> Ks = {1, 2, 7, 64, 257, 300};
  int64_t rot = 0;
  for (int t = 0; t < 4; ++t) {
    const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
    for (int64_t M : Ms)
      for (int64_t N : Ns)
        for (int64_t K : Ks) {
          // Full cross product of flags on a subset of shapes, rotating flags elsewhere.
          const bool full = (M == 7 || M == 65) && (N == 17 || N == 64 || N == 130);
          test_shape(ta, tb, M, N, K, &pool2, full, &rot);
        }
  }
  test_special(&pool2);
  run_qgemm_tests(&pool2, quick);

  // Large: several k blocks, several panel groups, threading, odd edges.
  struct Big { int64_t M, N, K; };
  const std::vector<Big> bigs = quick ? std::vector<Big>{{100, 700, 450}, {37, 530, 800}}
                                      : std::vector<Big>{{512, 2048, 512}, {67, 1000, 800}, {1000, 67, 900}, {129, 1100, 1537}};
  for (const Big& b : bigs)
    for (int t = 0; t < 4; ++t) test_shape((t & 1) != 0, (t & 2) != 0, b.M, b.N, b.K, &pool2, true, &rot);

  std::printf("%s: tier %s, %lld checks, %lld failures\n", g_failures ? "FAILED" : "PASSED", isa_name(kt.isa),
              (long long)g_checks, (long long)g_failures);
  if (perf && !g_failures) {
    bench_threadpool();
    bench_gemm();
    bench_qgemm();
  }
  return g_failures ? 1 : 0;
}
