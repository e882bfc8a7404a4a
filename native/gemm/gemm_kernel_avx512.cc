// gemm_kernel_avx512.cc - AVX-512 GEMM micro-kernels (mr = 6, nr = 64).
//
// The only file compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq
// -mavx2 -mfma for the GEMM. A tile is 6 rows x 4 zmm vectors (64 columns):
// 24 zmm accumulators, 4 zmm for one row of the packed B panel and 1 for the
// broadcast A element (29 of 32 registers). Per k step: 4 aligned B loads,
// 6 broadcasts, 24 FMAs. The same template reads A either as rows (tile) or
// as a packed tile (tile_pa: the 6 values of one k step adjacent). Edge tiles reuse the same template with fewer rows /
// vectors and masked C loads/stores, so nothing outside the m x n region of C
// is touched. It does not block, pack or thread (gemm.cc does) and it must not
// contain any non-static inline function or template shared with other files
// (everything is in an anonymous namespace) so no AVX-512 code can be picked
// by the linker for a scalar caller.
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

constexpr int kVw = 16;        // floats per zmm
constexpr int kNr = 4 * kVw;   // 64 columns per panel (4 gates x 16 units for LSTM)
constexpr int kMr = 6;         // rows per tile

// One k step: acc[i][v] += a(i, kk) * b[v*16 .. v*16+15], b = panel row kk.
// a(i, kk) = arow[i][kk * KS]: KS = 1 for rows of A, kMr for a packed A tile.
template <int M, int NV, int KS>
CS_ALWAYS_INLINE void kstep(__m512 (&acc)[M][NV], const float* const (&arow)[M], int64_t kk,
                            const float* b) {
  __m512 bv[NV];
  CS_UNROLL for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * kVw);
  CS_UNROLL for (int i = 0; i < M; ++i) {
    const __m512 ai = _mm512_set1_ps(arow[i][kk * KS]);
    CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
  }
}

// C[M x (NV*16 masked)] = (accumulate ? C : 0) + A[M x k] * Bp[k x 64]
//   a:  PA == false: element (i, kk) at a[i*lda + kk] (rows of A)
//       PA == true:  element (i, kk) at a[kk*kMr + i] (packed A tile; lda unused)
//   bp: element (kk, j) at bp[kk*64 + j]
//   c:  element (i, j)  at c[i*ldc + j]
// MASKED: vector v of each row uses mask[v] for its C load/store; otherwise
// all NV vectors are full.
template <int M, int NV, bool MASKED, bool PA>
CS_ALWAYS_INLINE void tile_impl(int64_t k, const float* a, int64_t lda, const float* bp,
                                float* c, int64_t ldc, bool accumulate, const float* bias, const __mmask16* mask) {
  __m512 acc[M][NV];
  CS_UNROLL for (int i = 0; i < M; ++i) {
    CS_UNROLL for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const float* arow[M];
  CS_UNROLL for (int i = 0; i < M; ++i) arow[i] = PA ? a + i : a + i * lda;
  constexpr int KS = PA ? kMr : 1;

  // Main loop unrolled by 4 k steps; bp advances one panel row (64 floats) per step.
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
  __m512 bv[NV];
  CS_UNROLL for (int v = 0; v < NV; ++v) {
    bv[v] = bias == nullptr ? _mm512_setzero_ps()
            : MASKED ? _mm512_maskz_loadu_ps(mask[v], bias + v * kVw) : _mm512_loadu_ps(bias + v * kVw);
  }
  CS_UNROLL for (int i = 0; i < M; ++i) {
    float* crow = c + i * ldc;
    CS_UNROLL for (int v = 0; v < NV; ++v) {
      float* cp = crow + v * kVw;
      __m512 r = acc[i][v];
      if (MASKED) {
        if (accumulate) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask[v], cp));
        if (bias != nullptr) r = _mm512_add_ps(r, bv[v]);
        _mm512_mask_storeu_ps(cp, mask[v], r);
      } else {
        if (accumulate) r = _mm512_add_ps(r, _mm512_loadu_ps(cp));
        if (bias != nullptr) r = _mm512_add_ps(r, bv[v]);
        _mm512_storeu_ps(cp, r);
      }
    }
  }
}

void tile_full(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, false>(k, a, lda, bp, c, ldc, accumulate, bias, nullptr);
}

void tile_pa(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, const float* bias) {
  tile_impl<kMr, 4, false, true>(k, ap, 0, bp, c, ldc, accumulate, bias, nullptr);
}

// Rows fixed at M, columns n <= 64 via masks; only ceil(n/16) vectors computed.
template <int M, bool PA>
void tile_rows(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c,
               int64_t ldc, bool accumulate, const float* bias) {
  // mask[v] selects columns [16v, 16v+16) that are < n.
  __mmask16 mask[4];
  for (int v = 0; v < 4; ++v) {
    const int64_t cnt = n - v * kVw;  // valid columns in vector v
    mask[v] = cnt >= kVw ? static_cast<__mmask16>(0xFFFF)
              : cnt <= 0 ? static_cast<__mmask16>(0)
                         : static_cast<__mmask16>((1u << cnt) - 1u);
  }
  const int64_t nv = (n + kVw - 1) / kVw;
  switch (nv) {
    case 1: tile_impl<M, 1, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, mask); break;
    case 2: tile_impl<M, 2, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, mask); break;
    case 3: tile_impl<M, 3, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, mask); break;
    case 4: tile_impl<M, 4, true, PA>(k, a, lda, bp, c, ldc, accumulate, bias, mask); break;
    default: break;  // n <= 0: nothing to do
  }
}

template <bool PA>
void tile_edge_impl(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
                    float* c, int64_t ldc, bool accumulate, const float* bias) {
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

void fill_kernels_avx512(KernelTable& t) {
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
