// lstm_postgemm_scalar.cc - portable LSTM forward epilogue (no ISA flags): the reference the
// SIMD versions are tested against, and the path that always works.
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

}  // namespace

void fill_lstm_kernels_scalar(KernelTable& t) {
  t.lstm.fwd_tile = fwd_tile_scalar;
  t.lstm.bwd_row = bwd_row_scalar;
  t.lstm.sigmoid = sigmoid_scalar;
  t.lstm.tanh = tanh_scalar;
}

}  // namespace cellstate
