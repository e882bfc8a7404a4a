// seq.h - sequence-walking helpers shared by the fused and generic kernels (not ISA-specific).
#pragma once

#include <cstdint>
#include <vector>

#include "cell.h"

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

// Outputs at t >= lengths[b] are exactly 0.
void zero_padded_rows(const SeqDesc& s, float* y, int64_t ldy, int64_t width);

}  // namespace cellstate
