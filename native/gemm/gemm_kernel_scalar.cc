// gemm_kernel_scalar.cc - portable GEMM micro-kernels (mr = 4, nr = 16).
//
// Compiled with NO ISA flags: plain loops over a 4 x 16 float accumulator
// block that the compiler may auto-vectorise with the baseline ISA (SSE2 on
// x86-64, NEON on arm64). vw = 4 is the notional vector width, so nr = 16 =
// 4 gates x 4 units for the LSTM panel layout. This is the fallback and the
// reference tier; it is not tuned for speed and does not block, pack or
// thread (gemm.cc does).
#include "../cpu/dispatch.h"

#include <cstdint>
#include <cstring>

namespace cellstate {
namespace {

constexpr int kVw = 4;        // notional floats per vector
constexpr int kNr = 4 * kVw;  // 16 columns per panel
constexpr int kMr = 4;        // rows per tile
constexpr int kHalf = 8;      // columns accumulated per pass

// C[M x n] = (accumulate ? C : 0) + A[M x k] * Bp[k x 16], n <= 16.
//   a:  PA == false: element (i, kk) at a[i*lda + kk] (rows of A)
//       PA == true:  element (i, kk) at a[kk*kMr + i] (packed A tile; lda unused)
//   bp: element (kk, j) at bp[kk*16 + j]  (all 16 columns exist, zero-padded)
//   c:  element (i, j)  at c[i*ldc + j], only j < n touched
#if defined(__GNUC__)
// GCC/Clang generic vectors: 4 floats, lowered to the baseline ISA (SSE2 /
// NEON) without any -m flag. Plain loops over scalar arrays were vectorised
// along k (strided, shuffle-heavy) by GCC 12, ~5x slower.
typedef float f4 __attribute__((vector_size(16)));
#else
struct f4 {  // portable stand-in with the few operations used below
  float v[4];
  float& operator[](int i) { return v[i]; }
  float operator[](int i) const { return v[i]; }
};
inline f4 operator*(float s, const f4& x) { return f4{{s * x[0], s * x[1], s * x[2], s * x[3]}}; }
inline f4& operator+=(f4& x, const f4& y) {
  for (int l = 0; l < 4; ++l) x.v[l] += y.v[l];
  return x;
}
#endif

inline f4 load4(const float* p) {
  f4 r;
  std::memcpy(&r, p, sizeof(r));
  return r;
}

template <int M, bool PA>
void tile_impl(int64_t n, int64_t k, const float* a, int64_t lda, const float* bp, float* c,
               int64_t ldc, bool accumulate, const float* bias) {
  // Two passes over 8-column halves keep the accumulators (M x 2 f4 = 8 SSE
  // registers at M = 4) in registers; a full 4 x 16 block would not fit.
  for (int h = 0; h < kNr; h += kHalf) {
    if (h >= n) break;
    f4 acc[M][2];
    for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = f4{0.f, 0.f, 0.f, 0.f};
    const float* b = bp + h;  // column h of panel row 0
    for (int64_t kk = 0; kk < k; ++kk) {
      const f4 b0 = load4(b), b1 = load4(b + 4);  // panel row kk, columns h..h+7
      for (int i = 0; i < M; ++i) {
        const float aik = PA ? a[kk * kMr + i] : a[i * lda + kk];
        acc[i][0] += aik * b0;
        acc[i][1] += aik * b1;
      }
      b += kNr;  // next panel row
    }
    const int64_t nh = n - h < kHalf ? n - h : kHalf;  // valid columns in this half
    for (int i = 0; i < M; ++i) {
      float* crow = c + i * ldc + h;
      float r[kHalf];
      std::memcpy(r, &acc[i][0], sizeof(r));
      if (accumulate) {
        for (int64_t j = 0; j < nh; ++j) r[j] += crow[j];
      }
      if (bias != nullptr) {  // added after C, as a separate pass would: (C + A*B) + bias
        for (int64_t j = 0; j < nh; ++j) r[j] += bias[h + j];
      }
      for (int64_t j = 0; j < nh; ++j) crow[j] = r[j];
    }
  }
}

void tile_full(int64_t k, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
               bool accumulate, const float* bias) {
  tile_impl<kMr, false>(kNr, k, a, lda, bp, c, ldc, accumulate, bias);
}

void tile_pa(int64_t k, const float* ap, const float* bp, float* c, int64_t ldc, bool accumulate, const float* bias) {
  tile_impl<kMr, true>(kNr, k, ap, 0, bp, c, ldc, accumulate, bias);
}

template <bool PA>
void tile_edge_impl(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* bp,
                    float* c, int64_t ldc, bool accumulate, const float* bias) {
  if (n <= 0) return;
  switch (m) {
    case 1: tile_impl<1, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 2: tile_impl<2, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 3: tile_impl<3, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
    case 4: tile_impl<4, PA>(n, k, a, lda, bp, c, ldc, accumulate, bias); break;
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

void fill_kernels_scalar(KernelTable& t) {
  t.gemm.mr = kMr;
  t.gemm.nr = kNr;
  t.gemm.vw = kVw;
  t.gemm.tile = &tile_full;
  t.gemm.tile_edge = &tile_edge;
  t.gemm.tile_pa = &tile_pa;
  t.gemm.tile_pa_edge = &tile_pa_edge;
}

}  // namespace cellstate
