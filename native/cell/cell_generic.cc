// cell_generic.cc - forward and BPTT for every cell configuration the fused LSTM path does not
// take: LSTM with projection / peepholes / coupled input-forget gate / clip, GRU (both formulas),
// RNN (tanh, relu). Equations: docs/equations.md. No ISA flags.
//
// It mirrors lib/backend/ts/{lstm,gru,rnn}.ts loop for loop (same names, same order of
// operations), with every matrix product going through the packed GEMM (threaded) and the
// elementwise stages as plain loops. Each step multiplies all B state rows and skips entries that
// have ended in the elementwise stage. Sizes: T, B, I, H, P = Hout, N = T*B, G = gates*H.
#include <cmath>
#include <cstring>
#include <vector>

#include "cell.h"
#include "seq.h"

namespace cellstate {
namespace {

float sigmoid(float v) {
  if (v >= 0.f) return 1.f / (1.f + std::exp(-v));
  const float e = std::exp(v);
  return e / (1.f + e);
}
float clampf(float v, float c) { return c == 0.f ? v : (v > c ? c : (v < -c ? -c : v)); }
// Derivative of clamp: 1 inside [-c, c] (or without clipping), 0 outside.
float pass(const float* pre, int64_t i, float c) { return pre && std::fabs(pre[i]) > c ? 0.f : 1.f; }

void add_column_sums(float* out, const float* m, int64_t rows, int64_t ld, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < width; ++j) out[j] += m[r * ld + j];
  }
}

// Per step: the row of each batch entry at processing step st, -1 when it has ended.
void step_rows(const SeqDesc& s, int64_t st, std::vector<int64_t>& rows) {
  for (int64_t b = 0; b < s.B; ++b) {
    const int64_t t = step_time(s, st, b);
    rows[b] = t < 0 ? -1 : t * s.rowT + b * s.rowB;
  }
}

// ------------------------------------------------------------------ LSTM (generic)

void lstm_forward_generic(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, H = c.H, P = c.P, G = c.G, N = T * B;
  const bool proj = P != H, cifg = c.input_forget, peep = c.peephole;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;

  AlignedFloats gx_own;
  float* gx = train ? k.gates : (gx_own = aligned_floats(N * G)).get();  // [N, 4H] Gx, then gates
  sgemm_packed(N, G, c.I, io.x, io.ldx, w.wih_t, 0.f, gx, G, w.bias_x.data(), pool);
  AlignedFloats h = aligned_floats(B * P), cs = aligned_floats(B * H), hr = aligned_floats(B * G);
  AlignedFloats mbuf = aligned_floats(proj ? B * H : 0), hnew = aligned_floats(proj ? B * P : 0);
  if (io.h0) std::memcpy(h.get(), io.h0, B * P * sizeof(float));
  if (io.c0) std::memcpy(cs.get(), io.c0, B * H * sizeof(float));
  if (train) std::memcpy(k.c0, cs.get(), B * H * sizeof(float));
  std::vector<int64_t> rows(B);

  for (int64_t st = 0; st < T; ++st) {
    step_rows(s, st, rows);
    sgemm_packed(B, G, P, h.get(), P, w.whh_t, 0.f, hr.get(), G, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      float* g0 = gx + row * G;
      const float* r0 = hr.get() + b * G;
      float* cb = cs.get() + b * H;
      for (int64_t j = 0; j < H; ++j) {
        const float cp = cb[j];
        float ai = g0[j] + r0[j], af = g0[H + j] + r0[H + j], ag = g0[2 * H + j] + r0[2 * H + j], ao = g0[3 * H + j] + r0[3 * H + j];
        if (peep) { ai += w.peep_i[j] * cp; af += w.peep_f[j] * cp; }
        if (train && k.pre) { float* pr = k.pre + row * G; pr[j] = ai; pr[H + j] = af; pr[2 * H + j] = ag; }
        ai = clampf(ai, clip); af = clampf(af, clip); ag = clampf(ag, clip);
        const float ig = sigmoid(ai), fg = cifg ? 1.f - ig : sigmoid(af), gg = std::tanh(ag);
        const float cn = fg * cp + ig * gg;
        if (peep) ao += w.peep_o[j] * cn;  // the output gate sees the NEW cell state
        if (train && k.pre) k.pre[row * G + 3 * H + j] = ao;
        const float og = sigmoid(clampf(ao, clip));
        const float mn = og * std::tanh(cn);
        if (train) {
          g0[j] = ig; g0[H + j] = fg; g0[2 * H + j] = gg; g0[3 * H + j] = og;
          k.c[row * H + j] = cn;
          if (k.m) k.m[row * H + j] = mn;
        }
        cb[j] = cn;
        if (proj) {
          mbuf[b * H + j] = mn;
        } else {
          if (train) k.hprev[row * P + j] = h[b * P + j];
          h[b * P + j] = mn;
          io.y[row * io.ldy + j] = mn;
        }
      }
    }
    if (proj) {
      sgemm_packed(B, P, H, mbuf.get(), H, w.whr_t, 0.f, hnew.get(), P, nullptr, pool);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        for (int64_t j = 0; j < P; ++j) {
          if (train) k.hprev[row * P + j] = h[b * P + j];
          h[b * P + j] = hnew[b * P + j];
          io.y[row * io.ldy + j] = hnew[b * P + j];
        }
      }
    }
  }
  zero_padded_rows(s, io.y, io.ldy, P);
  std::memcpy(io.hN, h.get(), B * P * sizeof(float));
  std::memcpy(io.cN, cs.get(), B * H * sizeof(float));
}

void lstm_backward_generic(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, P = c.P, G = c.G, N = T * B;
  const bool proj = P != H, cifg = c.input_forget, peep = c.peephole;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * P), dc = aligned_floats(B * H);
  if (g.dhN) std::memcpy(dh.get(), g.dhN, B * P * sizeof(float));
  if (g.dcN) std::memcpy(dc.get(), g.dcN, B * H * sizeof(float));
  AlignedFloats dA = aligned_floats(N * G), dAs = aligned_floats(B * G), dhnew = aligned_floats(B * P);
  AlignedFloats dm_own = aligned_floats(proj ? B * H : 0), dhrows = aligned_floats(proj ? N * P : 0);
  float* dm = proj ? dm_own.get() : dh.get();  // ∂(o * tanh c): through W_hr, or ∂h itself
  std::vector<int64_t> rows(B);

  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * G * sizeof(float));
    step_rows(s, st, rows);
    for (int64_t b = 0; b < B; ++b) {
      if (rows[b] >= 0 && g.dy) {
        for (int64_t j = 0; j < P; ++j) dh[b * P + j] += g.dy[rows[b] * g.lddy + j];
      }
    }
    if (proj) {
      sgemm_packed(B, H, P, dh.get(), P, w.whr_n, 0.f, dm, H, nullptr, pool);  // ∂m = ∂h · W_hr
      for (int64_t b = 0; b < B; ++b) {
        if (rows[b] >= 0) std::memcpy(dhrows.get() + rows[b] * P, dh.get() + b * P, P * sizeof(float));
      }
    }
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      const int64_t tprev = st > 0 ? step_time(s, st - 1, b) : -1;
      const float* cp = tprev >= 0 ? k.c + (tprev * s.rowT + b * s.rowB) * H : k.c0 + b * H;
      const float* gt = k.gates + row * G;
      const float* pre = k.pre ? k.pre + row * G : nullptr;
      float* da = dA.get() + row * G;
      float* das = dAs.get() + b * G;
      for (int64_t j = 0; j < H; ++j) {
        const float ig = gt[j], fg = gt[H + j], gg = gt[2 * H + j], og = gt[3 * H + j];
        const float cn = k.c[row * H + j], cpj = cp[j];
        const float tc = std::tanh(cn), dmj = dm[b * H + j];
        const float ao = dmj * tc * og * (1.f - og) * pass(pre, 3 * H + j, clip);
        float dC = dc[b * H + j] + dmj * og * (1.f - tc * tc);
        if (peep) dC += ao * w.peep_o[j];
        float dI = dC * gg, af = 0.f;
        if (cifg) dI -= dC * cpj;  // f = 1 - i
        else af = dC * cpj * fg * (1.f - fg) * pass(pre, H + j, clip);
        const float ai = dI * ig * (1.f - ig) * pass(pre, j, clip);
        const float ag = dC * ig * (1.f - gg * gg) * pass(pre, 2 * H + j, clip);
        float dcprev = dC * fg;
        if (peep) {
          dcprev += ai * w.peep_i[j] + af * w.peep_f[j];
          g.dp_i[j] += ai * cpj;
          g.dp_f[j] += af * cpj;
          g.dp_o[j] += ao * cn;
        }
        dc[b * H + j] = dcprev;
        da[j] = das[j] = ai; da[H + j] = das[H + j] = af; da[2 * H + j] = das[2 * H + j] = ag; da[3 * H + j] = das[3 * H + j] = ao;
      }
    }
    sgemm_packed(B, P, G, dAs.get(), G, w.whh_n, 0.f, dhnew.get(), P, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      if (rows[b] >= 0) std::memcpy(dh.get() + b * P, dhnew.get() + b * P, P * sizeof(float));
    }
  }
  std::memcpy(g.dh0, dh.get(), B * P * sizeof(float));
  std::memcpy(g.dc0, dc.get(), B * H * sizeof(float));
  sgemm(true, false, G, I, N, dA.get(), G, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, P, N, dA.get(), G, k.hprev, P, 1.f, g.dw_hh, P, nullptr, pool);
  if (proj) sgemm(true, false, P, H, N, dhrows.get(), P, k.m, H, 1.f, g.dw_hr, H, nullptr, pool);
  if (g.db_ih) add_column_sums(g.db_ih, dA.get(), N, G, G);
  if (g.db_hh) add_column_sums(g.db_hh, dA.get(), N, G, G);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

// ------------------------------------------------------------------ GRU

void gru_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, H = c.H, G = c.G, N = T * B;
  const bool lbr = c.linear_before_reset;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;

  AlignedFloats gx_own;
  float* gx = train ? k.gates : (gx_own = aligned_floats(N * G)).get();  // [N, 3H]
  sgemm_packed(N, G, c.I, io.x, io.ldx, w.wih_t, 0.f, gx, G, w.bias_x.data(), pool);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * G), rh = aligned_floats(lbr ? 0 : B * H);
  if (io.h0) std::memcpy(h.get(), io.h0, B * H * sizeof(float));
  std::vector<int64_t> rows(B);

  for (int64_t st = 0; st < T; ++st) {
    step_rows(s, st, rows);
    // [r, z] (and, with linearBeforeReset, n) recurrent products from h_{t-1}.
    sgemm_packed(B, lbr ? G : 2 * H, H, h.get(), H, w.whh_t, 0.f, hr.get(), G, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      float* g0 = gx + row * G;
      const float* r0 = hr.get() + b * G;
      for (int64_t j = 0; j < H; ++j) {
        const float ar = g0[j] + r0[j], az = g0[H + j] + r0[H + j];
        if (train && k.pre) { k.pre[row * G + j] = ar; k.pre[row * G + H + j] = az; }
        g0[j] = sigmoid(clampf(ar, clip));  // r and z overwrite their Gx columns
        g0[H + j] = sigmoid(clampf(az, clip));
        if (!lbr) rh[b * H + j] = g0[j] * h[b * H + j];
      }
    }
    // ONNX formula: the n product takes r*h, known only now.
    if (!lbr) sgemm_packed(B, H, H, rh.get(), H, w.whn_t, 0.f, hr.get() + 2 * H, G, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      float* g0 = gx + row * G;
      const float* r0 = hr.get() + b * G;
      for (int64_t j = 0; j < H; ++j) {
        const float r = g0[j], z = g0[H + j];
        const float hn = r0[2 * H + j] + w.b_hn[j];
        const float an = g0[2 * H + j] + (lbr ? r * hn : hn);
        if (train && k.pre) k.pre[row * G + 2 * H + j] = an;
        const float n = std::tanh(clampf(an, clip));
        const float hp = h[b * H + j];
        const float hnew = (1.f - z) * n + z * hp;
        if (train) {
          g0[2 * H + j] = n;
          k.hn[row * H + j] = lbr ? hn : rh[b * H + j];
          k.hprev[row * H + j] = hp;
        }
        h[b * H + j] = hnew;
        io.y[row * io.ldy + j] = hnew;
      }
    }
  }
  zero_padded_rows(s, io.y, io.ldy, H);
  std::memcpy(io.hN, h.get(), B * H * sizeof(float));
}

void gru_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, G = c.G, N = T * B;
  const bool lbr = c.linear_before_reset;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * H);
  if (g.dhN) std::memcpy(dh.get(), g.dhN, B * H * sizeof(float));
  AlignedFloats dGx = aligned_floats(N * G), dGh = aligned_floats(N * G), dGs = aligned_floats(B * G);
  AlignedFloats dhdirect = aligned_floats(B * H), dhnew = aligned_floats(B * H), drh = aligned_floats(lbr ? 0 : B * H);
  std::vector<int64_t> rows(B);

  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dGs.get(), 0, B * G * sizeof(float));
    step_rows(s, st, rows);
    // Phase 1: everything that does not need ∂(r*h).
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      const float* gt = k.gates + row * G;
      const float* pre = k.pre ? k.pre + row * G : nullptr;
      float *gxr = dGx.get() + row * G, *ghr = dGh.get() + row * G, *gs = dGs.get() + b * G;
      for (int64_t j = 0; j < H; ++j) {
        const float dhj = dh[b * H + j] + (g.dy ? g.dy[row * g.lddy + j] : 0.f);
        const float r = gt[j], z = gt[H + j], n = gt[2 * H + j];
        const float hp = k.hprev[row * H + j], hn = k.hn[row * H + j];
        const float an = dhj * (1.f - z) * (1.f - n * n) * pass(pre, 2 * H + j, clip);
        const float az = dhj * (hp - n) * z * (1.f - z) * pass(pre, H + j, clip);
        gxr[H + j] = ghr[H + j] = gs[H + j] = az;
        gxr[2 * H + j] = an;
        dhdirect[b * H + j] = dhj * z;
        if (lbr) {
          const float ar = an * hn * r * (1.f - r) * pass(pre, j, clip);
          gxr[j] = ghr[j] = gs[j] = ar;
          ghr[2 * H + j] = gs[2 * H + j] = an * r;
        } else {
          ghr[2 * H + j] = gs[2 * H + j] = an;
        }
      }
    }
    if (!lbr) {
      // ONNX: ∂(r*h) = ∂A_n · W_hn, then phase 2: ∂r and the r-path into ∂h_{t-1}.
      sgemm_packed(B, H, H, dGs.get() + 2 * H, G, w.whn_n, 0.f, drh.get(), H, nullptr, pool);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        const float* pre = k.pre ? k.pre + row * G : nullptr;
        for (int64_t j = 0; j < H; ++j) {
          const float r = k.gates[row * G + j], hp = k.hprev[row * H + j], d = drh[b * H + j];
          const float ar = d * hp * r * (1.f - r) * pass(pre, j, clip);
          dGx[row * G + j] = dGh[row * G + j] = dGs[b * G + j] = ar;
          dhdirect[b * H + j] += d * r;
        }
      }
    }
    // ∂h_{t-1} = direct paths + (∂ recurrent products) · W_hh over the blocks that saw h itself.
    sgemm_packed(B, H, lbr ? G : 2 * H, dGs.get(), G, w.whh_n, 0.f, dhnew.get(), H, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      if (rows[b] < 0) continue;
      for (int64_t j = b * H; j < b * H + H; ++j) dh[j] = dhdirect[j] + dhnew[j];
    }
  }
  std::memcpy(g.dh0, dh.get(), B * H * sizeof(float));
  sgemm(true, false, G, I, N, dGx.get(), G, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  if (lbr) {
    sgemm(true, false, G, H, N, dGh.get(), G, k.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  } else {
    sgemm(true, false, 2 * H, H, N, dGh.get(), G, k.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
    sgemm(true, false, H, H, N, dGh.get() + 2 * H, G, k.hn, H, 1.f, g.dw_hh + 2 * H * H, H, nullptr, pool);
  }
  if (g.db_ih) add_column_sums(g.db_ih, dGx.get(), N, G, G);
  if (g.db_hh) add_column_sums(g.db_hh, dGh.get(), N, G, G);
  if (g.dx) sgemm_packed(N, I, G, dGx.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

// ------------------------------------------------------------------ RNN

void rnn_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, H = c.H, N = T * B;
  const bool relu = c.kind == CellKind::rnn_relu;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;
  AlignedFloats gx_own;
  float* gx = train ? k.gates : (gx_own = aligned_floats(N * H)).get();  // [N, H] Gx, then h_t
  sgemm_packed(N, H, c.I, io.x, io.ldx, w.wih_t, 0.f, gx, H, w.bias_x.data(), pool);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * H);
  if (io.h0) std::memcpy(h.get(), io.h0, B * H * sizeof(float));
  for (int64_t st = 0; st < T; ++st) {
    sgemm_packed(B, H, H, h.get(), H, w.whh_t, 0.f, hr.get(), H, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t t = step_time(s, st, b);
      if (t < 0) continue;
      const int64_t row = t * s.rowT + b * s.rowB;
      for (int64_t j = 0; j < H; ++j) {
        float v = gx[row * H + j] + hr[b * H + j];
        if (train && k.pre) k.pre[row * H + j] = v;
        v = clampf(v, c.clip);
        const float hn = relu ? (v > 0.f ? v : 0.f) : std::tanh(v);
        if (train) { k.hprev[row * H + j] = h[b * H + j]; gx[row * H + j] = hn; }
        h[b * H + j] = hn;
        io.y[row * io.ldy + j] = hn;
      }
    }
  }
  zero_padded_rows(s, io.y, io.ldy, H);
  std::memcpy(io.hN, h.get(), B * H * sizeof(float));
}

void rnn_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, N = T * B;
  const bool relu = c.kind == CellKind::rnn_relu;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);
  AlignedFloats dh = aligned_floats(B * H), dA = aligned_floats(N * H), dAs = aligned_floats(B * H), dhnew = aligned_floats(B * H);
  if (g.dhN) std::memcpy(dh.get(), g.dhN, B * H * sizeof(float));
  std::vector<int64_t> rows(B);
  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * H * sizeof(float));
    step_rows(s, st, rows);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      for (int64_t j = 0; j < H; ++j) {
        const float dhj = dh[b * H + j] + (g.dy ? g.dy[row * g.lddy + j] : 0.f);
        const float hv = k.gates[row * H + j];
        float d = dhj * (relu ? (hv > 0.f ? 1.f : 0.f) : 1.f - hv * hv);
        d *= pass(k.pre, row * H + j, c.clip);
        dA[row * H + j] = dAs[b * H + j] = d;
      }
    }
    sgemm_packed(B, H, H, dAs.get(), H, w.whh_n, 0.f, dhnew.get(), H, nullptr, pool);
    for (int64_t b = 0; b < B; ++b) {
      if (rows[b] >= 0) std::memcpy(dh.get() + b * H, dhnew.get() + b * H, H * sizeof(float));
    }
  }
  std::memcpy(g.dh0, dh.get(), B * H * sizeof(float));
  sgemm(true, false, H, I, N, dA.get(), H, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, H, H, N, dA.get(), H, k.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  if (g.db_ih) add_column_sums(g.db_ih, dA.get(), N, H, H);
  if (g.db_hh) add_column_sums(g.db_hh, dA.get(), N, H, H);
  if (g.dx) sgemm_packed(N, I, H, dA.get(), H, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

}  // namespace

void cell_generic_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  switch (w.cfg.kind) {
    case CellKind::lstm: lstm_forward_generic(w, s, io, pool); break;
    case CellKind::gru: gru_forward(w, s, io, pool); break;
    default: rnn_forward(w, s, io, pool); break;
  }
}

void cell_generic_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  switch (w.cfg.kind) {
    case CellKind::lstm: lstm_backward_generic(w, s, g, pool); break;
    case CellKind::gru: gru_backward(w, s, g, pool); break;
    default: rnn_backward(w, s, g, pool); break;
  }
}

}  // namespace cellstate
