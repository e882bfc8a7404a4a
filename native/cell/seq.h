// seq.h - sequence-walking helpers shared by the fused and generic kernels (not ISA-specific).
#pragma once

#include <cstdint>
#include <vector>

#include "cell.h"

namespace cellstate { class ThreadPool; }

namespace cellstate {

// Below this many multiply-adds a step runs on the calling thread: waking workers costs more.
constexpr int64_t kMinParallelStepWork = 32 * 1024;

// Batch entries by decreasing length (stable), and how many run at each step.
struct SeqOrder {
  std::vector<int64_t> order;   // [B] state row i holds batch entry order[i]
  std::vector<int64_t> active;  // [T] entries with length > step
};
SeqOrder seq_order(const SeqDesc& s);

// Time index processing step st visits for entry b, or -1 when b has no such step.
inline int64_t step_time(const SeqDesc& s, int64_t st, int64_t b) {
  const int64_t len = s.lengths ? s.lengths[b] : s.T;
  if (st >= len) return -1;
  return s.reverse ? len - 1 - st : st;
}

// Row r(t, b) visited by processing step st of entry b (which must still be running).
inline int64_t step_row(const SeqDesc& s, int64_t st, int64_t b) {
  return step_time(s, st, b) * s.rowT + b * s.rowB;
}

// The input projection Gx = X·W_ihᵀ + bias (w.wih_t, w.bias_x; G = w.cfg.G columns), computed
// a chunk of steps at a time into one reused buffer just before those steps, over the rows still
// running only. One GEMM over all T·B rows left Gx (M: 6.5 MB) out of cache by the time each
// step read it, and the elementwise stage then waited on every line (measured: the fused LSTM at
// M on one thread 11.1 ms with one big Gx, 8.9 ms with chunks). A step's rows are in state-row
// order: row(st) + i*G is state row i (i < active[st]).
class GxChunks {
 public:
  GxChunks(const CellPacked& w, const SeqDesc& s, const SeqOrder& o, const float* x, int64_t ldx);
  // Call for st = 0, 1, ... in order: computes the chunk that starts at st, if one does, and
  // returns step st's first row. The rows stay valid until the next chunk starts.
  float* step(int64_t st, ThreadPool* pool);

 private:
  const CellPacked& w_;
  const SeqDesc& s_;
  const SeqOrder& o_;
  const float* x_;
  int64_t ldx_, G_, chunk_rows_;
  bool dense_;  // X rows of a chunk already in (step, state row) order at one stride: no gather
  AlignedFloats gx_, xg_;
  int64_t chunk_end_ = 0, next_row_ = 0;
};

// Outputs at t >= lengths[b] are exactly 0.
void zero_padded_rows(const SeqDesc& s, float* y, int64_t ldy, int64_t width);

}  // namespace cellstate
