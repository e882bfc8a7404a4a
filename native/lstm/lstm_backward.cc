// lstm_backward.cc - BPTT for one LSTM layer-direction (no ISA flags; kernels from kernels()).
//
// Walks the steps in reverse processing order carrying ∂h, ∂c (state rows in the same
// length-sorted order as the forward). Per step: the fused elementwise kernel turns ∂h, ∂c and
// the cached gates into ∂A for the running rows (and adds it into ∂b), then ONE product
// ∂h = ∂A_s · W_hh. After the loop ∂W_ih, ∂W_hh and ∂X are single GEMMs over all N rows of ∂A
// (docs/equations.md). Rows past a sequence's length keep ∂A = 0 and contribute nothing.
//
// The step loop runs as a team (ThreadPool::run_team), member t owning a fixed range of hidden
// units - whole panels of ∂h's columns in W_hh's packing (whh_n): it computes ∂A for its units
// of every running row, meets the others (∂A_s complete), then its columns of ∂h = ∂A_s · W_hh,
// whose share of W_hh stays in its core's L2 step after step. The next step needs only the
// member's own ∂h and ∂c, so that one barrier per step is all; ∂A_s is double-buffered so a
// member may write the next step's while another still multiplies this one's. With a single
// panel (H <= nr) the members own state rows instead and need no barrier at all.
#include <algorithm>
#include <cstring>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "../cell/cell.h"
#include "../cell/seq.h"
#include "lstm_fused.h"

namespace cellstate {

void lstm_fused_backward(const CellPacked& w, const LstmCache& train, const SeqDesc& s, const BwdIO& g, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const int64_t H = w.cfg.H, G = 4 * H, B = s.B, T = s.T, N = T * B, I = w.cfg.I;
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
  AlignedFloats dAs = aligned_floats(2 * B * G);  // [2][B, 4H] this step's ∂A, state-row order
  // ∂b = Σ rows ∂A, summed by bwd_row while ∂A is in registers (each member its own units): no
  // pass over the whole of ∂A after the loop. Both biases feed the same pre-activation.
  AlignedFloats db = g.db_ih || g.db_hh ? aligned_floats(G) : AlignedFloats();  // [4H]

  // The team splits the hidden units - whole panels of ∂h's H columns (nr units each) - when
  // there are panels enough; otherwise (H <= nr) it splits the state rows: rows are independent
  // through the whole recurrence, so each member multiplies all of the (small) W_hh for its own
  // rows and never waits for another.
  const int64_t npanels = w.whh_n.num_panels(), nr = w.whh_n.nr;
  const bool by_units = npanels >= 2;
  const bool split = pool && B * G >= kMinParallelStepWork / 8;
  const int team = split ? pool->team_size(static_cast<int>(std::min<int64_t>(pool->size(), by_units ? npanels : B))) : 1;
  TeamBarrier barrier(team);

  auto member = [&](int64_t th, int n) {
    const bool units = by_units || n == 1;
    const int64_t q0 = units ? npanels * th / n : 0, q1 = units ? npanels * (th + 1) / n : npanels;
    const int64_t ua = std::min(q0 * nr, H), ub = std::min(q1 * nr, H);  // own units
    const int64_t r0 = units ? 0 : B * th / n, r1 = units ? B : B * (th + 1) / n;  // own state rows
    for (int64_t st = T - 1, buf = 0; st >= 0; --st, buf ^= 1) {
      const int64_t m = std::min(o.active[st], r1);
      float* dAs_st = dAs.get() + buf * B * G;  // [B, 4H]
      for (int64_t i = r0; i < m; ++i) {
        const int64_t b = o.order[i];
        const int64_t r = step_row(s, st, b);
        const float* cprev = st > 0 ? train.c + step_row(s, st - 1, b) * H : train.c0 + b * H;
        kt.lstm.bwd_row(H, ua, ub, train.gates + r * G, train.c + r * H, cprev,
                        g.dy ? g.dy + r * g.lddy : nullptr, dh.get() + i * H, dc.get() + i * H,
                        dA.get() + r * G, dAs_st + i * G, by_units ? db.get() : nullptr);
      }
      if (units && n > 1) barrier.arrive_and_wait(static_cast<int>(th));  // every unit of ∂A_s written
      // ∂h for the running rows; rows >= m (not started yet) keep their ∂hN.
      if (m > r0) {
        sgemm_packed_panels(m - r0, G, dAs_st + r0 * G, G, w.whh_n, q0, q1, 0.f, dh.get() + r0 * H, H, nullptr,
                            n > 1 ? nullptr : pool);
      }
    }
  };
  if (team > 1) pool->run_team(team, member);
  else member(0, 1);
  // Split by rows, the members' sums of ∂b would race: one pass over ∂A instead (also with one
  // member, so the result does not depend on the thread count).
  if (db && !by_units) add_column_sums(db.get(), dA.get(), N, G, G);

  for (int64_t i = 0; i < B; ++i) {
    const int64_t b = o.order[i];
    std::memcpy(g.dh0 + b * H, dh.get() + i * H, H * sizeof(float));
    std::memcpy(g.dc0 + b * H, dc.get() + i * H, H * sizeof(float));
  }

  sgemm(true, false, G, I, N, dA.get(), G, x, ldx, 1.f, g.dw_ih, I, nullptr, pool);
  sgemm(true, false, G, H, N, dA.get(), G, train.hprev, H, 1.f, g.dw_hh, H, nullptr, pool);
  if (db) add_bias_pair(g.db_ih, g.db_hh, db.get(), G);
  if (g.dx) sgemm_packed(N, I, G, dA.get(), G, w.wih_n, 1.f, g.dx, g.lddx, nullptr, pool);
}

}  // namespace cellstate
