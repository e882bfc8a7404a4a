// lstm_backward.cc - BPTT for one LSTM layer-direction (no ISA flags; kernels from kernels()).
//
// Walks the steps in reverse processing order carrying ∂h, ∂c (state rows in the same
// length-sorted order as the forward). Per step: the fused elementwise kernel turns ∂h, ∂c and
// the cached gates into ∂A for the running rows, then ONE product ∂h = ∂A_s · W_hh. After the
// loop ∂W_ih, ∂W_hh, ∂X and the bias gradients are single GEMMs / reductions over all N rows of
// ∂A (docs/equations.md). Rows past a sequence's length keep ∂A = 0 and contribute nothing.
#include <algorithm>
#include <cstring>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "../cell/cell.h"
#include "../cell/seq.h"

namespace cellstate {

void lstm_fused_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const int64_t H = w.cfg.H, G = 4 * H, B = s.B, T = s.T, N = T * B, I = w.cfg.I;
  const CacheParts train = cell_cache_parts(w.cfg, T, B, g.cache);
  const float* x = g.x;
  const int64_t ldx = g.ldx;
  const SeqOrder o = seq_order(s);

  AlignedFloats dh = aligned_floats(B * H), dc = aligned_floats(B * H);  // [B, H] state rows
  for (int64_t i = 0; i < B; ++i) {
    const int64_t b = o.order[i];
    if (g.dhN) std::memcpy(dh.get() + i * H, g.dhN + b * H, H * sizeof(float));
    if (g.dcN) std::memcpy(dc.get() + i * H, g.dcN + b * H, H * sizeof(float));
  }
  // [N, 4H] row order: bwd_row writes every running row, padded rows are zeroed here.
  AlignedFloats dA = aligned_floats_uninit(N * G);
  zero_padded_rows(s, dA.get(), G, G);
  AlignedFloats dAs = aligned_floats(B * G);  // [B, 4H] this step, state-row order

  const int nthreads = pool ? pool->size() : 1;
  for (int64_t st = T - 1; st >= 0; --st) {
    const int64_t m = o.active[st];
    auto run = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = o.order[i];
        const int64_t r = step_row(s, st, b);
        const float* cprev = st > 0 ? train.c + step_row(s, st - 1, b) * H : train.c0 + b * H;
        kt.lstm.bwd_row(H, train.gates + r * G, train.c + r * H, cprev,
                        g.dy ? g.dy + r * g.lddy : nullptr, dh.get() + i * H, dc.get() + i * H,
                        dA.get() + r * G, dAs.get() + i * G);
      }
    };
    if (nthreads > 1 && m > 1 && m * G >= kMinParallelStepWork / 8) {
      struct Ctx { decltype(run)* fn; int64_t m; int n; } ctx{&run, m, nthreads};  // one-pointer closure: no allocation per step
      pool->parallel_for(nthreads, [c = &ctx](int64_t t, int) { (*c->fn)(c->m * t / c->n, c->m * (t + 1) / c->n); });
    } else {
      run(0, m);
    }
    // ∂h for the running rows; rows >= m (not started yet) keep their ∂hN.
    sgemm_packed(m, H, G, dAs.get(), G, w.whh_n, 0.f, dh.get(), H, nullptr, pool);
  }
  for (int64_t i = 0; i < B; ++i) {
    const int64_t b = o.order[i];
    std::memcpy(g.dh0 + b * H, dh.get() + i * H, H * sizeof(float));
    std::memcpy(g.dc0 + b * H, dc.get() + i * H, H * sizeof(float));
  }

  sgemm(true, false, G, I, N, dA.get(), G, x, ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, H, N, dA.get(), G, train.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  add_bias_grads(g.db_ih, g.db_hh, dA.get(), N, G, G);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

}  // namespace cellstate
