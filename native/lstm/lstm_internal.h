// lstm_internal.h - helpers shared by lstm_forward.cc and lstm_backward.cc (not ISA-specific).
#pragma once

#include <cstdint>
#include <vector>

#include "lstm.h"

namespace cellstate {

// Below this many multiply-adds a step runs on the calling thread: waking workers costs more.
constexpr int64_t kMinParallelStepWork = 32 * 1024;

// Batch entries by decreasing length (stable), and how many run at each step.
struct SeqOrder {
  std::vector<int64_t> order;   // [B] state row i holds batch entry order[i]
  std::vector<int64_t> active;  // [T] entries with length > step
};
SeqOrder seq_order(const LstmSeq& s);

// Row r(t, b) visited by processing step st of entry b (which must still be running).
inline int64_t step_row(const LstmSeq& s, int64_t st, int64_t b) {
  const int64_t len = s.lengths ? s.lengths[b] : s.T;
  const int64_t t = s.reverse ? len - 1 - st : st;
  return t * s.rowT + b * s.rowB;
}

// Outputs at t >= lengths[b] are exactly 0.
void zero_padded_rows(const LstmSeq& s, float* y, int64_t ldy, int64_t width);

}  // namespace cellstate
