// gemm.cc - blocking, packing and threading around the dispatched micro-kernel.
//
// Loop nest of one output block (rows [m0, m1) x panels [q0, q1)):
//   for k block  [k0, k0+kc)          kc <= kKcMax, balanced over K
//     for panel group [qb, qe)        np panels: the B block kc x np*nr (~768 KB) stays in L2
//       (pack that B block unless B is pre-packed)
//       for row block ib (16 tiles)   (transA: op(A) block packed to scratch, ~150 KB)
//         for row tile i0 (mr rows)
//           for panel q in the group  A tile (mr x kc, <= 9 KB) stays in L1
//             micro-kernel on C[i0 .. i0+mr) x [q*nr .. q*nr+nr)
// The first k block overwrites C (beta == 0) or accumulates into it; later k
// blocks accumulate; the kernel adds the bias in the last k block, before its
// stores (re-reading a just-stored tile stalled on store forwarding). Threads
// get disjoint output blocks (no reduction over K), so C needs no
// synchronisation. Compiled without ISA flags: it only moves
// pointers and calls through kernels().gemm. It does not pack A for the
// non-transposed case (the kernel broadcasts straight from A's rows); for
// transA it packs each A block into mr-row tiles (tile_pa reads one k step
// as mr adjacent floats) - a strided copy of A's rows, no transpose.
#include "gemm.h"

#include "../cpu/dispatch.h"
#include "../threadpool.h"

namespace cellstate {

namespace {

constexpr int64_t kKcMax = 384;               // k rows per block (B panel slice 96 KB at nr = 64)
constexpr int64_t kBBlockBytes = 768 * 1024;  // one packed B block; L2 is 2 MB per core
constexpr int64_t kMinFmaPerThread = 100000;  // don't give a thread less work than this
constexpr int64_t kMcTiles = 16;              // row tiles per packed A block (transA)

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Problem {
  bool transA, transB;
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* B;          // unpacked B, or nullptr when `packed` is used
  int64_t ldb;
  const PackedB* packed;   // pre-packed B, or nullptr
  float beta;
  float* C;
  int64_t ldc;
  const float* bias;
  const GemmKernel* g;
  int64_t kc;              // k block size (last block may be shorter)
  int64_t np;              // panels per B block
  int64_t q_begin, q_end;  // the panels (of nr columns) of C to compute
};

// Per-thread scratch buffers (slot 0: packed B block, slot 1: packed A
// block); they grow, never shrink, and are freed at thread exit.
struct Scratch {
  float* p[2] = {nullptr, nullptr};
  int64_t cap[2] = {0, 0};
  ~Scratch() {
    AlignedFree()(p[0]);
    AlignedFree()(p[1]);
  }
};

float* scratch_floats(int slot, int64_t count) {
  thread_local Scratch s;
#if defined(CELLSTATE_TEST_FORCE_SCRATCH_FAILURE)
  (void)slot;
  (void)count;
  return nullptr;  // test hook: exercise the fallback path
#else
  if (s.cap[slot] < count) {
    AlignedFree()(s.p[slot]);
    s.p[slot] = aligned_alloc_floats(count);
    s.cap[slot] = s.p[slot] != nullptr ? count : 0;
  }
  return s.p[slot];
#endif
}

inline float a_at(const Problem& pb, int64_t i, int64_t kk) {
  return pb.transA ? pb.A[kk * pb.lda + i] : pb.A[i * pb.lda + kk];
}

inline float b_at(const Problem& pb, int64_t kk, int64_t j) {
  if (pb.packed != nullptr) {
    const int64_t nr = pb.packed->nr;
    return pb.packed->panel(j / nr)[kk * nr + j % nr];  // panel j/nr, row kk, lane j%nr
  }
  return pb.transB ? pb.B[j * pb.ldb + kk] : pb.B[kk * pb.ldb + j];
}

// Slow path when scratch memory is unavailable: plain triple loop over
// C rows [m0, m1) x columns [j0, j1).
void naive_block(const Problem& pb, int64_t m0, int64_t m1, int64_t j0, int64_t j1) {
  for (int64_t i = m0; i < m1; ++i) {
    float* crow = pb.C + i * pb.ldc;
    for (int64_t j = j0; j < j1; ++j) {
      float s = 0.f;
      for (int64_t kk = 0; kk < pb.K; ++kk) s += a_at(pb, i, kk) * b_at(pb, kk, j);
      const float prev = pb.beta == 0.f ? 0.f : pb.beta * crow[j];
      crow[j] = prev + s + (pb.bias != nullptr ? pb.bias[j] : 0.f);
    }
  }
}

// C rows [m0, m1) x columns [j0, j1) *= beta (beta != 0).
void scale_block(const Problem& pb, int64_t m0, int64_t m1, int64_t j0, int64_t j1) {
  for (int64_t i = m0; i < m1; ++i) {
    float* crow = pb.C + i * pb.ldc;
    for (int64_t j = j0; j < j1; ++j) crow[j] *= pb.beta;
  }
}

// Computes the output block C rows [m0, m1) x panels [q0, q1) (columns
// [q0*nr, min(N, q1*nr))) over the whole K. Blocks of different calls are
// disjoint, so this is the unit of parallel work.
void run_block(const Problem& pb, int64_t m0, int64_t m1, int64_t q0, int64_t q1) {
  const GemmKernel& g = *pb.g;
  const int64_t mr = g.mr, nr = g.nr;
  const int64_t j_begin = q0 * nr, j_end = min64(pb.N, q1 * nr);

  const int64_t mc = kMcTiles * mr;  // rows per A block
  // Get scratch before touching C, so a failure can still fall back cleanly.
  float* bbuf = nullptr;  // [np][kc][nr] packed B block (unpacked B only)
  float* abuf = nullptr;  // [mc/mr][kc][mr] packed op(A) block (transA only)
  if (pb.packed == nullptr) bbuf = scratch_floats(0, pb.kc * pb.np * nr);
  if (pb.transA) abuf = scratch_floats(1, mc * pb.kc);
  if ((pb.packed == nullptr && bbuf == nullptr) || (pb.transA && abuf == nullptr)) {
    naive_block(pb, m0, m1, j_begin, j_end);
    return;
  }
  const bool c_has_data = pb.beta != 0.f;  // first k block accumulates into C
  if (c_has_data && pb.beta != 1.f) scale_block(pb, m0, m1, j_begin, j_end);

  for (int64_t k0 = 0; k0 < pb.K; k0 += pb.kc) {
    const int64_t kc = min64(pb.kc, pb.K - k0);
    const bool accumulate = k0 > 0 || c_has_data;
    const bool last_k = k0 + kc >= pb.K;

    for (int64_t qb = q0; qb < q1; qb += pb.np) {
      const int64_t qe = min64(qb + pb.np, q1);
      // bblock + (q - qb) * bstride = rows [k0, k0+kc) of panel q
      const float* bblock;
      int64_t bstride;
      if (pb.packed != nullptr) {
        bblock = pb.packed->panel(qb) + k0 * nr;
        bstride = pb.packed->panel_stride();
      } else {
        pack_b_block(pb.transB, pb.B, pb.ldb, k0, kc, qb * nr, min64(pb.N, qe * nr) - qb * nr,
                     static_cast<int>(nr), nullptr, bbuf);
        bblock = bbuf;
        bstride = kc * nr;
      }

      for (int64_t ib = m0; ib < m1; ib += mc) {
        const int64_t ie = min64(ib + mc, m1);
        if (pb.transA) pack_a_transposed(pb.A, pb.lda, k0, kc, ib, ie - ib, g.mr, abuf);

        for (int64_t i0 = ib; i0 < ie; i0 += mr) {
          const int64_t rows = min64(mr, ie - i0);
          // transA: ap[kk*mr + i] = op(A)(i0 + i, k0 + kk); else at[i*lda + kk]
          const float* ap = pb.transA ? abuf + (i0 - ib) * kc : nullptr;
          const float* at = pb.A + i0 * pb.lda + k0;

          for (int64_t q = qb; q < qe; ++q) {
            const int64_t j0 = q * nr;
            const int64_t cols = min64(nr, pb.N - j0);
            const float* bp = bblock + (q - qb) * bstride;
            float* c = pb.C + i0 * pb.ldc + j0;
            const float* bias = last_k && pb.bias != nullptr ? pb.bias + j0 : nullptr;
            if (ap != nullptr) {
              if (rows == mr && cols == nr) g.tile_pa(kc, ap, bp, c, pb.ldc, accumulate, bias);
              else g.tile_pa_edge(rows, cols, kc, ap, bp, c, pb.ldc, accumulate, bias);
            } else if (rows == mr && cols == nr) {
              g.tile(kc, at, pb.lda, bp, c, pb.ldc, accumulate, bias);
            } else {
              g.tile_edge(rows, cols, kc, at, pb.lda, bp, c, pb.ldc, accumulate, bias);
            }
          }
        }
      }
    }
  }
}

// K == 0: C = beta*C (+ bias), beta == 0 overwriting (the problem's panels only).
void beta_bias_only(const Problem& pb) {
  const int64_t j0 = pb.q_begin * pb.g->nr, j1 = min64(pb.N, pb.q_end * pb.g->nr);
  for (int64_t i = 0; i < pb.M; ++i) {
    float* crow = pb.C + i * pb.ldc;
    for (int64_t j = j0; j < j1; ++j) {
      const float prev = pb.beta == 0.f ? 0.f : pb.beta * crow[j];
      crow[j] = prev + (pb.bias != nullptr ? pb.bias[j] : 0.f);
    }
  }
}

// Splits mt row tiles x nt panels into gm x gn blocks for `threads` threads.
// Cost (in micro-kernel calls) of the slowest thread: rounds * per-block work,
// where per-block work includes packing its B columns (~1.3 tile calls per
// panel) when B is not pre-packed, plus a small per-block dispatch cost.
// Ties go to more column splits (each thread then keeps its own B in its L2).
void choose_grid(int64_t mt, int64_t nt, int64_t threads, bool packs_b, int64_t* gm_out,
                 int64_t* gn_out) {
  const double pack_cost = packs_b ? 1.3 : 0.0;
  const int64_t max_blocks = 4 * threads;
  double best = -1.0;
  *gm_out = 1;
  *gn_out = 1;
  for (int64_t gn = min64(nt, max_blocks); gn >= 1; --gn) {
    for (int64_t gm = 1; gm <= min64(mt, max_blocks / gn); ++gm) {
      const int64_t blocks = gm * gn;
      const double rounds = static_cast<double>(ceil_div(blocks, threads));
      const double rt = static_cast<double>(ceil_div(mt, gm));
      const double pt = static_cast<double>(ceil_div(nt, gn));
      const double cost = rounds * (rt * pt + pt * pack_cost) + 0.05 * static_cast<double>(blocks);
      if (best < 0.0 || cost < best) {
        best = cost;
        *gm_out = gm;
        *gn_out = gn;
      }
    }
  }
}

void run(Problem& pb, ThreadPool* pool) {
  if (pb.M <= 0 || pb.N <= 0) return;
  if (pb.K <= 0) {
    beta_bias_only(pb);
    return;
  }
  const GemmKernel& g = *pb.g;
  const int64_t nkb = ceil_div(pb.K, kKcMax);
  pb.kc = ceil_div(pb.K, nkb);  // balanced k blocks
  pb.np = max64(1, kBBlockBytes / (pb.kc * g.nr * static_cast<int64_t>(sizeof(float))));

  const int64_t mt = ceil_div(pb.M, g.mr);  // row tiles
  const int64_t nt = pb.q_end - pb.q_begin;  // panels
  // Threads worth using: each must get >= kMinFmaPerThread multiply-adds.
  // (Divide first so huge M*N*K cannot overflow.)
  int64_t threads = pool != nullptr ? pool->size() : 1;
  const int64_t fma_per_k = pb.M * min64(pb.N - pb.q_begin * g.nr, nt * g.nr);
  const int64_t useful = fma_per_k >= kMinFmaPerThread ? pb.K * (fma_per_k / kMinFmaPerThread)
                                                       : pb.K * fma_per_k / kMinFmaPerThread;
  threads = min64(threads, max64(1, useful));
  if (threads <= 1 || mt * nt <= 1) {
    run_block(pb, 0, pb.M, pb.q_begin, pb.q_end);
    return;
  }

  // Block (bi, bj): row tiles [bi*mt/gm, (bi+1)*mt/gm), panels [bj*nt/gn, (bj+1)*nt/gn).
  struct Split { int64_t gm, gn, mt, nt; } sp{1, 1, mt, nt};
  choose_grid(mt, nt, threads, pb.packed == nullptr, &sp.gm, &sp.gn);
  const Problem& cpb = pb;
  // Captures two references only, so std::function stores it without allocating.
  pool->parallel_for(sp.gm * sp.gn, [&cpb, &sp](int64_t task, int) {
    const int64_t bi = task % sp.gm, bj = task / sp.gm;
    const int64_t t0 = bi * sp.mt / sp.gm, t1 = (bi + 1) * sp.mt / sp.gm;
    const int64_t m0 = t0 * cpb.g->mr, m1 = min64(cpb.M, t1 * cpb.g->mr);
    const int64_t q0 = cpb.q_begin + bj * sp.nt / sp.gn, q1 = cpb.q_begin + (bj + 1) * sp.nt / sp.gn;
    if (m0 < m1 && q0 < q1) run_block(cpb, m0, m1, q0, q1);
  });
}

}  // namespace

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias,
           ThreadPool* pool) {
  const GemmKernel& g = kernels().gemm;
  Problem pb{transA, transB, M, N, K, A, lda, B, ldb, nullptr, beta, C, ldc, bias, &g, 0, 0, 0, ceil_div(N, g.nr)};
  run(pb, pool);
}

void sgemm_packed(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& B,
                  float beta, float* C, int64_t ldc, const float* bias, ThreadPool* pool) {
  if (B.n != N) return;  // precondition violated
  sgemm_packed_panels(M, K, A, lda, B, 0, B.num_panels(), beta, C, ldc, bias, pool);
}

void sgemm_packed_panels(int64_t M, int64_t K, const float* A, int64_t lda, const PackedB& B,
                         int64_t q0, int64_t q1, float beta, float* C, int64_t ldc, const float* bias,
                         ThreadPool* pool) {
  const GemmKernel& g = kernels().gemm;
  if (B.k != K || B.nr != g.nr || !B.ok() || q0 < 0 || q1 > B.num_panels()) return;  // precondition violated
  if (q0 >= q1) return;
  Problem pb{false, false, M, B.n, K, A, lda, nullptr, 0, &B, beta, C, ldc, bias, &g, 0, 0, q0, q1};
  run(pb, pool);
}

}  // namespace cellstate
