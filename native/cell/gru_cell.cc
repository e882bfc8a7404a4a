// gru_cell.cc - the GRU cell kind (cell_kind.h): its packed weights, training-cache layout,
// forward and BPTT, both formulas for the candidate n (linear_before_reset: PyTorch; otherwise
// ONNX's default, whose step makes a second product once r is known). Equations:
// docs/equations.md (GRU). No ISA flags.
//
// It mirrors lib/backend/ts/gru.ts (same names, same order of operations); products through the
// packed GEMM, elementwise stages split across the pool by rows (rows.h).
// Sizes: T, B, I, H, N = T*B, G = 3H (r, z, n).
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "cell.h"
#include "cell_kind.h"
#include "rows.h"
#include "seq.h"

namespace cellstate {
namespace {

// What the GRU packs beyond the common products: the ONNX formula's W_hn apart, and b_hn.
struct GruPacked : KindPacked {
  PackedB whn_t, whn_n;      // (r*h)·W_hnᵀ and ∂A_n·W_hn (ONNX formula only)
  PackedQ qhn_t;             // (r*h)·W_hnᵀ of a quantized cell (ONNX formula only)
  std::vector<float> b_hn;   // [H] n-gate recurrent bias
};
const GruPacked& own(const CellPacked& w) { return static_cast<const GruPacked&>(*w.kind); }

// W_ih, W_hh's rows multiplied by h itself (all 3H with linear_before_reset; only [r, z] with the
// ONNX formula, whose W_hn takes r*h and is packed apart), b_hn kept out of bias_x.
void gru_pack(CellPacked& w, const CellWeights& in) {
  const CellConfig& c = w.cfg;
  const int64_t H = c.H;
  const bool onnx = !c.has(gru_kind::kLinearBeforeReset);
  auto gw = std::make_unique<GruPacked>();
  pack_common(w, in, onnx ? 2 * H : c.G, 2 * H, true);  // b_hn stays with h·W_hnᵀ
  if (onnx && c.quantized()) gw->qhn_t = pack_q(c, H, H, in.q_hh, 2 * H);
  if (onnx && !c.quantized()) {
    gw->whn_t = pack_b(true, H, H, in.w_hh + 2 * H * H, H);
    gw->whn_n = pack_b(false, H, H, in.w_hh + 2 * H * H, H);
  }
  gw->b_hn.assign(H, 0.f);
  if (in.b_hh) std::memcpy(gw->b_hn.data(), in.b_hh + 2 * H, H * sizeof(float));
  packed_or_throw({&gw->whn_t, &gw->whn_n});
  packed_or_throw({&gw->qhn_t});
  w.packed_bytes += packed_bytes(gw->whn_t) + packed_bytes(gw->whn_n) + packed_bytes(gw->qhn_t);
  w.kind = std::move(gw);
}

// gates [N, 3H] activated r, z, n | hn [N, H] linear_before_reset: h·W_hnᵀ + b_hn, ONNX: r*h |
// hprev [N, H] | pre [N, 3H] before clipping (clip only)
struct GruCache {
  float *gates = nullptr, *hn = nullptr, *hprev = nullptr, *pre = nullptr;
};
GruCache gru_cache(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) {
  const int64_t N = T * B;
  GruCache k;
  k.gates = at.take(N * c.G);
  k.hn = at.take(N * c.H);
  k.hprev = at.take(N * c.H);
  if (c.clip != 0.f) k.pre = at.take(N * c.G);
  return k;
}
GruCache gru_cache(const CellConfig& c, int64_t T, int64_t B, float* cache) {
  CacheCursor at(cache);
  return gru_cache(c, T, B, at);
}
void gru_cache_layout(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) { gru_cache(c, T, B, at); }

void gru_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H, G = c.G;
  const GruPacked& gw = own(w);
  const bool lbr = c.has(gru_kind::kLinearBeforeReset);
  const float clip = c.clip;
  const GruCache k = gru_cache(c, T, B, io.cache);
  const bool train = io.cache != nullptr;
  const bool custom = c.custom_acts;

  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * G), rh = aligned_floats(lbr ? 0 : B * H);
  gather_rows(o, io.h0, h.get(), H);
  std::vector<int64_t> rows(B);
  const RowScratch scratch(pool, H);  // h·W_hnᵀ + b_hn of one row

  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    float* gx = gxc.step(st, pool);  // [m, 3H] this step's Gx, state-row order; becomes the gates
    // [r, z] (and, with linearBeforeReset, n) recurrent products from h_{t-1}.
    cell_product(c, m, lbr ? G : 2 * H, H, h.get(), H, w.whh_t, w.qhh_t, hr.get(), G, nullptr, pool);
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
        if (custom) kt.lstm.act(c.act[0], 2 * H, g0, g0);  // f on r, z
        else kt.lstm.sigmoid(2 * H, g0, g0);
        if (!lbr) for (int64_t j = 0; j < H; ++j) rh[b * H + j] = g0[j] * h[b * H + j];
      }
    });
    // ONNX formula: the n product takes r*h, known only now.
    if (!lbr) cell_product(c, m, H, H, rh.get(), H, gw.whn_t, gw.qhn_t, hr.get() + 2 * H, G, nullptr, pool);
    // Phase B: n and the new state.
    for_rows(pool, m, 8 * H, scratch, [&](int64_t b0, int64_t b1, float* hn) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        float* g0 = gx + b * G;
        const float* r0 = hr.get() + b * G;
        float* an = g0 + 2 * H;
        for (int64_t j = 0; j < H; ++j) {
          hn[j] = r0[2 * H + j] + gw.b_hn[j];
          an[j] += lbr ? g0[j] * hn[j] : hn[j];
        }
        if (train && k.pre) std::memcpy(k.pre + row * G + 2 * H, an, H * sizeof(float));
        clamp_all(an, H, clip);
        if (custom) kt.lstm.act(c.act[1], H, an, an);  // g on n
        else kt.lstm.tanh(H, an, an);  // n, in place of its Gx column
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
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, G = c.G, N = T * B;
  const GruPacked& gw = own(w);
  const bool lbr = c.has(gru_kind::kLinearBeforeReset);
  const float clip = c.clip;
  const GruCache k = gru_cache(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), H);
  AlignedFloats dGx = aligned_floats(N * G), dGh = aligned_floats(N * G), dGs = aligned_floats(B * G);
  AlignedFloats dhdirect = aligned_floats(B * H), dhnew = aligned_floats(B * H), drh = aligned_floats(lbr ? 0 : B * H);
  std::vector<int64_t> rows(B);
  // Any gate activations (c.custom_acts): f'(r), f'(z), g'(n) of one row from its stored gates
  // (act_dmul over ones, simd/gate_act.h), in place of the default r(1-r), z(1-z), 1-n².
  const bool custom = c.custom_acts;
  std::vector<float> ones(custom ? static_cast<size_t>(G) : 0, 1.f), dact(custom ? static_cast<size_t>(G) : 0);

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
      float* dr = dact.data();  // custom: [3H] f'(r), f'(z), g'(n)
      if (custom) {
        kt.lstm.act_dmul(c.act[0], 2 * H, gt, ones.data(), dr);
        kt.lstm.act_dmul(c.act[1], H, gt + 2 * H, ones.data(), dr + 2 * H);
      }
      for (int64_t j = 0; j < H; ++j) {
        const float dhj = dh[b * H + j] + (g.dy ? g.dy[row * g.lddy + j] : 0.f);
        const float r = gt[j], z = gt[H + j], n = gt[2 * H + j];
        const float hp = k.hprev[row * H + j], hn = k.hn[row * H + j];
        const float an = (custom ? dhj * (1.f - z) * dr[2 * H + j] : dhj * (1.f - z) * (1.f - n * n)) * pass(pre, 2 * H + j, clip);
        const float az = (custom ? dhj * (hp - n) * dr[H + j] : dhj * (hp - n) * z * (1.f - z)) * pass(pre, H + j, clip);
        gxr[H + j] = ghr[H + j] = gs[H + j] = az;
        gxr[2 * H + j] = an;
        dhdirect[b * H + j] = dhj * z;
        if (lbr) {
          const float ar = (custom ? an * hn * dr[j] : an * hn * r * (1.f - r)) * pass(pre, j, clip);
          gxr[j] = ghr[j] = gs[j] = ar;
          ghr[2 * H + j] = gs[2 * H + j] = an * r;
        } else {
          ghr[2 * H + j] = gs[2 * H + j] = an;
        }
      }
    }
    if (!lbr) {
      // ONNX: ∂(r*h) = ∂A_n · W_hn, then phase 2: ∂r and the r-path into ∂h_{t-1}.
      sgemm_packed(m, H, H, dGs.get() + 2 * H, G, gw.whn_n, 0.f, drh.get(), H, nullptr, pool);
      for (int64_t b = 0; b < m; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        const float* pre = k.pre ? k.pre + row * G : nullptr;
        float* dr = dact.data();
        if (custom) kt.lstm.act_dmul(c.act[0], H, k.gates + row * G, ones.data(), dr);
        for (int64_t j = 0; j < H; ++j) {
          const float r = k.gates[row * G + j], hp = k.hprev[row * H + j], d = drh[b * H + j];
          const float ar = (custom ? d * hp * dr[j] : d * hp * r * (1.f - r)) * pass(pre, j, clip);
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


}  // namespace

extern const CellKindOps kGruCell;  // (cell_kind.cc lists it)
const CellKindOps kGruCell = {gru_pack, gru_cache_layout, gru_forward, gru_backward};

}  // namespace cellstate
