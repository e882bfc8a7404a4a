// lstm_postgemm_neon.cc - AArch64 NEON LSTM forward epilogue and BPTT step (vw = 4 hidden units
// per vector), the twin of lstm_postgemm_avx2.cc: the same exp (range reduction, degree-6
// polynomial, 2^n built in the exponent field) and tanh (odd polynomial below |x| = 0.625,
// 1 - 2/(e^2|x| + 1) above), so every tier agrees to a few ulp. NEON has no masked loads: a
// partial vector (fewer than 4 units) goes through a small buffer, so no byte outside the units
// is read or written. Compiled only into AArch64 builds; needs no compiler flag.
#include "../cpu/dispatch.h"

#if defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>

namespace cellstate {
namespace {

constexpr int kVw = 4;

inline float32x4_t exp_ps(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.0f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));  // x - n*ln2 (hi)
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));           // ... - n*ln2 (lo)
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.f)), p, vmulq_f32(r, r));
  // 2^n: n in [-126, 127] after the clamp, so (n + 127) << 23 is a normal float's exponent.
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

inline float32x4_t sigmoid_ps(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.f);
  return vdivq_f32(one, vaddq_f32(one, exp_ps(vnegq_f32(x))));
}

inline float32x4_t tanh_ps(float32x4_t x) {
  const float32x4_t ax = vabsq_f32(x);
  const float32x4_t z = vmulq_f32(x, x);
  float32x4_t p = vdupq_n_f32(-5.70498872745e-3f);
  p = vfmaq_f32(vdupq_n_f32(2.06390887954e-2f), p, z);
  p = vfmaq_f32(vdupq_n_f32(-5.37397155531e-2f), p, z);
  p = vfmaq_f32(vdupq_n_f32(1.33314422036e-1f), p, z);
  p = vfmaq_f32(vdupq_n_f32(-3.33332819422e-1f), p, z);
  const float32x4_t small = vfmaq_f32(x, vmulq_f32(p, z), x);
  const float32x4_t one = vdupq_n_f32(1.f);
  const float32x4_t e = exp_ps(vaddq_f32(ax, ax));
  const float32x4_t big = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.f), vaddq_f32(e, one)));
  // copy x's sign onto big (bit select: the sign bit from x, the rest from big)
  const float32x4_t bigs = vbslq_f32(vdupq_n_u32(0x80000000u), x, big);
  return vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.625f)), small, bigs);
}

// Lanes < n (1..4) of p, the rest 0 / the first n lanes of r to p; nothing past p[n-1] touched.
inline float32x4_t load_n(const float* p, int64_t n) {
  if (n >= kVw) return vld1q_f32(p);
  float t[kVw] = {0.f, 0.f, 0.f, 0.f};
  for (int64_t l = 0; l < n; ++l) t[l] = p[l];
  return vld1q_f32(t);
}
inline void store_n(float* p, float32x4_t r, int64_t n) {
  if (n >= kVw) {
    vst1q_f32(p, r);
    return;
  }
  float t[kVw];
  vst1q_f32(t, r);
  for (int64_t l = 0; l < n; ++l) p[l] = t[l];
}

void fwd_tile_neon(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                   const float* hprev, float* c, float* hnext, const LstmFwdRow* rows) {
  const int64_t n = nu < kVw ? nu : kVw;
  for (int64_t i = 0; i < m; ++i) {
    const LstmFwdRow& r = rows[i];
    const float* a = pre + i * ldp;  // the panel is full width: all 4 lanes of each gate exist
    const float32x4_t ig = sigmoid_ps(vld1q_f32(a));
    const float32x4_t fg = sigmoid_ps(vld1q_f32(a + kVw));
    const float32x4_t gg = tanh_ps(vld1q_f32(a + 2 * kVw));
    const float32x4_t og = sigmoid_ps(vld1q_f32(a + 3 * kVw));
    const float32x4_t cn = vfmaq_f32(vmulq_f32(ig, gg), fg, load_n(c + i * H + u0, n));
    const float32x4_t hn = vmulq_f32(og, tanh_ps(cn));
    if (r.gates) {
      store_n(r.gates + u0, ig, n);
      store_n(r.gates + H + u0, fg, n);
      store_n(r.gates + 2 * H + u0, gg, n);
      store_n(r.gates + 3 * H + u0, og, n);
      store_n(r.c_t + u0, cn, n);
      store_n(r.hprev + u0, load_n(hprev + i * H + u0, n), n);
    }
    store_n(c + i * H + u0, cn, n);
    store_n(hnext + i * H + u0, hn, n);
    store_n(r.y + u0, hn, n);
  }
}

void bwd_row_neon(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t, const float* c_prev,
                  const float* dy, const float* dh, float* dc, float* dA, float* dAs, float* db) {
  const float32x4_t one = vdupq_n_f32(1.f);
  for (int64_t u = u0; u < u1; u += kVw) {
    const int64_t n = u1 - u;
    const float32x4_t ig = load_n(gates + u, n), fg = load_n(gates + H + u, n);
    const float32x4_t gg = load_n(gates + 2 * H + u, n), og = load_n(gates + 3 * H + u, n);
    const float32x4_t dhu = dy ? vaddq_f32(load_n(dh + u, n), load_n(dy + u, n)) : load_n(dh + u, n);
    const float32x4_t tc = tanh_ps(load_n(c_t + u, n));
    const float32x4_t dO = vmulq_f32(dhu, tc);
    const float32x4_t dC = vfmaq_f32(load_n(dc + u, n), vmulq_f32(dhu, og), vsubq_f32(one, vmulq_f32(tc, tc)));
    const float32x4_t dI = vmulq_f32(dC, gg), dG = vmulq_f32(dC, ig), dF = vmulq_f32(dC, load_n(c_prev + u, n));
    store_n(dc + u, vmulq_f32(dC, fg), n);
    const float32x4_t ai = vmulq_f32(vmulq_f32(dI, ig), vsubq_f32(one, ig));
    const float32x4_t af = vmulq_f32(vmulq_f32(dF, fg), vsubq_f32(one, fg));
    const float32x4_t ag = vmulq_f32(dG, vsubq_f32(one, vmulq_f32(gg, gg)));
    const float32x4_t ao = vmulq_f32(vmulq_f32(dO, og), vsubq_f32(one, og));
    store_n(dA + u, ai, n); store_n(dAs + u, ai, n);
    store_n(dA + H + u, af, n); store_n(dAs + H + u, af, n);
    store_n(dA + 2 * H + u, ag, n); store_n(dAs + 2 * H + u, ag, n);
    store_n(dA + 3 * H + u, ao, n); store_n(dAs + 3 * H + u, ao, n);
    if (db) {
      store_n(db + u, vaddq_f32(load_n(db + u, n), ai), n);
      store_n(db + H + u, vaddq_f32(load_n(db + H + u, n), af), n);
      store_n(db + 2 * H + u, vaddq_f32(load_n(db + 2 * H + u, n), ag), n);
      store_n(db + 3 * H + u, vaddq_f32(load_n(db + 3 * H + u, n), ao), n);
    }
  }
}

template <float32x4_t (*F)(float32x4_t)>
void map_neon(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + kVw <= n; i += kVw) vst1q_f32(y + i, F(vld1q_f32(x + i)));
  if (i < n) store_n(y + i, F(load_n(x + i, n - i)), n - i);
}

}  // namespace

void fill_lstm_kernels_neon(KernelTable& t) {
  t.lstm.fwd_tile = fwd_tile_neon;
  t.lstm.bwd_row = bwd_row_neon;
  t.lstm.sigmoid = map_neon<sigmoid_ps>;
  t.lstm.tanh = map_neon<tanh_ps>;
}

}  // namespace cellstate
#endif  // AArch64
