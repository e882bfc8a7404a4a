// lstm_forward.cc - the fused plain-LSTM forward over T steps (no ISA flags: the ISA-specific
// pieces, the GEMM micro-kernel and the fused epilogue, come from kernels()). Weights are packed
// by cell_prepare (cell/cell.cc). Also home of the sequence helpers declared in cell/seq.h.
//
// Per chunk of steps: one GEMM  Gx = X · W_ihᵀ + bias  over the chunk's running rows, then per
// step one pass over the gate-interleaved W_hh panels: for each tile of state rows and each
// panel (vw hidden units), the micro-kernel computes h_{t-1}·W_hhᵀ for the four gates into a
// tile buffer on the stack and the epilogue applies the update at once. Threads split the
// panels (hidden units) of each step, and the tiles of each chunk's GEMM.
//
// The chunks are GxChunks (declared in cell/seq.h, shared with the generic path, defined here).
//
// Variable lengths without re-sorting the batch: the state rows are kept in `order` (entries by
// decreasing length), so the entries still running at step s are always the first m_s state
// rows and a step computes those rows only. Only the [B, H] state is permuted; sequence buffers
// are addressed through per-row pointers.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "../cell/cell.h"
#include "../cell/seq.h"

namespace cellstate {


SeqOrder seq_order(const SeqDesc& s) {
  SeqOrder o;
  o.order.resize(s.B);
  std::iota(o.order.begin(), o.order.end(), 0);
  if (s.lengths) {
    std::stable_sort(o.order.begin(), o.order.end(),
                     [&](int64_t a, int64_t b) { return s.lengths[a] > s.lengths[b]; });
  }
  o.active.resize(s.T);
  // active[st] = number of entries with length > st; entries sorted, so a pointer walk suffices.
  int64_t m = s.B;
  for (int64_t st = 0; st < s.T; ++st) {
    while (m > 0 && s.lengths && s.lengths[o.order[m - 1]] <= st) --m;
    o.active[st] = m;
  }
  return o;
}

namespace {
// Measured on the bench machine (1 MB L2 per core, 32 MB L3), one thread: Gx chunks of 256 KB -
// 1 MB are best for M (8.8-9.0 ms vs 11.5 unchunked) and L (63.5-64 ms vs 73.9); XL, whose W_ih
// (16 MB) comes from memory, is best unchunked (36.8 ms vs 44.5 at 512 KB chunks).
constexpr int64_t kGxChunkBytes = 384 * 1024;
constexpr int64_t kWihCachedBytes = 8 * 1024 * 1024;
}  // namespace

GxChunks::GxChunks(const CellPacked& w, const SeqDesc& s, const SeqOrder& o, const float* x, int64_t ldx)
    : w_(w), s_(s), o_(o), x_(x), ldx_(ldx), G_(w.cfg.G),
      dense_(!s.lengths && !s.reverse && (s.B == 1 || (s.rowB == 1 && s.rowT == s.B))) {
  // Chunks of steps whose running rows fill about kGxChunkBytes of Gx (at least one step each).
  // Each chunk's GEMM streams all of W_ih again; when W_ih is too big to come from cache, a
  // chunk holds at least I rows so that traffic stays below the Gx traffic chunking saves.
  const int64_t I = w.cfg.I, B = s.B, N = s.T * s.B;
  chunk_rows_ = std::max<int64_t>(B, kGxChunkBytes / static_cast<int64_t>(G_ * sizeof(float)));
  if (I * G_ * static_cast<int64_t>(sizeof(float)) > kWihCachedBytes) chunk_rows_ = std::max(chunk_rows_, I);
  chunk_rows_ = std::min(chunk_rows_, N);
  gx_ = aligned_floats_uninit(chunk_rows_ * G_);
  if (!dense_) xg_ = aligned_floats_uninit(chunk_rows_ * I);
}

float* GxChunks::step(int64_t st, ThreadPool* pool) {
  if (st == chunk_end_) {
    const int64_t I = w_.cfg.I;
    int64_t rows = 0;
    while (chunk_end_ < s_.T && (chunk_end_ == st || rows + o_.active[chunk_end_] <= chunk_rows_)) rows += o_.active[chunk_end_++];
    const float* a = x_ + step_row(s_, st, o_.order[0]) * ldx_;
    int64_t lda = s_.B == 1 ? s_.rowT * ldx_ : ldx_;
    if (!dense_) {  // gather the chunk's X rows in (step, state row) order
      for (int64_t u = st, q = 0; u < chunk_end_; ++u) {
        for (int64_t i = 0; i < o_.active[u]; ++i, ++q) {
          std::memcpy(xg_.get() + q * I, x_ + step_row(s_, u, o_.order[i]) * ldx_, I * sizeof(float));
        }
      }
      a = xg_.get();
      lda = I;
    }
    sgemm_packed(rows, G_, I, a, lda, w_.wih_t, 0.f, gx_.get(), G_, w_.bias_x.data(), pool);
    next_row_ = 0;
  }
  float* r = gx_.get() + next_row_ * G_;
  next_row_ += o_.active[st];
  return r;
}

void lstm_fused_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const int64_t H = w.cfg.H, G = 4 * H, B = s.B, T = s.T;
  const CacheParts k = cell_cache_parts(w.cfg, T, B, io.cache);
  const CacheParts* train = io.cache ? &k : nullptr;
  const float *x = io.x, *h0 = io.h0, *c0 = io.c0;
  float *y = io.y, *hN = io.hN, *cN = io.cN;
  const int64_t ldx = io.ldx, ldy = io.ldy;
  const int nr = w.nr, vw = w.vw, mr = kt.gemm.mr;
  const SeqOrder o = seq_order(s);

  GxChunks gxc(w, s, o, x, ldx);
  // State rows in `order`: h double-buffered (every panel reads all of h_{t-1}); c in place.
  AlignedFloats hbuf = aligned_floats(2 * B * H), c = aligned_floats(B * H);
  float* hprev = hbuf.get();       // [B, H]
  float* hnext = hbuf.get() + B * H;  // [B, H]
  for (int64_t i = 0; i < B; ++i) {
    const int64_t b = o.order[i];
    if (h0) std::memcpy(hprev + i * H, h0 + b * H, H * sizeof(float));
    if (c0) std::memcpy(c.get() + i * H, c0 + b * H, H * sizeof(float));
  }
  if (train) std::memcpy(train->c0, c0 ? c0 : c.get(), B * H * sizeof(float));  // c.get() is zeros here
  std::vector<LstmFwdRow> rows(B);

  const int nthreads = pool ? pool->size() : 1;
  const int64_t ntasks = std::min<int64_t>(nthreads, w.n_panels);
  for (int64_t st = 0; st < T; ++st) {
    const int64_t m = o.active[st];
    float* gx = gxc.step(st, pool);  // this step's Gx rows, state-row order
    if (st > 0 && m < o.active[st - 1]) {
      // Entries that ended after step st-1: their final state is in hprev / c now.
      for (int64_t i = m; i < o.active[st - 1]; ++i) {
        const int64_t b = o.order[i];
        std::memcpy(hN + b * H, hprev + i * H, H * sizeof(float));
        std::memcpy(cN + b * H, c.get() + i * H, H * sizeof(float));
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      const int64_t b = o.order[i];
      const int64_t r = step_row(s, st, b);
      rows[i].gx = gx + i * G;
      rows[i].y = y + r * ldy;
      rows[i].gates = train ? train->gates + r * G : nullptr;
      rows[i].c_t = train ? train->c + r * H : nullptr;
      rows[i].hprev = train ? train->hprev + r * H : nullptr;
    }
    auto task = [&](int64_t t, int) {
      const int64_t p0 = w.n_panels * t / ntasks, p1 = w.n_panels * (t + 1) / ntasks;
      alignas(64) float acc[8 * 64];  // one tile, mr x nr (mr <= 8, nr <= 64)
      // Panels outer, row tiles inner: one panel (H x nr floats) stays in cache while every
      // running row uses it, so W_hh streams from memory once per step, not once per row tile.
      for (int64_t p = p0; p < p1; ++p) {
        for (int64_t i0 = 0; i0 < m; i0 += mr) {
          const int64_t mi = std::min<int64_t>(mr, m - i0);
          if (mi == mr) kt.gemm.tile(H, hprev + i0 * H, H, w.panel(p), acc, nr, false, nullptr);
          else kt.gemm.tile_edge(mi, nr, H, hprev + i0 * H, H, w.panel(p), acc, nr, false, nullptr);
          const int64_t u0 = p * vw;
          kt.lstm.fwd_tile(mi, u0, std::min<int64_t>(vw, H - u0), H, acc, nr, hprev + i0 * H,
                           c.get() + i0 * H, hnext + i0 * H, rows.data() + i0);
        }
      }
    };
    if (ntasks > 1 && m * H * G >= kMinParallelStepWork) pool->parallel_for(ntasks, [tp = &task](int64_t t, int th) { (*tp)(t, th); });  // one pointer: std::function stores it inline, no allocation per step
    else for (int64_t t = 0; t < ntasks; ++t) task(t, 0);
    std::swap(hprev, hnext);
  }
  // Entries that ran to the last step.
  for (int64_t i = 0; i < o.active[T - 1]; ++i) {
    const int64_t b = o.order[i];
    std::memcpy(hN + b * H, hprev + i * H, H * sizeof(float));
    std::memcpy(cN + b * H, c.get() + i * H, H * sizeof(float));
  }
  zero_padded_rows(s, y, ldy, H);
}

void zero_padded_rows(const SeqDesc& s, float* y, int64_t ldy, int64_t width) {
  if (!s.lengths) return;
  for (int64_t b = 0; b < s.B; ++b) {
    for (int64_t t = s.lengths[b]; t < s.T; ++t) {
      std::memset(y + (t * s.rowT + b * s.rowB) * ldy, 0, width * sizeof(float));
    }
  }
}

}  // namespace cellstate
