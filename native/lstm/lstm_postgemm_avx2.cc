// lstm_postgemm_avx2.cc - AVX2+FMA LSTM forward epilogue (vw = 8 hidden units per vector).
//
// The only LSTM file compiled with -mavx2 -mfma. Same math and accuracy notes as the AVX-512
// file (exp by range reduction and a degree-6 polynomial, 2^n built in the exponent field;
// tanh by an odd polynomial near 0). Partial vectors (nu < 8) use maskload/maskstore so no
// byte outside the nu units is read or written.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace cellstate {
namespace {

constexpr int kVw = 8;

inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // 2^n: n in [-126, 127] after the clamp, so (n + 127) << 23 is a normal float's exponent.
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 e = exp_ps(_mm256_add_ps(ax, ax));
  const __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.f), _mm256_add_ps(e, one)));
  const __m256 bigs = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  return _mm256_blendv_ps(bigs, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

void fwd_tile_avx2(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                   const float* hprev, float* c, float* hnext, const LstmFwdRow* rows) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nu < kVw ? nu : kVw)), lane);
  for (int64_t i = 0; i < m; ++i) {
    const LstmFwdRow& r = rows[i];
    const float* a = pre + i * ldp;
    const __m256 ig = sigmoid_ps(_mm256_loadu_ps(a));
    const __m256 fg = sigmoid_ps(_mm256_loadu_ps(a + kVw));
    const __m256 gg = tanh_ps(_mm256_loadu_ps(a + 2 * kVw));
    const __m256 og = sigmoid_ps(_mm256_loadu_ps(a + 3 * kVw));
    const __m256 cn = _mm256_fmadd_ps(fg, _mm256_maskload_ps(c + i * H + u0, k), _mm256_mul_ps(ig, gg));
    const __m256 hn = _mm256_mul_ps(og, tanh_ps(cn));
    if (r.gates) {
      _mm256_maskstore_ps(r.gates + u0, k, ig);
      _mm256_maskstore_ps(r.gates + H + u0, k, fg);
      _mm256_maskstore_ps(r.gates + 2 * H + u0, k, gg);
      _mm256_maskstore_ps(r.gates + 3 * H + u0, k, og);
      _mm256_maskstore_ps(r.c_t + u0, k, cn);
      _mm256_maskstore_ps(r.hprev + u0, k, _mm256_maskload_ps(hprev + i * H + u0, k));
    }
    _mm256_maskstore_ps(c + i * H + u0, k, cn);
    _mm256_maskstore_ps(hnext + i * H + u0, k, hn);
    _mm256_maskstore_ps(r.y + u0, k, hn);
  }
}

void bwd_row_avx2(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t, const float* c_prev,
                    const float* dy, const float* dh, float* dc, float* dA, float* dAs,
                  float* db) {
  const __m256 one = _mm256_set1_ps(1.f);
  for (int64_t u = u0; u < u1; u += kVw) {
    const int64_t n = u1 - u;
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < kVw ? n : kVw)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 ig = _mm256_maskload_ps(gates + u, k), fg = _mm256_maskload_ps(gates + H + u, k);
    const __m256 gg = _mm256_maskload_ps(gates + 2 * H + u, k), og = _mm256_maskload_ps(gates + 3 * H + u, k);
    const __m256 dhu = dy ? _mm256_add_ps(_mm256_maskload_ps(dh + u, k), _mm256_maskload_ps(dy + u, k)) : _mm256_maskload_ps(dh + u, k);
    const __m256 tc = tanh_ps(_mm256_maskload_ps(c_t + u, k));
    const __m256 dO = _mm256_mul_ps(dhu, tc);
    const __m256 dC = _mm256_fmadd_ps(_mm256_mul_ps(dhu, og), _mm256_sub_ps(one, _mm256_mul_ps(tc, tc)), _mm256_maskload_ps(dc + u, k));
    const __m256 dI = _mm256_mul_ps(dC, gg), dG = _mm256_mul_ps(dC, ig), dF = _mm256_mul_ps(dC, _mm256_maskload_ps(c_prev + u, k));
    _mm256_maskstore_ps(dc + u, k, _mm256_mul_ps(dC, fg));
    const __m256 ai = _mm256_mul_ps(_mm256_mul_ps(dI, ig), _mm256_sub_ps(one, ig));
    const __m256 af = _mm256_mul_ps(_mm256_mul_ps(dF, fg), _mm256_sub_ps(one, fg));
    const __m256 ag = _mm256_mul_ps(dG, _mm256_sub_ps(one, _mm256_mul_ps(gg, gg)));
    const __m256 ao = _mm256_mul_ps(_mm256_mul_ps(dO, og), _mm256_sub_ps(one, og));
    _mm256_maskstore_ps(dA + u, k, ai); _mm256_maskstore_ps(dAs + u, k, ai);
    _mm256_maskstore_ps(dA + H + u, k, af); _mm256_maskstore_ps(dAs + H + u, k, af);
    _mm256_maskstore_ps(dA + 2 * H + u, k, ag); _mm256_maskstore_ps(dAs + 2 * H + u, k, ag);
    _mm256_maskstore_ps(dA + 3 * H + u, k, ao); _mm256_maskstore_ps(dAs + 3 * H + u, k, ao);
    if (db) {
      _mm256_maskstore_ps(db + u, k, _mm256_add_ps(_mm256_maskload_ps(db + u, k), ai));
      _mm256_maskstore_ps(db + H + u, k, _mm256_add_ps(_mm256_maskload_ps(db + H + u, k), af));
      _mm256_maskstore_ps(db + 2 * H + u, k, _mm256_add_ps(_mm256_maskload_ps(db + 2 * H + u, k), ag));
      _mm256_maskstore_ps(db + 3 * H + u, k, _mm256_add_ps(_mm256_maskload_ps(db + 3 * H + u, k), ao));
    }
  }
}

template <__m256 (*F)(__m256)>
void map_avx2(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + kVw <= n; i += kVw) _mm256_storeu_ps(y + i, F(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(y + i, k, F(_mm256_maskload_ps(x + i, k)));
  }
}

}  // namespace

void fill_lstm_kernels_avx2(KernelTable& t) {
  t.lstm.fwd_tile = fwd_tile_avx2;
  t.lstm.bwd_row = bwd_row_avx2;
  t.lstm.sigmoid = map_avx2<sigmoid_ps>;
  t.lstm.tanh = map_avx2<tanh_ps>;
}

}  // namespace cellstate
#endif
