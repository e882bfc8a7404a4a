// gemm_kernel_neon.cc - AArch64 Advanced SIMD (NEON) GEMM micro-kernels (mr = 6, nr = 16).
//
// NEON is part of the AArch64 base ISA, so this file needs no compiler flag; it is compiled only
// into AArch64 builds (scripts/native-sources.js group "neon") and chosen at run time like the x86
// tiers (dispatch.cc; CELLSTATE_MAX_ISA=scalar keeps the scalar kernels). A tile is 6 rows x 4
// q-registers (16 columns = 4 gates x 4 units, the panel layout of the scalar tier): 24
// accumulators, one B vector at a time and the 6 A values of the k step, within the 32 vector
// registers. Per k step: 4 B loads, 24 FMAs (fmla by element). Edge tiles reuse the template
// with fewer rows / vectors; a partial last vector goes through a small buffer, so nothing outside
// the m x n region of C (or past n of the bias) is read or written. It does not block, pack or
// thread (gemm.cc does).
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include <arm_neon.h>

#include <cstdint>

#define CS_ALWAYS_INLINE inline __attribute__((always_inline))
#define CS_PRAGMA(x) _Pragma(#x)
#define CS_UNROLL CS_PRAGMA(GCC unroll 8)

namespace cellstate {
namespace {

constexpr int kVw = 4;        // floats per q-register
constexpr int kNr = 4 * kVw;  // 16 columns per panel
constexpr int kMr = 6;        // rows per tile

// One k step: acc[i][v] += a(i, kk) * b[v*4 .. v*4+3], b = panel row kk,
// a(i, kk) = arow[i][kk * KS] (KS = 1: rows of A; kMr: a packed A tile).
template <int M, int NV, int KS>
CS_ALWAYS_INLINE void kstep(float32x4_t (&acc)[M][NV], const float* const (&arow)[M], int64_t kk, const float* b) {
  float ai[M];
  CS_UNROLL for (int i = 0; i < M; ++i) ai[i] = arow[i][kk * KS];
  CS_UNROLL for (int v = 0; v < NV; ++v) {
    const float32x4_t bv = vld1q_f32(b + v * kVw);
    CS_UNROLL for (int i = 0; i < M; ++i) acc[i][v] = vfmaq_n_f32(acc[i][v], bv, ai[i]);
  }
}

// Lanes < n of p (n in 1..4) into a vector, the rest 0; never reads p[n..3].
CS_ALWAYS_INLINE float32x4_t load_part(const float* p, int n) {
  float t[kVw] = {0.f, 0.f, 0.f, 0.f};
  for (int l = 0; l < n; ++l) t[l] = p[l];
  return vld1q_f32(t);
}
// Lanes < n of r to p; never writes p[n..3].
CS_ALWAYS_INLINE void store_part(float* p, float32x4_t r, int n) {
  float t[kVw];
  vst1q_f32(t, r);
  for (int l = 0; l < n; ++l) p[l] = t[l];
}

// C[M x (NV*4, the last vector possibly partial: rem lanes)] = (accumulate ? C : 0) + A * Bp
//   a:  PA == false: element (i, kk) at a[i*lda + kk];  PA == true: at a[kk*kMr + i]
//   bp: element (kk, j) at bp[kk*16 + j];  c: element (i, j) at c[i*ldc + j]
template <int M, int NV, bool PARTIAL, bool PA>
CS_ALWAYS_INLINE void tile_impl(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
                                bool accumulate, const float* bias, int rem) {
  float32x4_t acc[M][NV];
  CS_UNROLL for (int i = 0; i < M; ++i) {
    CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = vdupq_n_f32(0.f);
  }
  const float* arow[M];
  CS_UNROLL for (int i = 0; i < M; ++i) arow[i] = PA ? a + i : a + i * lda;
  constexpr int KS = PA ? kMr : 1;

  int64_t kk = 0;
  for (; kk + 2 <= k; kk += 2) {
    kstep<M, NV, KS>(acc, arow, kk + 0, bp);
    kstep<M, NV, KS>(acc, arow, kk + 1, bp + kNr);
    bp += 2 * kNr;
  }
  for (; kk < k; ++kk) {
    kstep<M, NV, KS>(acc, arow, kk, bp);
    bp += kNr;
  }

  // bias[j] added after C, as a separate pass would: (C + A*B) + bias.
  float32x4_t bv[NV];
  CS_UNROLL for (int v = 0; v < NV; ++v) {
    bv[v] = bias == nullptr ? vdupq_n_f32(0.f)
            : PARTIAL && v == NV - 1 ? load_part(bias + v * kVw, rem) : vld1q_f32(bias + v * kVw);
  }
  CS_UNROLL for (int i = 0; i < M; ++i) {
    float* crow = c + i * ldc;
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      float* cp = crow + v * kVw;
      float32x4_t r = acc[i][v];
      if (PARTIAL && v == NV - 1) {
        if (accumulate) r = vaddq_f32(r, load_part(cp, rem));
        if (bias != nullptr) r = vaddq_f32(r, bv[v]);
        store_part(cp, r, rem);
      } else {
        if (accumulate) r = vaddq_f32(r, vld1q_f32(cp));
        if (bias != nullptr) r = vaddq_f32(r, bv[v]);
        vst1q_f32(cp, r);
      }
    }
  }
}

void tile_full(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, false>(k, a, lda, bp, c, ldc, accumulate, bias, kVw);
}

void tile_pa(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, true>(k, ap, 0, bp, c, ldc, accumulate, bias, kVw);
}

// Rows fixed at M, 1 <= n <= 16 columns: ceil(n/4) vectors, the last one partial when n % 4 != 0.
template <int M, bool PA>
void tile_rows(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
  const int64_t nv = (n + kVw - 1) / kVw;
  const int rem = static_cast<int>(n - (nv - 1) * kVw);  // valid lanes of the last vector, 1..4
  if (rem == kVw) {
    switch (nv) {
      case 1: tile_impl<M, 1, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 2: tile_impl<M, 2, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 3: tile_impl<M, 3, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 4: tile_impl<M, 4, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      default: break;
    }
  } else {
    switch (nv) {
      case 1: tile_impl<M, 1, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 2: tile_impl<M, 2, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 3: tile_impl<M, 3, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      case 4: tile_impl<M, 4, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, rem); break;
      default: break;
    }
  }
}

template <bool PA>
void tile_edge_impl(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
                    float* c, int64_t ldc, bool accumulate, const float* bias) {
  if (n <= 0) return;
  switch (m) {
    case 1: tile_rows<1, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 2: tile_rows<2, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 3: tile_rows<3, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 4: tile_rows<4, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 5: tile_rows<5, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 6: tile_rows<6, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    default: break;  // m <= 0: nothing to do
  }
}

void tile_edge(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
               float* c, int64_t ldc, bool accumulate, const float* bias) {
  tile_edge_impl<false>(m, n, k, a, lda, bp, c, ldc, accumulate, bias);
}

void tile_pa_edge(int64_t m, int64_t n, int64_t k, const float* ap, const float* bp, float* c,
                  int64_t ldc, bool accumulate, const float* bias) {
  tile_edge_impl<true>(m, n, k, ap, 0, bp, c, ldc, accumulate, bias);
}

}  // namespace

void fill_kernels_neon(KernelTable& t) {
  t.gemm.mr = kMr;
  t.gemm.nr = kNr;
  t.gemm.vw = kVw;
  t.gemm.tile = &tile_full;
  t.gemm.tile_edge = &tile_edge;
  t.gemm.tile_pa = &tile_pa;
  t.gemm.tile_pa_edge = &tile_pa_edge;
}

}  // namespace cellstate

#endif  // AArch64
