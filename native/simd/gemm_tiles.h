// simd/gemm_tiles.h - the GEMM micro-kernels of the dispatch table (GemmKernel in cpu/dispatch.h),
// written once for every SIMD tier: full tiles, edge tiles (the switch from run-time rows / columns
// to code compiled for that count) and the fill function. A per-ISA file (gemm/gemm_kernel_<isa>.cc)
// gives K = its vocabulary (simd/<isa>.h) plus its tile shape:
//   K::kMr      rows per tile (the register budget decides it; nr = 4 * K::kVw, 4 gates x kVw units)
//   K::kUnrollK k steps per main-loop iteration
//   K::kBFirst  true: a k step loads all B vectors first, then broadcasts each A element (enough
//               registers for both); false: broadcasts the kMr A elements first, then consumes the
//               B vectors one at a time
// It does not block, pack or thread (gemm/gemm.cc does). Everything is in an anonymous namespace,
// so no ISA code can be merged by the linker into scalar callers.
//
// Edge tiles: nothing outside the m x n region of C (or past n of the bias) is read or written.
// Where K::kMaskEveryEdgeVector (AVX-512's opmasks), every C vector of an edge tile goes through
// its own mask (K::edge_masks); otherwise whole vectors are plain and only a partial last vector
// goes through K::mask_part.
#pragma once

#include "../cpu/dispatch.h"
#include "common.h"

namespace cellstate {
namespace {

template <class K>
struct GemmTiles {
  using V = typename K::V;
  using A = typename K::A;
  using Mask = typename K::Mask;
  static constexpr int kVw = K::kVw;
  static constexpr int kNr = 4 * kVw;  // columns per panel
  static constexpr int kMr = K::kMr;
  // What an edge tile's masks travel as: all 4 vectors' masks (const Mask*), or the last one's (Mask).
  using MaskArg = typename K::EdgeMaskArg;
  static CS_ALWAYS_INLINE Mask mask_of(MaskArg mask, int v) {
    if constexpr (K::kMaskEveryEdgeVector) return mask[v];
    else return (void)v, mask;
  }

  // One k step: acc[i][v] += a(i, kk) * b[v*kVw .. v*kVw+kVw-1], b = panel row kk,
  // a(i, kk) = arow[i][kk * KS] (KS = 1: rows of A; kMr: a packed A tile).
  template <int M, int NV, int KS>
  static CS_ALWAYS_INLINE void kstep(V (&acc)[M][NV], const float* const (&arow)[M], int64_t kk, const float* b) {
    if constexpr (K::kBFirst) {
      V bv[NV];
      CS_UNROLL for (int v = 0; v < NV; ++v) bv[v] = K::load(b + v * kVw);
      CS_UNROLL for (int i = 0; i < M; ++i) {
        const A ai = K::bcast(arow[i] + kk * KS);
        CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::fma_a(ai, bv[v], acc[i][v]);
      }
    } else {
      A ai[M];
      CS_UNROLL for (int i = 0; i < M; ++i) ai[i] = K::bcast(arow[i] + kk * KS);
      CS_UNROLL for (int v = 0; v < NV; ++v) {
        const V bv = K::load(b + v * kVw);
        CS_UNROLL for (int i = 0; i < M; ++i) acc[i][v] = K::fma_a(ai[i], bv, acc[i][v]);
      }
    }
  }

  // k steps kk + U0 .. kk + U - 1, panel rows bp + U0*kNr ..., in order (unrolled at compile time).
  template <int U0, int U, int M, int NV, int KS>
  static CS_ALWAYS_INLINE void ksteps(V (&acc)[M][NV], const float* const (&arow)[M], int64_t kk, const float* bp) {
    if constexpr (U0 < U) {
      kstep<M, NV, KS>(acc, arow, kk + U0, bp + U0 * kNr);
      ksteps<U0 + 1, U, M, NV, KS>(acc, arow, kk, bp);
    }
  }

  // C[M x (NV*kVw, masked per EDGE)] = (accumulate ? C : 0) + A[M x k] * Bp[k x kNr] (+ bias, last)
  //   a:  PA == false: element (i, kk) at a[i*lda + kk] (rows of A)
  //       PA == true:  element (i, kk) at a[kk*kMr + i] (packed A tile; lda unused)
  //   bp: element (kk, j) at bp[kk*kNr + j];  c: element (i, j) at c[i*ldc + j]
  // EDGE: vector v goes through mask[v] (K::kMaskEveryEdgeVector), or the last one only through mask.
  template <int M, int NV, bool EDGE, bool PA>
  static CS_ALWAYS_INLINE void tile_impl(int64_t k, const float* a, int64_t lda, const float* bp, float* c,
                                         int64_t ldc, bool accumulate, const float* bias, MaskArg mask) {
    V acc[M][NV];
    CS_UNROLL for (int i = 0; i < M; ++i) {
      CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = K::zero();
    }
    const float* arow[M];
    CS_UNROLL for (int i = 0; i < M; ++i) arow[i] = PA ? a + i : a + i * lda;
    constexpr int KS = PA ? kMr : 1;

    // Main loop unrolled by kUnrollK k steps; bp advances one panel row (kNr floats) per step.
    constexpr int U = K::kUnrollK;
    int64_t kk = 0;
    for (; kk + U <= k; kk += U) {
      ksteps<0, U, M, NV, KS>(acc, arow, kk, bp);
      bp += U * kNr;
    }
    for (; kk < k; ++kk) {
      kstep<M, NV, KS>(acc, arow, kk, bp);
      bp += kNr;
    }

    // bias[j] added after C, as a separate pass would: (C + A*B) + bias.
    V bv[NV];
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      bv[v] = bias == nullptr ? K::zero()
              : EDGE && (K::kMaskEveryEdgeVector || v == NV - 1) ? K::load_mask(bias + v * kVw, mask_of(mask, v))
                                                                 : K::loadu(bias + v * kVw);
    }
    CS_UNROLL for (int i = 0; i < M; ++i) {
      float* crow = c + i * ldc;
      CS_UNROLL for (int v = 0; v < NV; ++v) {
        float* cp = crow + v * kVw;
        V r = acc[i][v];
        if (EDGE && (K::kMaskEveryEdgeVector || v == NV - 1)) {
          const Mask mv = mask_of(mask, v);
          if (accumulate) r = K::add(r, K::load_mask(cp, mv));
          if (bias != nullptr) r = K::add(r, bv[v]);
          K::store_mask(cp, mv, r);
        } else {
          if (accumulate) r = K::add(r, K::loadu(cp));
          if (bias != nullptr) r = K::add(r, bv[v]);
          K::storeu(cp, r);
        }
      }
    }
  }

  static void tile_full(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
                        bool accumulate, const float* bias) {
    tile_impl<kMr, 4, false, false>(k, a, lda, bp, c, ldc, accumulate, bias, MaskArg{});
  }

  static void tile_pa(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate,
                      const float* bias) {
    tile_impl<kMr, 4, false, true>(k, ap, 0, bp, c, ldc, accumulate, bias, MaskArg{});
  }

  // switch_n targets: NV vectors of M rows; M rows of n columns.
  template <int M, bool EDGE, bool PA>
  struct Vectors {
    template <int NV>
    static CS_ALWAYS_INLINE void run(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
                                     bool accumulate, const float* bias, MaskArg mask) {
      tile_impl<M, NV, EDGE, PA>(k, a, lda, bp, c, ldc, accumulate, bias, mask);
    }
  };

  // Rows fixed at M, 1 <= n <= kNr columns: ceil(n/kVw) vectors.
  template <int M, bool PA>
  static void tile_rows(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
                        bool accumulate, const float* bias) {
    if constexpr (K::kMaskEveryEdgeVector) {
      Mask mask[4];
      K::edge_masks(n, mask);
      const int64_t nv = (n + kVw - 1) / kVw;
      switch_n<4, Vectors<M, true, PA>>(nv, k, a, lda, bp, c, ldc, accumulate, bias, static_cast<const Mask*>(mask));
    } else {
      const int64_t nv = (n + kVw - 1) / kVw;
      const int rem = static_cast<int>(n - (nv - 1) * kVw);  // valid lanes of the last vector, 1..kVw
      const Mask last = K::mask_part(rem);
      if (rem == kVw) {
        switch_n<4, Vectors<M, false, PA>>(nv, k, a, lda, bp, c, ldc, accumulate, bias, last);
      } else {
        switch_n<4, Vectors<M, true, PA>>(nv, k, a, lda, bp, c, ldc, accumulate, bias, last);
      }
    }
  }

  template <bool PA>
  struct Rows {
    template <int M>
    static CS_ALWAYS_INLINE void run(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c,
                                     int64_t ldc, bool accumulate, const float* bias) {
      tile_rows<M, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias);
    }
  };

  template <bool PA>
  static void tile_edge_impl(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
                             float* c, int64_t ldc, bool accumulate, const float* bias) {
    // With per-vector masks n <= 0 needs no test (nv = 0 runs nothing).
    if constexpr (!K::kMaskEveryEdgeVector) {
      if (n <= 0) return;
    }
    switch_n<kMr, Rows<PA>>(m, n, k, a, lda, bp, c, ldc, accumulate, bias);  // m <= 0: nothing to do
  }

  static void tile_edge(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c,
                        int64_t ldc, bool accumulate, const float* bias) {
    tile_edge_impl<false>(m, n, k, a, lda, bp, c, ldc, accumulate, bias);
  }

  static void tile_pa_edge(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c, int64_t ldc,
                           bool accumulate, const float* bias) {
    tile_edge_impl<true>(m, n, k, ap, 0, bp, c, ldc, accumulate, bias);
  }

  static void fill(KernelTable& t) {
    t.gemm.mr = kMr;
    t.gemm.nr = kNr;
    t.gemm.vw = kVw;
    t.gemm.tile = &tile_full;
    t.gemm.tile_edge = &tile_edge;
    t.gemm.tile_pa = &tile_pa;
    t.gemm.tile_pa_edge = &tile_pa_edge;
  }
};

}  // namespace
}  // namespace cellstate
