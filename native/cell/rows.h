// rows.h - the pieces every cell kind's elementwise stage shares (lstm_cell.cc, gru_cell.cc,
// rnn_cell.cc): per-thread scratch, splitting a step's state rows across the pool, clipping and
// its derivative, and the state-row order of variable-length batches (seq.h). No ISA flags.
#pragma once

#include <cmath>
#include <cstring>
#include <vector>

#include "../threadpool.h"
#include "cell.h"
#include "seq.h"

namespace cellstate {

// Derivative of clamp: 1 inside [-c, c] (or without clipping), 0 outside.
inline float pass(const float* pre, int64_t i, float c) { return pre && std::fabs(pre[i]) > c ? 0.f : 1.f; }

// Per-thread scratch for the elementwise stages, allocated once per call (never per step):
// slot t of `floats` floats for task t of for_rows.
struct RowScratch {
  AlignedFloats buf;
  int64_t floats;
  RowScratch(ThreadPool* pool, int64_t floats_per_task)
      : buf(aligned_floats_uninit((pool ? pool->size() : 1) * floats_per_task)), floats(floats_per_task) {}
  float* slot(int64_t t) const { return buf.get() + t * floats; }
};

// fn(b0, b1, scratch) over state rows [0, B), split across the pool when the work is worth it.
// The closure handed to the pool holds one pointer, so std::function stores it inline: no
// allocation per step.
template <typename F>
void for_rows(ThreadPool* pool, int64_t B, int64_t work_per_row, const RowScratch& scratch, F&& fn) {
  const int n = pool ? pool->size() : 1;
  if (n > 1 && B > 1 && B * work_per_row >= kMinParallelStepWork) {
    struct Ctx { F* fn; int64_t B; int n; const RowScratch* scratch; } ctx{&fn, B, n, &scratch};
    pool->parallel_for(n, [c = &ctx](int64_t t, int) { (*c->fn)(c->B * t / c->n, c->B * (t + 1) / c->n, c->scratch->slot(t)); });
  } else {
    fn(0, B, scratch.slot(0));
  }
}

inline void clamp_all(float* a, int64_t n, float c) {
  if (c == 0.f) return;
  for (int64_t j = 0; j < n; ++j) a[j] = a[j] > c ? c : (a[j] < -c ? -c : a[j]);
}

// State rows follow `o.order` (entries by decreasing length): the entries still running at step st
// are the first o.active[st] rows, so each step's products cover that prefix only and no work is
// spent past any sequence's length. rows[i] = the sequence row of state row i at step st.
inline int64_t step_rows(const SeqDesc& s, const SeqOrder& o, int64_t st, std::vector<int64_t>& rows) {
  const int64_t m = o.active[st];
  for (int64_t i = 0; i < m; ++i) rows[i] = step_row(s, st, o.order[i]);
  return m;
}

// Copy [B, n] batch-order rows into state order (gather) or back (scatter); null src = zeros.
inline void gather_rows(const SeqOrder& o, const float* src, float* dst, int64_t n) {
  for (size_t i = 0; i < o.order.size(); ++i) {
    if (src) std::memcpy(dst + i * n, src + o.order[i] * n, n * sizeof(float));
    else std::memset(dst + i * n, 0, n * sizeof(float));
  }
}
inline void scatter_rows(const SeqOrder& o, const float* src, float* dst, int64_t n) {
  for (size_t i = 0; i < o.order.size(); ++i) std::memcpy(dst + o.order[i] * n, src + i * n, n * sizeof(float));
}


}  // namespace cellstate
