// lnlstm_postgemm_scalar.cc - portable layer-normalised LSTM row stages (no ISA flags, std::exp /
// std::tanh): the reference the SIMD tiers (simd/lnlstm_postgemm.h) are tested against, and the
// path that always works. Contracts: cell/lnlstm_kernels.h.
#include <cmath>

#include "../cpu/dispatch.h"

namespace cellstate {
namespace {

float sigmoid(float v) {
  // exp of a non-positive number only: no overflow for any input.
  if (v >= 0.f) return 1.f / (1.f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.f + e);
}
float pass(const float* pre, int64_t j, float clip) { return pre && clip > 0.f && std::fabs(pre[j]) > clip ? 0.f : 1.f; }

float normalise(int64_t n, const float* z, float eps, float* xh) {
  float sum = 0.f;
  for (int64_t j = 0; j < n; ++j) sum += z[j];
  const float mean = sum / static_cast<float>(n);
  float v = 0.f;
  for (int64_t j = 0; j < n; ++j) v += (z[j] - mean) * (z[j] - mean);
  const float rs = 1.f / std::sqrt(v / static_cast<float>(n) + eps);
  for (int64_t j = 0; j < n; ++j) xh[j] = (z[j] - mean) * rs;
  return rs;
}

void normalise_backward(int64_t n, const float* dy, const float* gain, const float* xh, float rs, float* dz) {
  float m1 = 0.f, m2 = 0.f;
  for (int64_t j = 0; j < n; ++j) { const float d = dy[j] * gain[j]; m1 += d; m2 += d * xh[j]; }
  m1 /= static_cast<float>(n);
  m2 /= static_cast<float>(n);
  for (int64_t j = 0; j < n; ++j) dz[j] = rs * (dy[j] * gain[j] - m1 - xh[j] * m2);
}

void gates_forward(int64_t H, const float* g_ih, const float* xh_ih, const float* g_hh, const float* xh_hh,
                   const float* beta, float clip, float* pre, float* a, const float* c, float* ct) {
  for (int64_t j = 0; j < 4 * H; ++j) {
    float v = g_ih[j] * xh_ih[j] + g_hh[j] * xh_hh[j] + beta[j];
    if (pre) pre[j] = v;
    if (clip > 0.f) v = v > clip ? clip : (v < -clip ? -clip : v);
    a[j] = j >= 2 * H && j < 3 * H ? std::tanh(v) : sigmoid(v);  // i, f, o: σ; g: tanh
  }
  for (int64_t j = 0; j < H; ++j) ct[j] = a[H + j] * c[j] + a[j] * a[2 * H + j];
}

void state_forward(int64_t H, const float* g_c, const float* xh_c, const float* b_c, const float* o, float* c, float* h, float* y) {
  for (int64_t j = 0; j < H; ++j) {
    c[j] = g_c[j] * xh_c[j] + b_c[j];
    h[j] = y[j] = o[j] * std::tanh(c[j]);
  }
}

void state_backward(int64_t H, const float* dh, const float* dy, const float* o, const float* c, const float* dc,
                    const float* pre_o, float clip, float* dA_o, float* dct) {
  for (int64_t j = 0; j < H; ++j) {
    const float d = dh[j] + (dy ? dy[j] : 0.f), tc = std::tanh(c[j]);
    dA_o[j] = d * tc * o[j] * (1.f - o[j]) * pass(pre_o, j, clip);
    dct[j] = dc[j] + d * o[j] * (1.f - tc * tc);
  }
}

void gates_backward(int64_t H, const float* dctilde, const float* a, const float* c_prev, const float* pre, float clip,
                    float* dA, float* dc_prev) {
  for (int64_t j = 0; j < H; ++j) {
    const float ig = a[j], fg = a[H + j], gg = a[2 * H + j], d = dctilde[j];
    dA[j] = d * gg * ig * (1.f - ig) * pass(pre, j, clip);
    dA[H + j] = d * c_prev[j] * fg * (1.f - fg) * pass(pre, H + j, clip);
    dA[2 * H + j] = d * ig * (1.f - gg * gg) * pass(pre, 2 * H + j, clip);
    dc_prev[j] = d * fg;
  }
}

void add_products(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t j = 0; j < n; ++j) out[j] += a[j] * b[j];
}

}  // namespace

void fill_lnlstm_kernels_scalar(KernelTable& t) {
  t.lnlstm.normalise = normalise;
  t.lnlstm.normalise_backward = normalise_backward;
  t.lnlstm.gates_forward = gates_forward;
  t.lnlstm.state_forward = state_forward;
  t.lnlstm.state_backward = state_backward;
  t.lnlstm.gates_backward = gates_backward;
  t.lnlstm.add_products = add_products;
}

}  // namespace cellstate
