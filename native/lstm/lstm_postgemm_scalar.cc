// lstm_postgemm_scalar.cc - portable LSTM forward epilogue (no ISA flags): the reference the
// SIMD versions are tested against, and the path that always works.
#include <algorithm>
#include <cmath>

#include "../simd/common.h"

#include "../cpu/dispatch.h"

namespace cellstate {
namespace {

float sigmoid(float v) {
  // exp of a non-positive number only: no overflow for any input.
  if (v >= 0.f) return 1.f / (1.f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.f + e);
}

void fwd_tile_scalar(int64_t m, int64_t u0, int64_t nu, int64_t H, const float* pre, int64_t ldp,
                     const float* hprev, float* c, float* hnext, const LstmFwdRow* rows) {
  constexpr int64_t vw = 4;  // the scalar table's vw (gemm_kernel_scalar.cc: nr = 16)
  for (int64_t i = 0; i < m; ++i) {
    const LstmFwdRow& r = rows[i];
    const float* a = pre + i * ldp;
    for (int64_t k = 0; k < nu; ++k) {
      const int64_t u = u0 + k;
      const float ig = sigmoid(a[k]);
      const float fg = sigmoid(a[vw + k]);
      const float gg = std::tanh(a[2 * vw + k]);
      const float og = sigmoid(a[3 * vw + k]);
      const float cn = fg * c[i * H + u] + ig * gg;
      const float hn = og * std::tanh(cn);
      if (r.gates) {
        r.gates[u] = ig; r.gates[H + u] = fg; r.gates[2 * H + u] = gg; r.gates[3 * H + u] = og;
        r.c_t[u] = cn;
        r.hprev[u] = hprev[i * H + u];
      }
      c[i * H + u] = cn;
      hnext[i * H + u] = hn;
      r.y[u] = hn;
    }
  }
}

void bwd_row_scalar(int64_t H, int64_t u0, int64_t u1, const float* gates, const float* c_t, const float* c_prev,
                    const float* dy, const float* dh, float* dc, float* dA, float* dAs,
                    float* db) {
  for (int64_t u = u0; u < u1; ++u) {
    const float ig = gates[u], fg = gates[H + u], gg = gates[2 * H + u], og = gates[3 * H + u];
    const float dhu = dh[u] + (dy ? dy[u] : 0.f);
    const float tc = std::tanh(c_t[u]);
    const float dO = dhu * tc;
    const float dC = dc[u] + dhu * og * (1.f - tc * tc);
    const float dI = dC * gg, dG = dC * ig, dF = dC * c_prev[u];
    dc[u] = dC * fg;
    const float ai = dI * ig * (1.f - ig), af = dF * fg * (1.f - fg);
    const float ag = dG * (1.f - gg * gg), ao = dO * og * (1.f - og);
    dA[u] = dAs[u] = ai;
    dA[H + u] = dAs[H + u] = af;
    dA[2 * H + u] = dAs[2 * H + u] = ag;
    dA[3 * H + u] = dAs[3 * H + u] = ao;
    if (db) {
      db[u] += ai; db[H + u] += af; db[2 * H + u] += ag; db[3 * H + u] += ao;
    }
  }
}

void sigmoid_scalar(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
}
void tanh_scalar(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

// The gate activations (simd/gate_act.h has the vector versions and the derivative choices).
// alpha*x is rounded before beta is added (keep_f32: no FMA), as TF.js computes hard_sigmoid.
// One switch per call, outside the loop (the loop body is an inlined lambda), as in gate_act.h.
template <class F>
inline void map(int64_t n, const float* x, float* y, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <class F>
inline void map_mul(int64_t n, const float* y, const float* g, float* d, F f) {
  for (int64_t i = 0; i < n; ++i) d[i] = g[i] * f(y[i]);
}
void act_scalar(const ActSpec& a, int64_t n, const float* x, float* y) {
  const float al = a.alpha, be = a.beta;
  switch (a.code) {
    case Act::sigmoid: return map(n, x, y, [](float v) { return sigmoid(v); });
    case Act::tanh: return map(n, x, y, [](float v) { return std::tanh(v); });
    case Act::relu: return map(n, x, y, [](float v) { return v > 0.f ? v : 0.f; });
    case Act::hardSigmoid: return map(n, x, y, [=](float v) { return std::min(std::max(keep_f32(al * v) + be, 0.f), 1.f); });
    case Act::affine: return map(n, x, y, [=](float v) { return keep_f32(al * v) + be; });
    case Act::leakyRelu: return map(n, x, y, [=](float v) { return v < 0.f ? al * v : v; });
    case Act::thresholdedRelu: return map(n, x, y, [=](float v) { return al < v ? v : 0.f; });
    case Act::scaledTanh: return map(n, x, y, [=](float v) { return al * std::tanh(be * v); });
    case Act::elu: return map(n, x, y, [=](float v) { return v < 0.f ? al * std::expm1(v) : v; });
    case Act::softsign: return map(n, x, y, [](float v) { return v / (1.f + std::fabs(v)); });
    case Act::softplus: return map(n, x, y, [](float v) { return std::max(v, 0.f) + std::log1p(std::exp(-std::fabs(v))); });
  }
}
void act_dmul_scalar(const ActSpec& a, int64_t n, const float* y, const float* g, float* d) {
  const float al = a.alpha;
  switch (a.code) {
    case Act::sigmoid: return map_mul(n, y, g, d, [](float v) { return v * (1.f - v); });
    case Act::tanh: return map_mul(n, y, g, d, [](float v) { return 1.f - v * v; });
    case Act::relu: return map_mul(n, y, g, d, [](float v) { return v > 0.f ? 1.f : 0.f; });
    case Act::hardSigmoid: return map_mul(n, y, g, d, [=](float v) { return v > 0.f && v < 1.f ? al : 0.f; });
    case Act::affine: return map_mul(n, y, g, d, [=](float) { return al; });
    case Act::leakyRelu: return map_mul(n, y, g, d, [=](float v) { return v > 0.f ? 1.f : al; });
    case Act::thresholdedRelu: return map_mul(n, y, g, d, [](float v) { return v != 0.f ? 1.f : 0.f; });
    case Act::scaledTanh: {
      if (al == 0.f) return map_mul(n, y, g, d, [](float) { return 0.f; });  // f = 0, f' = 0
      const float inv = 1.f / al, ab = al * a.beta;
      return map_mul(n, y, g, d, [=](float v) { const float t = v * inv; return ab * (1.f - t * t); });
    }
    case Act::elu: return map_mul(n, y, g, d, [=](float v) { return v > 0.f ? 1.f : v + al; });
    case Act::softsign: return map_mul(n, y, g, d, [](float v) { return (1.f - std::fabs(v)) * (1.f - std::fabs(v)); });
    case Act::softplus: return map_mul(n, y, g, d, [](float v) { return -std::expm1(-v); });
  }
}

}  // namespace

void fill_lstm_kernels_scalar(KernelTable& t) {
  t.lstm.fwd_tile = fwd_tile_scalar;
  t.lstm.bwd_row = bwd_row_scalar;
  t.lstm.sigmoid = sigmoid_scalar;
  t.lstm.tanh = tanh_scalar;
  t.lstm.act = act_scalar;
  t.lstm.act_dmul = act_dmul_scalar;
}

}  // namespace cellstate
