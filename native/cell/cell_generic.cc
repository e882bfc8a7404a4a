// cell_generic.cc - forward and BPTT for every cell configuration the fused LSTM path does not
// take: LSTM with projection / peepholes / coupled input-forget gate / clip, GRU (both formulas),
// RNN (tanh, relu). Equations: docs/equations.md. No ISA flags.
//
// It mirrors lib/backend/ts/{lstm,gru,rnn}.ts (same names, same order of operations), with every
// matrix product going through the packed GEMM (threaded) and each row's elementwise stage split
// into phases: plain adds, one vectorised sigmoid/tanh call per gate block (kernels() picks the
// ISA), then the combining arithmetic. Rows are independent, so the pool splits them. Each step
// multiplies all B state rows and skips entries that have ended in the elementwise stage.
// Sizes: T, B, I, H, P = Hout, N = T*B, G = gates*H.
#include <cmath>
#include <cstring>
#include <vector>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "cell.h"
#include "seq.h"

namespace cellstate {
namespace {

// Derivative of clamp: 1 inside [-c, c] (or without clipping), 0 outside.
float pass(const float* pre, int64_t i, float c) { return pre && std::fabs(pre[i]) > c ? 0.f : 1.f; }

// Per-thread scratch for the elementwise stages, allocated once per call (never per step):
// slot t of `floats` floats for task t of for_rows.
struct Scratch {
  AlignedFloats buf;
  int64_t floats;
  Scratch(ThreadPool* pool, int64_t floats_per_task)
      : buf(aligned_floats_uninit((pool ? pool->size() : 1) * floats_per_task)), floats(floats_per_task) {}
  float* slot(int64_t t) const { return buf.get() + t * floats; }
};

// fn(b0, b1, scratch) over state rows [0, B), split across the pool when the work is worth it.
// The closure handed to the pool holds one pointer, so std::function stores it inline: no
// allocation per step.
template <typename F>
void for_rows(ThreadPool* pool, int64_t B, int64_t work_per_row, const Scratch& scratch, F&& fn) {
  const int n = pool ? pool->size() : 1;
  if (n > 1 && B > 1 && B * work_per_row >= kMinParallelStepWork) {
    struct Ctx { F* fn; int64_t B; int n; const Scratch* scratch; } ctx{&fn, B, n, &scratch};
    pool->parallel_for(n, [c = &ctx](int64_t t, int) { (*c->fn)(c->B * t / c->n, c->B * (t + 1) / c->n, c->scratch->slot(t)); });
  } else {
    fn(0, B, scratch.slot(0));
  }
}

void clamp_all(float* a, int64_t n, float c) {
  if (c == 0.f) return;
  for (int64_t j = 0; j < n; ++j) a[j] = a[j] > c ? c : (a[j] < -c ? -c : a[j]);
}

// State rows follow `o.order` (entries by decreasing length): the entries still running at step st
// are the first o.active[st] rows, so each step's products cover that prefix only and no work is
// spent past any sequence's length. rows[i] = the sequence row of state row i at step st.
int64_t step_rows(const SeqDesc& s, const SeqOrder& o, int64_t st, std::vector<int64_t>& rows) {
  const int64_t m = o.active[st];
  for (int64_t i = 0; i < m; ++i) rows[i] = step_row(s, st, o.order[i]);
  return m;
}

// Copy [B, n] batch-order rows into state order (gather) or back (scatter); null src = zeros.
void gather_rows(const SeqOrder& o, const float* src, float* dst, int64_t n) {
  for (size_t i = 0; i < o.order.size(); ++i) {
    if (src) std::memcpy(dst + i * n, src + o.order[i] * n, n * sizeof(float));
    else std::memset(dst + i * n, 0, n * sizeof(float));
  }
}
void scatter_rows(const SeqOrder& o, const float* src, float* dst, int64_t n) {
  for (size_t i = 0; i < o.order.size(); ++i) std::memcpy(dst + o.order[i] * n, src + i * n, n * sizeof(float));
}

// ------------------------------------------------------------------ LSTM (generic)

// c_{t-1} of entry b at processing step st: the previous step's row of the cache, or c0.
const float* cprev_row(const SeqDesc& s, const CacheParts& k, int64_t st, int64_t b, int64_t H) {
  const int64_t tprev = st > 0 ? step_time(s, st - 1, b) : -1;
  return tprev >= 0 ? k.c + (tprev * s.rowT + b * s.rowB) * H : k.c0 + b * H;
}

void lstm_forward_generic(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H, P = c.P, G = c.G;
  const bool proj = P != H, cifg = c.input_forget, peep = c.peephole;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;

  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * P), cs = aligned_floats(B * H), hr = aligned_floats(B * G);
  AlignedFloats mbuf = aligned_floats(proj ? B * H : 0), hnew = aligned_floats(proj ? B * P : 0);
  gather_rows(o, io.h0, h.get(), P);
  gather_rows(o, io.c0, cs.get(), H);
  if (train) {  // c0 in batch order, for the backward
    if (io.c0) std::memcpy(k.c0, io.c0, B * H * sizeof(float));
    else std::memset(k.c0, 0, B * H * sizeof(float));
  }
  std::vector<int64_t> rows(B);
  const Scratch scratch(pool, G + 2 * H);  // gate pre-activations, c_t, tanh(c_t)

  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    const float* gx = gxc.step(st, pool);  // [m, 4H] this step's Gx, state-row order
    sgemm_packed(m, G, P, h.get(), P, w.whh_t, 0.f, hr.get(), G, nullptr, pool);
    for_rows(pool, m, 8 * G, scratch, [&](int64_t b0, int64_t b1, float* a) {
      float* cn = a + G;      // [H] new cell state
      float* tc = cn + H;     // [H] tanh(c_t)
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        const float* g0 = gx + b * G;
        const float* r0 = hr.get() + b * G;
        float* cb = cs.get() + b * H;
        float* pr = train && k.pre ? k.pre + row * G : nullptr;
        for (int64_t j = 0; j < G; ++j) a[j] = g0[j] + r0[j];
        if (peep) for (int64_t j = 0; j < H; ++j) { a[j] += w.peep_i[j] * cb[j]; a[H + j] += w.peep_f[j] * cb[j]; }
        if (pr) std::memcpy(pr, a, 3 * H * sizeof(float));
        clamp_all(a, 3 * H, clip);
        kt.lstm.sigmoid(2 * H, a, a);        // i, f
        kt.lstm.tanh(H, a + 2 * H, a + 2 * H);  // g
        if (cifg) for (int64_t j = 0; j < H; ++j) a[H + j] = 1.f - a[j];
        for (int64_t j = 0; j < H; ++j) cn[j] = a[H + j] * cb[j] + a[j] * a[2 * H + j];
        if (peep) for (int64_t j = 0; j < H; ++j) a[3 * H + j] += w.peep_o[j] * cn[j];  // o sees the NEW c
        if (pr) std::memcpy(pr + 3 * H, a + 3 * H, H * sizeof(float));
        clamp_all(a + 3 * H, H, clip);
        kt.lstm.sigmoid(H, a + 3 * H, a + 3 * H);  // o
        kt.lstm.tanh(H, cn, tc);
        float* mrow = proj ? mbuf.get() + b * H : nullptr;
        for (int64_t j = 0; j < H; ++j) {
          const float mn = a[3 * H + j] * tc[j];
          if (proj) mrow[j] = mn;
          else {
            if (train) k.hprev[row * P + j] = h[b * P + j];
            h[b * P + j] = mn;
            io.y[row * io.ldy + j] = mn;
          }
          if (train && k.m) k.m[row * H + j] = mn;
        }
        std::memcpy(cb, cn, H * sizeof(float));
        if (train) {
          std::memcpy(k.gates + row * G, a, G * sizeof(float));
          std::memcpy(k.c + row * H, cn, H * sizeof(float));
        }
      }
    });
    if (proj) {
      sgemm_packed(m, P, H, mbuf.get(), H, w.whr_t, 0.f, hnew.get(), P, nullptr, pool);
      for (int64_t b = 0; b < m; ++b) {
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
  scatter_rows(o, h.get(), io.hN, P);
  scatter_rows(o, cs.get(), io.cN, H);
}

void lstm_backward_generic(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, P = c.P, G = c.G, N = T * B;
  const bool proj = P != H, cifg = c.input_forget, peep = c.peephole;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * P), dc = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), P);
  gather_rows(o, g.dcN, dc.get(), H);
  AlignedFloats dA = aligned_floats(N * G), dAs = aligned_floats(B * G), dhnew = aligned_floats(B * P);
  AlignedFloats dm_own = aligned_floats(proj ? B * H : 0), dhrows = aligned_floats(proj ? N * P : 0);
  float* dm = proj ? dm_own.get() : dh.get();  // ∂(o * tanh c): through W_hr, or ∂h itself
  std::vector<int64_t> rows(B);
  const Scratch scratch(pool, H);  // tanh(c_t)

  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * G * sizeof(float));
    const int64_t m = step_rows(s, o, st, rows);
    for (int64_t b = 0; b < m; ++b) {
      if (rows[b] >= 0 && g.dy) {
        for (int64_t j = 0; j < P; ++j) dh[b * P + j] += g.dy[rows[b] * g.lddy + j];
      }
    }
    if (proj) {
      sgemm_packed(m, H, P, dh.get(), P, w.whr_n, 0.f, dm, H, nullptr, pool);  // ∂m = ∂h · W_hr
      for (int64_t b = 0; b < m; ++b) {
        if (rows[b] >= 0) std::memcpy(dhrows.get() + rows[b] * P, dh.get() + b * P, P * sizeof(float));
      }
    }
    for_rows(pool, m, 12 * H, scratch, [&](int64_t b0, int64_t b1, float* tc) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        const float* cp = cprev_row(s, k, st, o.order[b], H);
        const float* gt = k.gates + row * G;
        const float* pre = k.pre ? k.pre + row * G : nullptr;
        float* da = dA.get() + row * G;
        float* das = dAs.get() + b * G;
        kt.lstm.tanh(H, k.c + row * H, tc);
        for (int64_t j = 0; j < H; ++j) {
          const float ig = gt[j], fg = gt[H + j], gg = gt[2 * H + j], og = gt[3 * H + j];
          const float cpj = cp[j], dmj = dm[b * H + j];
          const float ao = dmj * tc[j] * og * (1.f - og) * pass(pre, 3 * H + j, clip);
          float dC = dc[b * H + j] + dmj * og * (1.f - tc[j] * tc[j]);
          if (peep) dC += ao * w.peep_o[j];
          float dI = dC * gg, af = 0.f;
          if (cifg) dI -= dC * cpj;  // f = 1 - i
          else af = dC * cpj * fg * (1.f - fg) * pass(pre, H + j, clip);
          const float ai = dI * ig * (1.f - ig) * pass(pre, j, clip);
          const float ag = dC * ig * (1.f - gg * gg) * pass(pre, 2 * H + j, clip);
          float dcprev = dC * fg;
          if (peep) dcprev += ai * w.peep_i[j] + af * w.peep_f[j];
          dc[b * H + j] = dcprev;
          da[j] = das[j] = ai; da[H + j] = das[H + j] = af; da[2 * H + j] = das[2 * H + j] = ag; da[3 * H + j] = das[3 * H + j] = ao;
        }
      }
    });
    sgemm_packed(m, P, G, dAs.get(), G, w.whh_n, 0.f, dhnew.get(), P, nullptr, pool);
    for (int64_t b = 0; b < m; ++b) {
      if (rows[b] >= 0) std::memcpy(dh.get() + b * P, dhnew.get() + b * P, P * sizeof(float));
    }
  }
  scatter_rows(o, dh.get(), g.dh0, P);
  scatter_rows(o, dc.get(), g.dc0, H);
  if (peep) {
    // ∂p_i = Σ ∂A_i * c_{t-1},  ∂p_f = Σ ∂A_f * c_{t-1},  ∂p_o = Σ ∂A_o * c_t  over every valid row.
    for (int64_t st = 0; st < T; ++st) {
      for (int64_t b = 0; b < B; ++b) {  // batch entries (not state rows)
        const int64_t t = step_time(s, st, b);
        if (t < 0) continue;
        const int64_t row = t * s.rowT + b * s.rowB;
        const float* cp = cprev_row(s, k, st, b, H);
        const float* da = dA.get() + row * G;
        const float* cn = k.c + row * H;
        for (int64_t j = 0; j < H; ++j) {
          g.dp_i[j] += da[j] * cp[j];
          g.dp_f[j] += da[H + j] * cp[j];
          g.dp_o[j] += da[3 * H + j] * cn[j];
        }
      }
    }
  }
  sgemm(true, false, G, I, N, dA.get(), G, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, P, N, dA.get(), G, k.hprev, P, 1.f, g.dw_hh, P, nullptr, pool);
  if (proj) sgemm(true, false, P, H, N, dhrows.get(), P, k.m, H, 1.f, g.dw_hr, H, nullptr, pool);
  add_bias_grads(g.db_ih, g.db_hh, dA.get(), N, G, G);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

// ------------------------------------------------------------------ GRU

void gru_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H, G = c.G;
  const bool lbr = c.linear_before_reset;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;

  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * G), rh = aligned_floats(lbr ? 0 : B * H);
  gather_rows(o, io.h0, h.get(), H);
  std::vector<int64_t> rows(B);
  const Scratch scratch(pool, H);  // h·W_hnᵀ + b_hn of one row

  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    float* gx = gxc.step(st, pool);  // [m, 3H] this step's Gx, state-row order; becomes the gates
    // [r, z] (and, with linearBeforeReset, n) recurrent products from h_{t-1}.
    sgemm_packed(m, lbr ? G : 2 * H, H, h.get(), H, w.whh_t, 0.f, hr.get(), G, nullptr, pool);
    // Phase A: r and z (they overwrite their Gx columns), and r*h for the ONNX formula.
    for_rows(pool, m, 8 * H, scratch, [&](int64_t b0, int64_t b1, float*) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        float* g0 = gx + b * G;
        const float* r0 = hr.get() + b * G;
        for (int64_t j = 0; j < 2 * H; ++j) g0[j] += r0[j];
        if (train && k.pre) std::memcpy(k.pre + row * G, g0, 2 * H * sizeof(float));
        clamp_all(g0, 2 * H, clip);
        kt.lstm.sigmoid(2 * H, g0, g0);
        if (!lbr) for (int64_t j = 0; j < H; ++j) rh[b * H + j] = g0[j] * h[b * H + j];
      }
    });
    // ONNX formula: the n product takes r*h, known only now.
    if (!lbr) sgemm_packed(m, H, H, rh.get(), H, w.whn_t, 0.f, hr.get() + 2 * H, G, nullptr, pool);
    // Phase B: n and the new state.
    for_rows(pool, m, 8 * H, scratch, [&](int64_t b0, int64_t b1, float* hn) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        float* g0 = gx + b * G;
        const float* r0 = hr.get() + b * G;
        float* an = g0 + 2 * H;
        for (int64_t j = 0; j < H; ++j) {
          hn[j] = r0[2 * H + j] + w.b_hn[j];
          an[j] += lbr ? g0[j] * hn[j] : hn[j];
        }
        if (train && k.pre) std::memcpy(k.pre + row * G + 2 * H, an, H * sizeof(float));
        clamp_all(an, H, clip);
        kt.lstm.tanh(H, an, an);  // n, in place of its Gx column
        for (int64_t j = 0; j < H; ++j) {
          const float z = g0[H + j], hp = h[b * H + j];
          const float hnew = (1.f - z) * an[j] + z * hp;
          if (train) {
            k.hn[row * H + j] = lbr ? hn[j] : rh[b * H + j];
            k.hprev[row * H + j] = hp;
          }
          h[b * H + j] = hnew;
          io.y[row * io.ldy + j] = hnew;
        }
        if (train) std::memcpy(k.gates + row * G, g0, G * sizeof(float));  // r, z, n for the backward
      }
    });
  }
  zero_padded_rows(s, io.y, io.ldy, H);
  scatter_rows(o, h.get(), io.hN, H);
}

void gru_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, G = c.G, N = T * B;
  const bool lbr = c.linear_before_reset;
  const float clip = c.clip;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), H);
  AlignedFloats dGx = aligned_floats(N * G), dGh = aligned_floats(N * G), dGs = aligned_floats(B * G);
  AlignedFloats dhdirect = aligned_floats(B * H), dhnew = aligned_floats(B * H), drh = aligned_floats(lbr ? 0 : B * H);
  std::vector<int64_t> rows(B);

  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dGs.get(), 0, B * G * sizeof(float));
    const int64_t m = step_rows(s, o, st, rows);
    // Phase 1: everything that does not need ∂(r*h).
    for (int64_t b = 0; b < m; ++b) {
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
      sgemm_packed(m, H, H, dGs.get() + 2 * H, G, w.whn_n, 0.f, drh.get(), H, nullptr, pool);
      for (int64_t b = 0; b < m; ++b) {
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
    sgemm_packed(m, H, lbr ? G : 2 * H, dGs.get(), G, w.whh_n, 0.f, dhnew.get(), H, nullptr, pool);
    for (int64_t b = 0; b < m; ++b) {
      if (rows[b] < 0) continue;
      for (int64_t j = b * H; j < b * H + H; ++j) dh[j] = dhdirect[j] + dhnew[j];
    }
  }
  scatter_rows(o, dh.get(), g.dh0, H);
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
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H;
  const bool relu = c.kind == CellKind::rnn_relu;
  const CacheParts k = cell_cache_parts(c, T, B, io.cache);
  const bool train = io.cache != nullptr;
  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * H);
  gather_rows(o, io.h0, h.get(), H);
  std::vector<int64_t> rows(B);
  const Scratch scratch(pool, H);  // one row's pre-activation
  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    const float* gx = gxc.step(st, pool);  // [m, H] this step's Gx, state-row order
    sgemm_packed(m, H, H, h.get(), H, w.whh_t, 0.f, hr.get(), H, nullptr, pool);
    for_rows(pool, m, 8 * H, scratch, [&](int64_t b0, int64_t b1, float* v) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        for (int64_t j = 0; j < H; ++j) v[j] = gx[b * H + j] + hr[b * H + j];
        if (train && k.pre) std::memcpy(k.pre + row * H, v, H * sizeof(float));
        clamp_all(v, H, c.clip);
        if (relu) for (int64_t j = 0; j < H; ++j) v[j] = v[j] > 0.f ? v[j] : 0.f;
        else kt.lstm.tanh(H, v, v);
        for (int64_t j = 0; j < H; ++j) {
          if (train) { k.hprev[row * H + j] = h[b * H + j]; k.gates[row * H + j] = v[j]; }
          h[b * H + j] = v[j];
          io.y[row * io.ldy + j] = v[j];
        }
      }
    });
  }
  zero_padded_rows(s, io.y, io.ldy, H);
  scatter_rows(o, h.get(), io.hN, H);
}

void rnn_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, N = T * B;
  const bool relu = c.kind == CellKind::rnn_relu;
  const CacheParts k = cell_cache_parts(c, T, B, g.cache);
  AlignedFloats dh = aligned_floats(B * H), dA = aligned_floats(N * H), dAs = aligned_floats(B * H), dhnew = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), H);
  std::vector<int64_t> rows(B);
  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * H * sizeof(float));
    const int64_t m = step_rows(s, o, st, rows);
    for (int64_t b = 0; b < m; ++b) {
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
    sgemm_packed(m, H, H, dAs.get(), H, w.whh_n, 0.f, dhnew.get(), H, nullptr, pool);
    for (int64_t b = 0; b < m; ++b) {
      if (rows[b] >= 0) std::memcpy(dh.get() + b * H, dhnew.get() + b * H, H * sizeof(float));
    }
  }
  scatter_rows(o, dh.get(), g.dh0, H);
  sgemm(true, false, H, I, N, dA.get(), H, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, H, H, N, dA.get(), H, k.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  add_bias_grads(g.db_ih, g.db_hh, dA.get(), N, H, H);
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
