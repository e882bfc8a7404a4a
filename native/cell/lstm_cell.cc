// lstm_cell.cc - the LSTM cell kind (cell_kind.h): its packed weights, its training-cache layout,
// and forward and BPTT for every LSTM the fused path (lstm/lstm_forward.cc, lstm/lstm_backward.cc)
// does not take: projection, peepholes, coupled input-forget gate, clip. Equations:
// docs/equations.md (LSTM forward, backward, variants). No ISA flags.
//
// It mirrors lib/backend/ts/lstm.ts (same names, same order of operations), with every matrix
// product going through the packed GEMM (threaded) and each row's elementwise stage split into
// phases: plain adds, one vectorised sigmoid/tanh call per gate block (kernels() picks the ISA),
// then the combining arithmetic. Rows are independent, so the pool splits them (rows.h). Each
// step multiplies the state rows still running only (seq.h).
// Sizes: T, B, I, H, P = Hout (projSize or H), N = T*B, G = 4H (i, f, g, o).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "../lstm/lstm_fused.h"
#include "cell.h"
#include "cell_kind.h"
#include "rows.h"
#include "seq.h"

namespace cellstate {
namespace {

namespace K = lstm_kind;  // its flags and parameter indices (cell_codes.gen.h)

// What the LSTM packs beyond the common products: W_hr for the projection, the peepholes, and,
// for the plain LSTM, the fused path's panels (lstm/lstm_fused.h).
struct LstmPacked : KindPacked {
  bool fused = false;                         // a plain LSTM: takes lstm/
  PackedB whr_t, whr_n;                       // m·W_hrᵀ and ∂h·W_hr (projection)
  PackedQ qhr_t;                              // m·W_hrᵀ of a quantized cell (projection)
  std::vector<float> peep_i, peep_f, peep_o;  // [H] (peephole)
  LstmFusedPanels panels;                     // fused only
};
const LstmPacked& own(const CellPacked& w) { return static_cast<const LstmPacked&>(*w.kind); }

// A plain LSTM (no projection, peephole, coupled gate or clip, the default activations) takes the fused path.
bool plain(const CellConfig& c) {
  return c.P == c.H && !c.has(K::kPeephole) && !c.has(K::kInputForget) && c.clip == 0.f && !c.custom_acts;
}

// gates [N, 4H] activated i, f, g, o | c [N, H] c_t | hprev [N, P] h_{t-1} | c0 [B, H] |
// pre [N, 4H] before clipping (clip only) | m [N, H] o * tanh(c_t) (projection only)
LstmCache lstm_cache(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) {
  const int64_t N = T * B;
  LstmCache k;
  k.gates = at.take(N * c.G);
  k.c = at.take(N * c.H);
  k.hprev = at.take(N * c.P);
  k.c0 = at.take(B * c.H);
  if (c.clip != 0.f) k.pre = at.take(N * c.G);
  if (c.P != c.H) k.m = at.take(N * c.H);
  return k;
}
LstmCache lstm_cache(const CellConfig& c, int64_t T, int64_t B, float* cache) {
  CacheCursor at(cache);
  return lstm_cache(c, T, B, at);
}
void lstm_cache_layout(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) { lstm_cache(c, T, B, at); }


// c_{t-1} of entry b at processing step st: the previous step's row of the cache, or c0.
const float* cprev_row(const SeqDesc& s, const LstmCache& k, int64_t st, int64_t b, int64_t H) {
  const int64_t tprev = st > 0 ? step_time(s, st - 1, b) : -1;
  return tprev >= 0 ? k.c + (tprev * s.rowT + b * s.rowB) * H : k.c0 + b * H;
}

void lstm_forward_generic(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const LstmPacked& lw = own(w);
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H, P = c.P, G = c.G;
  const bool proj = P != H, cifg = c.has(K::kInputForget), peep = c.has(K::kPeephole);
  const float clip = c.clip;
  const LstmCache k = lstm_cache(c, T, B, io.cache);
  const bool train = io.cache != nullptr;
  const bool custom = c.custom_acts;

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
  const RowScratch scratch(pool, G + 2 * H);  // gate pre-activations, c_t, tanh(c_t)

  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    const float* gx = gxc.step(st, pool);  // [m, 4H] this step's Gx, state-row order
    cell_product(c, m, G, P, h.get(), P, w.whh_t, w.qhh_t, hr.get(), G, nullptr, pool);
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
        if (peep) for (int64_t j = 0; j < H; ++j) { a[j] += lw.peep_i[j] * cb[j]; a[H + j] += lw.peep_f[j] * cb[j]; }
        if (pr) std::memcpy(pr, a, 3 * H * sizeof(float));
        clamp_all(a, 3 * H, clip);
        if (custom) {  // f on i, f; g on the candidate (docs/equations.md, "Gate activations")
          kt.lstm.act(c.act[0], 2 * H, a, a);
          kt.lstm.act(c.act[1], H, a + 2 * H, a + 2 * H);
        } else {
          kt.lstm.sigmoid(2 * H, a, a);        // i, f
          kt.lstm.tanh(H, a + 2 * H, a + 2 * H);  // g
        }
        if (cifg) for (int64_t j = 0; j < H; ++j) a[H + j] = 1.f - a[j];
        for (int64_t j = 0; j < H; ++j) cn[j] = a[H + j] * cb[j] + a[j] * a[2 * H + j];
        if (peep) for (int64_t j = 0; j < H; ++j) a[3 * H + j] += lw.peep_o[j] * cn[j];  // o sees the NEW c
        if (pr) std::memcpy(pr + 3 * H, a + 3 * H, H * sizeof(float));
        clamp_all(a + 3 * H, H, clip);
        if (custom) {
          kt.lstm.act(c.act[0], H, a + 3 * H, a + 3 * H);  // o
          kt.lstm.act(c.act[2], H, cn, tc);                // h(c_t)
        } else {
          kt.lstm.sigmoid(H, a + 3 * H, a + 3 * H);  // o
          kt.lstm.tanh(H, cn, tc);
        }
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
      cell_product(c, m, P, H, mbuf.get(), H, lw.whr_t, lw.qhr_t, hnew.get(), P, nullptr, pool);
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

// One row of the BPTT elementwise step with any gate activations (c.custom_acts): the same
// equations as lstm_backward_generic's loop with f', g', h' read from the stored outputs
// (act_dmul, simd/gate_act.h), in vector passes over the row:
//   ∂A_o = ∂m h(c) f'(o);  ∂c = ∂c_carried + ∂m o h'(h(c)) (+ ∂A_o p_o);
//   ∂A_i = ∂c g f'(i) (coupled: (∂c g - ∂c c_{t-1}) f'(i));  ∂A_f = ∂c c_{t-1} f'(f);
//   ∂A_g = ∂c i g'(g);  each times clip's pass;  ∂c_{t-1} = ∂c f (+ ∂A_i p_i + ∂A_f p_f).
// gt [4H] activated i, f, g, o; c_t, cp [H]; dm [H] ∂(o * h(c_t)); dc [H] in/out; da, das [4H]
// written; hc, dcv [H] scratch.
void lstm_row_backward_acts(const CellConfig& c, const LstmPacked& lw, const float* gt, const float* c_t, const float* cp,
                            const float* pre, const float* dm, float* dc, float* da, float* das, float* hc, float* dcv) {
  const KernelTable& kt = kernels();
  const int64_t H = c.H;
  const bool cifg = c.has(K::kInputForget), peep = c.has(K::kPeephole);
  const float clip = c.clip;
  const float *ig = gt, *fg = gt + H, *gg = gt + 2 * H, *og = gt + 3 * H;
  float *ai = da, *af = da + H, *ag = da + 2 * H, *ao = da + 3 * H;
  kt.lstm.act(c.act[2], H, c_t, hc);
  for (int64_t j = 0; j < H; ++j) ao[j] = dm[j] * hc[j];
  kt.lstm.act_dmul(c.act[0], H, og, ao, ao);
  for (int64_t j = 0; j < H; ++j) { ao[j] *= pass(pre, 3 * H + j, clip); dcv[j] = dm[j] * og[j]; }
  kt.lstm.act_dmul(c.act[2], H, hc, dcv, dcv);
  for (int64_t j = 0; j < H; ++j) {
    float dC = dc[j] + dcv[j];
    if (peep) dC += ao[j] * lw.peep_o[j];
    dcv[j] = dC;
    ai[j] = cifg ? dC * gg[j] - dC * cp[j] : dC * gg[j];
    af[j] = cifg ? 0.f : dC * cp[j];
    ag[j] = dC * ig[j];
  }
  kt.lstm.act_dmul(c.act[0], H, ig, ai, ai);
  if (!cifg) kt.lstm.act_dmul(c.act[0], H, fg, af, af);
  kt.lstm.act_dmul(c.act[1], H, gg, ag, ag);
  for (int64_t j = 0; j < H; ++j) {
    ai[j] *= pass(pre, j, clip);
    af[j] *= pass(pre, H + j, clip);
    ag[j] *= pass(pre, 2 * H + j, clip);
    float dcprev = dcv[j] * fg[j];
    if (peep) dcprev += ai[j] * lw.peep_i[j] + af[j] * lw.peep_f[j];
    dc[j] = dcprev;
  }
  std::memcpy(das, da, 4 * H * sizeof(float));
}

void lstm_backward_generic(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const LstmPacked& lw = own(w);
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, P = c.P, G = c.G, N = T * B;
  const bool proj = P != H, cifg = c.has(K::kInputForget), peep = c.has(K::kPeephole);
  const float clip = c.clip;
  const LstmCache k = lstm_cache(c, T, B, g.cache);
  float *dp_i = g.dextra[K::peephole_i], *dp_f = g.dextra[K::peephole_f], *dp_o = g.dextra[K::peephole_o];

  AlignedFloats dh = aligned_floats(B * P), dc = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), P);
  gather_rows(o, g.dcN, dc.get(), H);
  AlignedFloats dA = aligned_floats(N * G), dAs = aligned_floats(B * G), dhnew = aligned_floats(B * P);
  AlignedFloats dm_own = aligned_floats(proj ? B * H : 0), dhrows = aligned_floats(proj ? N * P : 0);
  float* dm = proj ? dm_own.get() : dh.get();  // ∂(o * tanh c): through W_hr, or ∂h itself
  std::vector<int64_t> rows(B);
  const bool custom = c.custom_acts;
  const RowScratch scratch(pool, custom ? 2 * H : H);  // tanh(c_t) (custom: h(c_t), then ∂c through it)

  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * G * sizeof(float));
    const int64_t m = step_rows(s, o, st, rows);
    for (int64_t b = 0; b < m; ++b) {
      if (rows[b] >= 0 && g.dy) {
        for (int64_t j = 0; j < P; ++j) dh[b * P + j] += g.dy[rows[b] * g.lddy + j];
      }
    }
    if (proj) {
      sgemm_packed(m, H, P, dh.get(), P, lw.whr_n, 0.f, dm, H, nullptr, pool);  // ∂m = ∂h · W_hr
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
        if (custom) {
          lstm_row_backward_acts(c, lw, gt, k.c + row * H, cp, pre, dm + b * H, dc.get() + b * H, da, das, tc, tc + H);
          continue;
        }
        kt.lstm.tanh(H, k.c + row * H, tc);
        for (int64_t j = 0; j < H; ++j) {
          const float ig = gt[j], fg = gt[H + j], gg = gt[2 * H + j], og = gt[3 * H + j];
          const float cpj = cp[j], dmj = dm[b * H + j];
          const float ao = dmj * tc[j] * og * (1.f - og) * pass(pre, 3 * H + j, clip);
          float dC = dc[b * H + j] + dmj * og * (1.f - tc[j] * tc[j]);
          if (peep) dC += ao * lw.peep_o[j];
          float dI = dC * gg, af = 0.f;
          if (cifg) dI -= dC * cpj;  // f = 1 - i
          else af = dC * cpj * fg * (1.f - fg) * pass(pre, H + j, clip);
          const float ai = dI * ig * (1.f - ig) * pass(pre, j, clip);
          const float ag = dC * ig * (1.f - gg * gg) * pass(pre, 2 * H + j, clip);
          float dcprev = dC * fg;
          if (peep) dcprev += ai * lw.peep_i[j] + af * lw.peep_f[j];
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
          dp_i[j] += da[j] * cp[j];
          dp_f[j] += da[H + j] * cp[j];
          dp_o[j] += da[3 * H + j] * cn[j];
        }
      }
    }
  }
  sgemm(true, false, G, I, N, dA.get(), G, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, P, N, dA.get(), G, k.hprev, P, 1.f, g.dw_hh, P, nullptr, pool);
  if (proj) sgemm(true, false, P, H, N, dhrows.get(), P, k.m, H, 1.f, g.dextra[K::weight_hr], H, nullptr, pool);
  add_bias_grads(g.db_ih, g.db_hh, dA.get(), N, G, G);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}


// W_ih, W_hh (transposed ones only off the fused path), W_hr with projection, the peepholes;
// a plain LSTM also gets W_ih and W_hh in gate-interleaved panels for the fused path.
void lstm_pack(CellPacked& w, const CellWeights& in) {
  const CellConfig& c = w.cfg;
  const int64_t I = c.I, H = c.H, P = c.P, G = c.G;
  auto lw = std::make_unique<LstmPacked>();
  lw->fused = plain(c);
  pack_common(w, in, G, G, !lw->fused);
  if (P != H && c.quantized()) lw->qhr_t = pack_q(c, H, P, in.qextra[K::weight_hr]);  // B(k, j) = W_hr[j, k]
  if (P != H && !c.quantized()) {
    lw->whr_t = pack_b(true, H, P, in.extra[K::weight_hr], H);   // B(k, j) = W_hr[j, k]
    lw->whr_n = pack_b(false, P, H, in.extra[K::weight_hr], H);  // B = W_hr
  }
  if (lw->fused) {
    const KernelTable& kt = kernels();
    LstmFusedPanels& f = lw->panels;
    f.nr = kt.gemm.nr;
    f.vw = kt.gemm.vw;
    f.n_panels = (H + f.vw - 1) / f.vw;
    std::vector<int32_t> perm(static_cast<size_t>(f.n_panels * f.nr));  // fused column -> W row
    for (int64_t p = 0; p < f.n_panels; ++p) {
      for (int64_t q = 0; q < 4; ++q) {
        for (int64_t e = 0; e < f.vw; ++e) {
          const int64_t u = std::min<int64_t>(p * f.vw + e, H - 1);
          perm[static_cast<size_t>(p * f.nr + q * f.vw + e)] = static_cast<int32_t>(q * H + u);
        }
      }
    }
    const int64_t n = f.n_panels * f.nr;
    if (c.quantized()) {
      f.qwih = pack_q(c, I, n, in.q_ih, 0, perm.data());
      f.qwhh = pack_q(c, H, n, in.q_hh, 0, perm.data());
    } else {
      f.wih = pack_b(true, I, n, in.w_ih, I, perm.data());  // B(i, j) = W_ih[perm[j], i]
      f.whh = pack_b(true, H, n, in.w_hh, H, perm.data());  // B(k, j) = W_hh[perm[j], k]
    }
    f.bias.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) f.bias[static_cast<size_t>(j)] = w.bias_x[static_cast<size_t>(perm[static_cast<size_t>(j)])];
  }
  if (c.has(K::kPeephole)) {
    lw->peep_i.assign(in.extra[K::peephole_i], in.extra[K::peephole_i] + H);
    lw->peep_f.assign(in.extra[K::peephole_f], in.extra[K::peephole_f] + H);
    lw->peep_o.assign(in.extra[K::peephole_o], in.extra[K::peephole_o] + H);
  }
  packed_or_throw({&lw->whr_t, &lw->whr_n, &lw->panels.wih, &lw->panels.whh});
  packed_or_throw({&lw->qhr_t, &lw->panels.qwih, &lw->panels.qwhh});
  w.packed_bytes += packed_bytes(lw->whr_t) + packed_bytes(lw->whr_n) + packed_bytes(lw->qhr_t) + packed_bytes(lw->panels.wih) +
                    packed_bytes(lw->panels.whh) + packed_bytes(lw->panels.qwih) + packed_bytes(lw->panels.qwhh);
  w.kind = std::move(lw);
}

// A plain LSTM takes the fused path (lstm/), every other option this file's.
void lstm_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const LstmPacked& lw = own(w);
  if (!lw.fused) return lstm_forward_generic(w, s, io, pool);
  const LstmCache k = lstm_cache(w.cfg, s.T, s.B, io.cache);
  lstm_fused_forward(w, lw.panels, io.cache ? &k : nullptr, s, io, pool);
}

void lstm_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  if (!own(w).fused) return lstm_backward_generic(w, s, g, pool);
  lstm_fused_backward(w, lstm_cache(w.cfg, s.T, s.B, g.cache), s, g, pool);
}

}  // namespace

extern const CellKindOps kLstmCell;  // (cell_kind.cc lists it)
const CellKindOps kLstmCell = {lstm_pack, lstm_cache_layout, lstm_forward, lstm_backward};

}  // namespace cellstate
