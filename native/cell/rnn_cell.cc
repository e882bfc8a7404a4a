// rnn_cell.cc - the Elman RNN cell kind (cell_kind.h), tanh or relu (or any gate activation:
// docs/equations.md, "Gate activations"): its packed weights,
// training-cache layout, forward and BPTT. Equations: docs/equations.md (RNN). No ISA flags.
//
// It mirrors lib/backend/ts/rnn.ts; products through the packed GEMM, the elementwise stage split
// across the pool by rows (rows.h). f' comes from the cached h_t (tanh: 1 - h²; relu: h > 0).
// Sizes: T, B, I, H, N = T*B, G = H.
#include <cmath>
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

void rnn_pack(CellPacked& w, const CellWeights& in) { pack_common(w, in, w.cfg.G, w.cfg.G, true); }

// gates [N, H] h_t | hprev [N, H] | pre [N, H] before clipping (clip only)
struct RnnCache {
  float *gates = nullptr, *hprev = nullptr, *pre = nullptr;
};
RnnCache rnn_cache(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) {
  const int64_t N = T * B;
  RnnCache k;
  k.gates = at.take(N * c.H);
  k.hprev = at.take(N * c.H);
  if (c.clip != 0.f) k.pre = at.take(N * c.H);
  return k;
}
RnnCache rnn_cache(const CellConfig& c, int64_t T, int64_t B, float* cache) {
  CacheCursor at(cache);
  return rnn_cache(c, T, B, at);
}
void rnn_cache_layout(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at) { rnn_cache(c, T, B, at); }

void rnn_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, H = c.H;
  const bool relu = c.kind == CellKind::rnn_relu;
  const RnnCache k = rnn_cache(c, T, B, io.cache);
  const bool train = io.cache != nullptr;
  GxChunks gxc(w, s, o, io.x, io.ldx);
  AlignedFloats h = aligned_floats(B * H), hr = aligned_floats(B * H);
  gather_rows(o, io.h0, h.get(), H);
  std::vector<int64_t> rows(B);
  const RowScratch scratch(pool, H);  // one row's pre-activation
  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = step_rows(s, o, st, rows);
    const float* gx = gxc.step(st, pool);  // [m, H] this step's Gx, state-row order
    cell_product(c, m, H, H, h.get(), H, w.whh_t, w.qhh_t, hr.get(), H, nullptr, pool);
    for_rows(pool, m, 8 * H, scratch, [&](int64_t b0, int64_t b1, float* v) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t row = rows[b];
        for (int64_t j = 0; j < H; ++j) v[j] = gx[b * H + j] + hr[b * H + j];
        if (train && k.pre) std::memcpy(k.pre + row * H, v, H * sizeof(float));
        clamp_all(v, H, c.clip);
        if (c.custom_acts) kt.lstm.act(c.act[0], H, v, v);  // any gate activation f
        else if (relu) for (int64_t j = 0; j < H; ++j) v[j] = v[j] > 0.f ? v[j] : 0.f;
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
  const KernelTable& kt = kernels();
  const CellConfig& c = w.cfg;
  const SeqOrder o = seq_order(s);  // state row i holds batch entry o.order[i]
  const int64_t T = s.T, B = s.B, I = c.I, H = c.H, N = T * B;
  const bool relu = c.kind == CellKind::rnn_relu;
  const RnnCache k = rnn_cache(c, T, B, g.cache);
  AlignedFloats dh = aligned_floats(B * H), dA = aligned_floats(N * H), dAs = aligned_floats(B * H), dhnew = aligned_floats(B * H);
  gather_rows(o, g.dhN, dh.get(), H);
  std::vector<int64_t> rows(B);
  for (int64_t st = T - 1; st >= 0; --st) {
    std::memset(dAs.get(), 0, B * H * sizeof(float));
    const int64_t m = step_rows(s, o, st, rows);
    for (int64_t b = 0; b < m; ++b) {
      const int64_t row = rows[b];
      if (row < 0) continue;
      if (c.custom_acts) {
        // ∂A = (∂h + ∂y) f'(h_t), f' read from the stored h_t (simd/gate_act.h), times clip's pass.
        float* d = dA.get() + row * H;
        for (int64_t j = 0; j < H; ++j) d[j] = dh[b * H + j] + (g.dy ? g.dy[row * g.lddy + j] : 0.f);
        kt.lstm.act_dmul(c.act[0], H, k.gates + row * H, d, d);
        for (int64_t j = 0; j < H; ++j) dAs[b * H + j] = (d[j] *= pass(k.pre, row * H + j, c.clip));
        continue;
      }
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

extern const CellKindOps kRnnCell;  // (cell_kind.cc lists it)
const CellKindOps kRnnCell = {rnn_pack, rnn_cache_layout, rnn_forward, rnn_backward};

}  // namespace cellstate
