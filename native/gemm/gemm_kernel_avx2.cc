// gemm_kernel_avx2.cc - AVX2 + FMA GEMM micro-kernels (mr = 3, nr = 32).
//
// The only GEMM file compiled with -mavx2 -mfma. A tile is 3 rows x 4 ymm
// vectors (32 columns): 12 ymm accumulators + 3 broadcast A values + 1 B
// vector = all 16 ymm registers. Per k step: 3 broadcasts, 4 B loads, 12 FMAs.
// Edge tiles reuse the template with fewer rows / vectors; only the last
// vector of a row can be partial and uses vmaskmov loads/stores, so nothing
// outside the m x n region of C is touched. It does not block, pack or thread
// (gemm.cc does) and keeps everything in an anonymous namespace so that no
// AVX2 code can be merged by the linker into scalar callers.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#define CS_ALWAYS_INLINE __forceinline
#define CS_UNROLL
#else
#define CS_ALWAYS_INLINE inline __attribute__((always_inline))
#define CS_PRAGMA(x) _Pragma(#x)
#define CS_UNROLL CS_PRAGMA(GCC unroll 8)
#endif

namespace cellstate {
namespace {

constexpr int kVw = 8;         // floats per ymm
constexpr int kNr = 4 * kVw;   // 32 columns per panel (4 gates x 8 units for LSTM)
constexpr int kMr = 3;         // rows per tile

// One k step: acc[i][v] += a(i, kk) * b[v*8 .. v*8+7], b = panel row kk,
// a(i, kk) = arow[i][kk * KS] (KS = 1: rows of A; kMr: a packed A tile).
// B vectors are consumed one at a time (register budget: 12 + 3 + 1 = 16).
template <int M, int NV, int KS>
CS_ALWAYS_INLINE void kstep(__m256 (&acc)[M][NV], const float* const (&arow)[M], int64_t kk,
                            const float* b) {
  __m256 ai[M];
  CS_UNROLL for (int i = 0; i < M; ++i) ai[i] = _mm256_broadcast_ss(arow[i] + kk * KS);
  CS_UNROLL for (int v = 0; v < NV; ++v) {
    const __m256 bv = _mm256_load_ps(b + v * kVw);
    CS_UNROLL for (int i = 0; i < M; ++i) acc[i][v] = _mm256_fmadd_ps(ai[i], bv, acc[i][v]);
  }
}

// C[M x (NV*8, last vector possibly partial)] = (accumulate ? C : 0) + A[M x k] * Bp[k x 32]
//   a:  PA == false: element (i, kk) at a[i*lda + kk] (rows of A)
//       PA == true:  element (i, kk) at a[kk*kMr + i] (packed A tile; lda unused)
//   bp: element (kk, j) at bp[kk*32 + j]
//   c:  element (i, j)  at c[i*ldc + j]
// PARTIAL: vector NV-1 is loaded/stored through lane mask `last` (lanes < n).
template <int M, int NV, bool PARTIAL, bool PA>
CS_ALWAYS_INLINE void tile_impl(int64_t k, const float* a, int64_t lda, const float* bp,
                                float* c, int64_t ldc, bool accumulate, const float* bias, __m256i last) {
  __m256 acc[M][NV];
  CS_UNROLL for (int i = 0; i < M; ++i) {
    CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  const float* arow[M];
  CS_UNROLL for (int i = 0; i < M; ++i) arow[i] = PA ? a + i : a + i * lda;
  constexpr int KS = PA ? kMr : 1;

  // Unrolled by 4 k steps; bp advances one panel row (32 floats) per step.
  int64_t kk = 0;
  for (; kk + 4 <= k; kk += 4) {
    kstep<M, NV, KS>(acc, arow, kk + 0, bp + 0 * kNr);
    kstep<M, NV, KS>(acc, arow, kk + 1, bp + 1 * kNr);
    kstep<M, NV, KS>(acc, arow, kk + 2, bp + 2 * kNr);
    kstep<M, NV, KS>(acc, arow, kk + 3, bp + 3 * kNr);
    bp += 4 * kNr;
  }
  for (; kk < k; ++kk) {
    kstep<M, NV, KS>(acc, arow, kk, bp);
    bp += kNr;
  }

  // bias[j] added after C, as a separate pass would: (C + A*B) + bias.
  __m256 bv[NV];
  CS_UNROLL for (int v = 0; v < NV; ++v) {
    bv[v] = bias == nullptr ? _mm256_setzero_ps()
            : PARTIAL && v == NV - 1 ? _mm256_maskload_ps(bias + v * kVw, last) : _mm256_loadu_ps(bias + v * kVw);
  }
  CS_UNROLL for (int i = 0; i < M; ++i) {
    float* crow = c + i * ldc;
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      float* cp = crow + v * kVw;
      __m256 r = acc[i][v];
      if (PARTIAL && v == NV - 1) {
        if (accumulate) r = _mm256_add_ps(r, _mm256_maskload_ps(cp, last));
        if (bias != nullptr) r = _mm256_add_ps(r, bv[v]);
        _mm256_maskstore_ps(cp, last, r);
      } else {
        if (accumulate) r = _mm256_add_ps(r, _mm256_loadu_ps(cp));
        if (bias != nullptr) r = _mm256_add_ps(r, bv[v]);
        _mm256_storeu_ps(cp, r);
      }
    }
  }
}

void tile_full(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, false>(k, a, lda, bp, c, ldc, accumulate, bias, _mm256_setzero_si256());
}

void tile_pa(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, true>(k, ap, 0, bp, c, ldc, accumulate, bias, _mm256_setzero_si256());
}

// Rows fixed at M, 1 <= n <= 32 columns: ceil(n/8) vectors, the last one
// masked when n is not a multiple of 8.
template <int M, bool PA>
void tile_rows(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c,
               int64_t ldc, bool accumulate, const float* bias) {
  const int64_t nv = (n + kVw - 1) / kVw;
  const int rem = static_cast<int>(n - (nv - 1) * kVw);  // valid lanes of the last vector, 1..8
  // lane l of `last` is all-ones iff l < rem
  const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  if (rem == kVw) {
    switch (nv) {
      case 1: tile_impl<M, 1, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 2: tile_impl<M, 2, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 3: tile_impl<M, 3, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 4: tile_impl<M, 4, false, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      default: break;
    }
  } else {
    switch (nv) {
      case 1: tile_impl<M, 1, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 2: tile_impl<M, 2, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 3: tile_impl<M, 3, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
      case 4: tile_impl<M, 4, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, last); break;
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

void fill_kernels_avx2(KernelTable& t) {
  t.gemm.mr = kMr;
  t.gemm.nr = kNr;
  t.gemm.vw = kVw;
  t.gemm.tile = &tile_full;
  t.gemm.tile_edge = &tile_edge;
  t.gemm.tile_pa = &tile_pa;
  t.gemm.tile_pa_edge = &tile_pa_edge;
}

}  // namespace cellstate

#endif  // x86-64
