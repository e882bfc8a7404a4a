// lnlstm_cell.cc - the layer-normalised LSTM cell kind (cell_kind.h), TF Addons' LayerNormLSTMCell:
// its packed weights, training-cache layout, forward and BPTT. Equations: docs/equations.md
// ("Layer-normalised LSTM"). No ISA flags.
//
// It mirrors lib/backend/ts/lnlstm.ts (same names, same order of operations):
//   A   = LN_ih(X·W_ihᵀ) + LN_hh(h_{t-1}·W_hhᵀ) + b_ih + b_hh   (each LN over the 4H columns of a row)
//   c_t = LN_c(f * c_{t-1} + i * g)   (over H; the normalised c is the carried state)
//   h_t = o * tanh(c_t)
// X·W_ihᵀ goes through the packed GEMM a chunk of steps at a time (GxChunks, with a zero bias:
// the biases come after the layer norms), h·W_hhᵀ once per step over the state rows still running;
// each row's elementwise stage is a few calls of the dispatch table's row stages
// (cell/lnlstm_kernels.h: the layer norms, the gates and the state update, each one pass of
// vectors, simd/lnlstm_postgemm.h), split across the pool by rows (rows.h).
// BPTT runs LN_c's and LN_hh's backward inside the step loop (they feed ∂c_{t-1}, ∂h_{t-1}); LN_ih's
// backward, dW, db, the layer norms' parameter gradients and dX run over all rows after the loop.
// What it does not do: projection or peepholes (the kind declares none); a fused GEMM epilogue like
// lstm/ (the row-wide layer norm needs the whole 4H row before any gate).
// Sizes: T, B, I, H (= P), N = T*B, G = 4H (i, f, g, o).
#include <cstring>
#include <vector>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "cell.h"
#include "cell_kind.h"
#include "rows.h"
#include "seq.h"

namespace cellstate {
namespace {

namespace K = lnlstm_kind;  // its flag and parameter indices (cell_codes.gen.h)

// What the kind packs beyond the common products: the biases (added after the layer norms, so
// CellPacked::bias_x stays zero), summed with the gate layer norms' biases, and the gains.
struct LnLstmPacked : KindPacked {
  float eps = 1e-3f;
  std::vector<float> beta;          // [G] β_ih + β_hh + b_ih + b_hh: every constant A adds
  std::vector<float> g_ih, g_hh;    // [G] LN_ih, LN_hh gains
  std::vector<float> g_c, b_c;      // [H] LN_c gain and bias
};
const LnLstmPacked& own(const CellPacked& w) { return static_cast<const LnLstmPacked&>(*w.kind); }

// gates [N, 4H] activated i, f, g, o | c [N, H] c_t | xh_ih [N, 4H] normalised X·W_ihᵀ |
// xh_hh [N, 4H] normalised h·W_hhᵀ | xh_c [N, H] normalised c̃ | rs [N, 3] 1/σ of the three
// (0 on padded rows: cell.cc zeroes a variable-length cache) | hprev [N, H] h_{t-1} | c0 [B, H] |
// pre [N, 4H] A before clipping (clip only)
struct LnLstmCache {
  float *gates = nullptr, *c = nullptr, *xh_ih = nullptr, *xh_hh = nullptr, *xh_c = nullptr, *rs = nullptr;
  float *hprev = nullptr, *c0 = nullptr, *pre = nullptr;
};
LnLstmCache lnlstm_cache(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) {
  const int64_t N = T * B;
  LnLstmCache k;
  k.gates = at.take(N * c.G);
  k.c = at.take(N * c.H);
  k.xh_ih = at.take(N * c.G);
  k.xh_hh = at.take(N * c.G);
  k.xh_c = at.take(N * c.H);
  k.rs = at.take(N * 3);
  k.hprev = at.take(N * c.H);
  k.c0 = at.take(B * c.H);
  if (c.clip != 0.f) k.pre = at.take(N * c.G);
  return k;
}
LnLstmCache lnlstm_cache(const CellConfig& c, int64_t T, int64_t B, float* cache) {
  CacheCursor at(cache);
  return lnlstm_cache(c, T, B, at);
}
void lnlstm_cache_layout(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) { lnlstm_cache(c, T, B, at); }

void lnlstm_pack(CellPacked& w, const CellWeights& in) {
  const CellConfig& c = w.cfg;
  const int64_t H = c.H, G = c.G;
  pack_common(w, in, G, G, true);
  auto lw = std::make_unique<LnLstmPacked>();
  lw->eps = c.has(K::kTorchEpsilon) ? 1e-5f : 1e-3f;
  lw->beta = w.bias_x;  // b_ih + b_hh, added after the layer norms
  for (int64_t j = 0; j < G; ++j) lw->beta[j] += in.extra[K::ln_ih_bias][j] + in.extra[K::ln_hh_bias][j];
  w.bias_x.assign(static_cast<size_t>(G), 0.f);
  const auto vec = [&in](int p, int64_t n) { return std::vector<float>(in.extra[p], in.extra[p] + n); };
  lw->g_ih = vec(K::ln_ih_weight, G);
  lw->g_hh = vec(K::ln_hh_weight, G);
  lw->g_c = vec(K::ln_c_weight, H);
  lw->b_c = vec(K::ln_c_bias, H);
  w.packed_bytes += static_cast<int64_t>(sizeof(float)) * 4 * G;
  w.kind = std::move(lw);
}

void lnlstm_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const LnLstmPacked& lw = own(w);
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H, G = c.G;
  const float clip = c.clip, eps = lw.eps;
  const LnLstmCache k = lnlstm_cache(c, T, B, io.cache);
  const bool train = io.cache != nullptr;

  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * H), cs = aligned_floats(B * H), hr = aligned_floats(B * G);
  gather_rows(o, io.h0, h.get(), H);
  gather_rows(o, io.c0, cs.get(), H);
  if (train) {  // c0 in batch order, for the backward
    if (io.c0) std::memcpy(k.c0, io.c0, B * H * sizeof(float));
    else std::memset(k.c0, 0, B * H * sizeof(float));
  }
  std::vector<int64_t> rows(B);
  // Per task: a [G], x̂_ih [G], x̂_hh [G], c̃ [H], x̂_c [H] (inference keeps the x̂ here).
  const RowScratch scratch(pool, 3 * G + 2 * H);

  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    const float* gx = gxc.step(st, pool);  // [m, 4H] this step's X·W_ihᵀ, state-row order
    cell_product(c, m, G, H, h.get(), H, w.whh_t, w.qhh_t, hr.get(), G, nullptr, pool);
    for_rows(pool, m, 12 * G, scratch, [&](int64_t b0, int64_t b1, float* a) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        float* xi = train ? k.xh_ih + row * G : a + G;
        float* xhh = train ? k.xh_hh + row * G : a + 2 * G;
        float* ct = a + 3 * G;
        float* xc = train ? k.xh_c + row * H : ct + H;
        const LnLstmKernels& ln = kt.lnlstm;
        const float ri = ln.normalise(G, gx + b * G, eps, xi);
        const float rh = ln.normalise(G, hr.get() + b * G, eps, xhh);
        float* cb = cs.get() + b * H;
        float* hb = h.get() + b * H;
        // A, its activations into a, and c̃ = f * c_{t-1} + i * g into ct.
        ln.gates_forward(H, lw.g_ih.data(), xi, lw.g_hh.data(), xhh, lw.beta.data(), clip, k.pre && train ? k.pre + row * G : nullptr, a, cb, ct);
        const float rc = ln.normalise(H, ct, eps, xc);
        if (train) {
          std::memcpy(k.hprev + row * H, hb, H * sizeof(float));
          k.rs[row * 3] = ri;
          k.rs[row * 3 + 1] = rh;
          k.rs[row * 3 + 2] = rc;
        }
        ln.state_forward(H, lw.g_c.data(), xc, lw.b_c.data(), a + 3 * H, cb, hb, io.y + row * io.ldy);  // c_t, h_t
        if (train) {
          std::memcpy(k.gates + row * G, a, G * sizeof(float));
          std::memcpy(k.c + row * H, cb, H * sizeof(float));
        }
      }
    });
  }
  zero_padded_rows(s, io.y, io.ldy, H);
  scatter_rows(o, h.get(), io.hN, H);
  scatter_rows(o, cs.get(), io.cN, H);
}

void lnlstm_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const LnLstmPacked& lw = own(w);
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, G = c.G, N = T * B;
  const float clip = c.clip;
  const LnLstmCache k = lnlstm_cache(c, T, B, g.cache);

  AlignedFloats dh = aligned_floats(B * H), dc = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), H);
  gather_rows(o, g.dcN, dc.get(), H);
  AlignedFloats dA = aligned_floats(N * G);   // [N, 4H] ∂A, row order; becomes ∂(X·W_ihᵀ)
  AlignedFloats dZh = aligned_floats(N * G);  // [N, 4H] ∂(h·W_hhᵀ), row order
  AlignedFloats dCt = aligned_floats(N * H);  // [N, H] ∂c_t, row order
  AlignedFloats dZs = aligned_floats(B * G), dhnew = aligned_floats(B * H);
  std::vector<int64_t> rows(B);
  const RowScratch scratch(pool, H);  // ∂c̃

  for (int64_t st = T - 1; st >= 0; --st) {
    const int64_t m = step_rows(s, o, st, rows);
    for_rows(pool, m, 24 * G, scratch, [&](int64_t b0, int64_t b1, float* dct) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        if (row < 0) continue;
        const int64_t entry = o.order[b];
        const int64_t tprev = st > 0 ? step_time(s, st - 1, entry) : -1;
        const float* cp = tprev >= 0 ? k.c + (tprev * s.rowT + entry * s.rowB) * H : k.c0 + entry * H;
        const float* gt = k.gates + row * G;
        const float* pre = k.pre ? k.pre + row * G : nullptr;
        float* da = dA.get() + row * G;
        float* dct_row = dCt.get() + row * H;
        float* dcb = dc.get() + b * H;
        const float* dhb = dh.get() + b * H;
        const float* dy = g.dy ? g.dy + row * g.lddy : nullptr;
        const LnLstmKernels& ln = kt.lnlstm;
        float* dz = dZh.get() + row * G;
        ln.state_backward(H, dhb, dy, gt + 3 * H, k.c + row * H, dcb, pre ? pre + 3 * H : nullptr, clip, da + 3 * H, dct_row);
        ln.normalise_backward(H, dct_row, lw.g_c.data(), k.xh_c + row * H, k.rs[row * 3 + 2], dct);  // ∂c̃
        ln.gates_backward(H, dct, gt, cp, pre, clip, da, dcb);  // ∂A_{i,f,g}, ∂c_{t-1}
        ln.normalise_backward(G, da, lw.g_hh.data(), k.xh_hh + row * G, k.rs[row * 3 + 1], dz);  // ∂(h·W_hhᵀ)
        std::memcpy(dZs.get() + b * G, dz, G * sizeof(float));
      }
    });
    sgemm_packed(m, H, G, dZs.get(), G, w.whh_n, 0.f, dhnew.get(), H, nullptr, pool);
    std::memcpy(dh.get(), dhnew.get(), m * H * sizeof(float));  // rows past m have not started: keep ∂hN
  }
  scatter_rows(o, dh.get(), g.dh0, H);
  scatter_rows(o, dc.get(), g.dc0, H);

  // The layer norms' parameters: ∂γ = Σ ∂y * x̂, ∂β = Σ ∂y over the rows (padded rows hold zeros).
  float *dg_ih = g.dextra[K::ln_ih_weight], *db_ih = g.dextra[K::ln_ih_bias];
  float *dg_hh = g.dextra[K::ln_hh_weight], *db_hh = g.dextra[K::ln_hh_bias];
  float *dg_c = g.dextra[K::ln_c_weight], *db_c = g.dextra[K::ln_c_bias];
  for (int64_t r = 0; r < N; ++r) {
    kt.lnlstm.add_products(G, dA.get() + r * G, k.xh_ih + r * G, dg_ih);
    kt.lnlstm.add_products(G, dA.get() + r * G, k.xh_hh + r * G, dg_hh);
    kt.lnlstm.add_products(H, dCt.get() + r * H, k.xh_c + r * H, dg_c);
  }
  add_bias_grads(db_ih, db_hh, dA.get(), N, G, G);
  add_column_sums(db_c, dCt.get(), N, H, H);
  add_bias_grads(g.db_ih, g.db_hh, dA.get(), N, G, G);
  // ∂(X·W_ihᵀ) through LN_ih, each row in place (rows are independent: split across the pool).
  const RowScratch lnsc(pool, G);
  for_rows(pool, N, 8 * G, lnsc, [&](int64_t r0, int64_t r1, float* dz) {
    for (int64_t r = r0; r < r1; ++r) {
      if (k.rs[r * 3] == 0.f) continue;  // a padded row (rs > 0 on every valid row)
      kt.lnlstm.normalise_backward(G, dA.get() + r * G, lw.g_ih.data(), k.xh_ih + r * G, k.rs[r * 3], dz);
      std::memcpy(dA.get() + r * G, dz, G * sizeof(float));
    }
  });
  sgemm(true, false, G, I, N, dA.get(), G, g.x, g.ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, H, N, dZh.get(), G, k.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

}  // namespace

extern const CellKindOps kLnLstmCell;  // (cell_kind.cc lists it)
const CellKindOps kLnLstmCell = {lnlstm_pack, lnlstm_cache_layout, lnlstm_forward, lnlstm_backward};

}  // namespace cellstate
