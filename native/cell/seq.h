// seq.h - sequence-walking helpers shared by the fused and generic kernels (not ISA-specific).
#pragma once

#include <cstdint>
#include <vector>

#include "../gemm/qgemm.h"
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

// The input projection Gx = X·W_ihᵀ + bias, computed a chunk of steps at a time into one reused
// buffer just before those steps, over the rows still running only. One GEMM over all T·B rows
// left Gx (M: 6.5 MB) out of cache by the time each step read it, and the elementwise stage then
// waited on every line (measured: the fused LSTM at M on one thread 11.1 ms with one big Gx,
// 8.9 ms with chunks). A step's rows are in state-row order: step(st) + i*ldg is state row i
// (i < active[st]).
//
// Two uses: the per-kind paths (cell/*_cell.cc) project every column of w.wih_t (w.bias_x) with the pool's threads
// into a buffer of its own; a member of the fused LSTM's team projects only its own panels
// [q0, q1) of the LSTM's panels (LstmFusedPanels, lstm/lstm_fused.h) into a buffer the team shares, single-threaded. Every
// member cuts the same chunks (the plan depends on the sequence and the sizes only).
class GxChunks {
 public:
  // Per-kind paths: all columns of w.wih_t (a quantized cell: w.qih_t), G = w.cfg.G, threaded.
  GxChunks(const CellPacked& w, const SeqDesc& s, const SeqOrder& o, const float* x, int64_t ldx);
  // One team member: panels [q0, q1) of b (bias indexed like b's columns) into gx [chunk_rows][ldg];
  // xg: scratch of chunk_rows * I floats when !dense(s), else unused (may be null).
  GxChunks(const PackedB& b, const float* bias, int64_t q0, int64_t q1, const SeqDesc& s, const SeqOrder& o,
           const float* x, int64_t ldx, float* gx, int64_t ldg, float* xg);
  // The same over a quantized b; qx: rows reserved (quant_rows_reserve) for chunk_rows x b.k, whose
  // X rows each chunk quantizes once (a member's own: nothing is allocated on a team thread).
  GxChunks(const PackedQ& b, const float* bias, int64_t q0, int64_t q1, const SeqDesc& s, const SeqOrder& o,
           const float* x, int64_t ldx, float* gx, int64_t ldg, float* xg, QuantRows* qx);
  // Rows of a chunk for rows of ldg floats; whether X's rows need no gathering.
  static int64_t chunk_rows(const SeqDesc& s, int64_t I, int64_t ldg);
  static bool dense(const SeqDesc& s);
  // Call for st = 0, 1, ... in order: computes the chunk that starts at st, if one does, and
  // returns step st's first row. The rows stay valid until the next chunk starts.
  float* step(int64_t st, ThreadPool* pool);

 private:
  const PackedB* b_;   // the fp32 product, or
  const PackedQ* qb_;  // the quantized one (then qx_ holds the chunk's quantized X rows)
  QuantRows* qx_;
  QuantRows own_qx_;
  int64_t k_;
  const float* bias_;
  int64_t q0_, q1_;
  const SeqDesc& s_;
  const SeqOrder& o_;
  const float* x_;
  int64_t ldx_, ldg_, chunk_rows_;
  bool dense_;
  AlignedFloats own_gx_, own_xg_;  // per-kind paths only
  float *gx_, *xg_;
  int64_t chunk_end_ = 0, next_row_ = 0;
};

// Outputs at t >= lengths[b] are exactly 0.
void zero_padded_rows(const SeqDesc& s, float* y, int64_t ldy, int64_t width);

}  // namespace cellstate
