// lstm_postgemm_avx512.cc - AVX-512 LSTM forward epilogue (vw = 16 hidden units per vector).
//
// The only LSTM file compiled with AVX-512 flags. Vector exp/sigmoid/tanh live here, in an
// anonymous namespace, so no AVX-512 code can be linked into a scalar caller. Accuracy: exp
// uses a degree-6 minimax polynomial after range reduction (~2 ulp); tanh uses an odd
// polynomial for |x| < 0.625 (no cancellation near 0) and 1 - 2/(e^{2|x|} + 1) above; inputs are
// clamped so |x| ~ 100 (or ±inf) gives 0/1/±1, never NaN or overflow.
#include "../cpu/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

// GCC 12's own avx512fintrin.h trips -Wmaybe-uninitialized (its _mm512_undefined_ps idiom).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace cellstate {
namespace {

constexpr int kVw = 16;

inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}

inline __m512 sigmoid_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 tanh_ps(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  // small |x|: x + x^3 * P(x^2)
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  // large |x|: sign(x) * (1 - 2 / (exp(2|x|) + 1))
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 e = exp_ps(_mm512_add_ps(ax, ax));
  const __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.f), _mm512_add_ps(e, one)));
  const __m512 bigs = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(big), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, bigs, small);
}

void fwd_tile_avx512(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                     const float* hprev, float* c, float* hnext, const LstmFwdRow* rows) {
  const __mmask16 k = nu >= kVw ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nu) - 1);
  for (int64_t i = 0; i < m; ++i) {
    const LstmFwdRow& r = rows[i];
    const float* a = pre + i * ldp;
    const __m512 ig = sigmoid_ps(_mm512_loadu_ps(a));
    const __m512 fg = sigmoid_ps(_mm512_loadu_ps(a + kVw));
    const __m512 gg = tanh_ps(_mm512_loadu_ps(a + 2 * kVw));
    const __m512 og = sigmoid_ps(_mm512_loadu_ps(a + 3 * kVw));
    const __m512 cn = _mm512_fmadd_ps(fg, _mm512_maskz_loadu_ps(k, c + i * H + u0), _mm512_mul_ps(ig, gg));
    const __m512 hn = _mm512_mul_ps(og, tanh_ps(cn));
    if (r.gates) {
      _mm512_mask_storeu_ps(r.gates + u0, k, ig);
      _mm512_mask_storeu_ps(r.gates + H + u0, k, fg);
      _mm512_mask_storeu_ps(r.gates + 2 * H + u0, k, gg);
      _mm512_mask_storeu_ps(r.gates + 3 * H + u0, k, og);
      _mm512_mask_storeu_ps(r.c_t + u0, k, cn);
      _mm512_mask_storeu_ps(r.hprev + u0, k, _mm512_maskz_loadu_ps(k, hprev + i * H + u0));
    }
    _mm512_mask_storeu_ps(c + i * H + u0, k, cn);
    _mm512_mask_storeu_ps(hnext + i * H + u0, k, hn);
    _mm512_mask_storeu_ps(r.y + u0, k, hn);
  }
}

void bwd_row_avx512(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t, const float* c_prev,
                    const float* dy, const float* dh, float* dc, float* dA, float* dAs,
                    float* db) {
  const __m512 one = _mm512_set1_ps(1.f);
  for (int64_t u = u0; u < u1; u += kVw) {
    const int64_t n = u1 - u;
    const __mmask16 k = n >= kVw ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
    const __m512 ig = _mm512_maskz_loadu_ps(k, gates + u), fg = _mm512_maskz_loadu_ps(k, gates + H + u);
    const __m512 gg = _mm512_maskz_loadu_ps(k, gates + 2 * H + u), og = _mm512_maskz_loadu_ps(k, gates + 3 * H + u);
    const __m512 dhu = dy ? _mm512_add_ps(_mm512_maskz_loadu_ps(k, dh + u), _mm512_maskz_loadu_ps(k, dy + u)) : _mm512_maskz_loadu_ps(k, dh + u);
    const __m512 tc = tanh_ps(_mm512_maskz_loadu_ps(k, c_t + u));
    const __m512 dO = _mm512_mul_ps(dhu, tc);
    const __m512 dC = _mm512_fmadd_ps(_mm512_mul_ps(dhu, og), _mm512_sub_ps(one, _mm512_mul_ps(tc, tc)), _mm512_maskz_loadu_ps(k, dc + u));
    const __m512 dI = _mm512_mul_ps(dC, gg), dG = _mm512_mul_ps(dC, ig), dF = _mm512_mul_ps(dC, _mm512_maskz_loadu_ps(k, c_prev + u));
    _mm512_mask_storeu_ps(dc + u, k, _mm512_mul_ps(dC, fg));
    const __m512 ai = _mm512_mul_ps(_mm512_mul_ps(dI, ig), _mm512_sub_ps(one, ig));
    const __m512 af = _mm512_mul_ps(_mm512_mul_ps(dF, fg), _mm512_sub_ps(one, fg));
    const __m512 ag = _mm512_mul_ps(dG, _mm512_sub_ps(one, _mm512_mul_ps(gg, gg)));
    const __m512 ao = _mm512_mul_ps(_mm512_mul_ps(dO, og), _mm512_sub_ps(one, og));
    _mm512_mask_storeu_ps(dA + u, k, ai); _mm512_mask_storeu_ps(dAs + u, k, ai);
    _mm512_mask_storeu_ps(dA + H + u, k, af); _mm512_mask_storeu_ps(dAs + H + u, k, af);
    _mm512_mask_storeu_ps(dA + 2 * H + u, k, ag); _mm512_mask_storeu_ps(dAs + 2 * H + u, k, ag);
    _mm512_mask_storeu_ps(dA + 3 * H + u, k, ao); _mm512_mask_storeu_ps(dAs + 3 * H + u, k, ao);
    if (db) {
      _mm512_mask_storeu_ps(db + u, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, db + u), ai));
      _mm512_mask_storeu_ps(db + H + u, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, db + H + u), af));
      _mm512_mask_storeu_ps(db + 2 * H + u, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, db + 2 * H + u), ag));
      _mm512_mask_storeu_ps(db + 3 * H + u, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, db + 3 * H + u), ao));
    }
  }
}

template <__m512 (*F)(__m512)>
void map_avx512(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + kVw <= n; i += kVw) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, k, F(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

}  // namespace

void fill_lstm_kernels_avx512(KernelTable& t) {
  t.lstm.fwd_tile = fwd_tile_avx512;
  t.lstm.bwd_row = bwd_row_avx512;
  t.lstm.sigmoid = map_avx512<sigmoid_ps>;
  t.lstm.tanh = map_avx512<tanh_ps>;
}

}  // namespace cellstate
#endif
