// lstm_forward.cc - the fused plain-LSTM forward over T steps (no ISA flags: the ISA-specific
// pieces, the GEMM micro-kernel and the fused epilogue, come from kernels()). Weights are packed
// by the LSTM kind (cell/lstm_cell.cc) with W_ih's and W_hh's columns gate-interleaved in panels
// of 4 gates x vw hidden units (LstmFusedPanels, lstm_fused.h). Also home of the sequence helpers declared in cell/seq.h.
//
// The threads form a team for the whole sequence (ThreadPool::run_team): member t owns a fixed
// range of panels, i.e. of hidden units. Per chunk of steps it computes Gx = X · W_ihᵀ + bias
// for its own columns of the chunk's running rows; then per step, for each of its panels and
// each tile of state rows, the micro-kernel adds h_{t-1}·W_hhᵀ onto the tile's Gx in place and
// the epilogue applies the update while the tile is in L1. Members meet once per step (h_t is
// complete), at a barrier that costs one cache-line transfer: no job is published per step, and
// each member's share of W_ih and W_hh stays in its own core's L2 across steps and calls.
//
// Variable lengths without re-sorting the batch: the state rows are kept in `order` (entries by
// decreasing length), so the entries still running at step s are always the first m_s state
// rows and a step computes those rows only. Only the [B, H] state is permuted; sequence buffers
// are addressed through per-row pointers.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>

#include "../cpu/dispatch.h"
#include "../threadpool.h"
#include "../cell/cell.h"
#include "../cell/seq.h"
#include "lstm_fused.h"

namespace cellstate {
namespace {

// A finished tile of pre-activations whose elementwise step is still to run (the x-step path's
// pipeline): TileSideWork's pieces are its rows.
struct XstepTile {
  const KernelTable* kt;
  int64_t H;
  const float* hprev;
  float* c;
  float* hnext;
  const LstmFwdRow* rows;
  const float* tile = nullptr;  // [m, ld]
  int64_t i0 = 0, m = 0, u0 = 0, nu = 0, ld = 0;

  void set(const float* t, int64_t i0_, int64_t m_, int64_t u0_, int64_t nu_, int64_t ld_) {
    tile = t, i0 = i0_, m = m_, u0 = u0_, nu = nu_, ld = ld_;
  }
  static void row(void* ctx, int64_t r) {
    const XstepTile& x = *static_cast<const XstepTile*>(ctx);
    const int64_t i = x.i0 + r;
    x.kt->lstm.fwd_tile(1, x.u0, x.nu, x.H, x.tile + r * x.ld, x.ld, x.hprev + i * x.H, x.c + i * x.H,
                        x.hnext + i * x.H, x.rows + i);
  }
};

}  // namespace



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

int64_t GxChunks::chunk_rows(const SeqDesc& s, int64_t I, int64_t ldg) {
  // Chunks of steps whose running rows fill about kGxChunkBytes of Gx (at least one step each).
  // Each chunk's GEMM streams all of W_ih again; when W_ih is too big to come from cache, a
  // chunk holds at least I rows so that traffic stays below the Gx traffic chunking saves.
  int64_t rows = std::max<int64_t>(s.B, kGxChunkBytes / static_cast<int64_t>(ldg * sizeof(float)));
  if (I * ldg * static_cast<int64_t>(sizeof(float)) > kWihCachedBytes) rows = std::max(rows, I);
  return std::min(rows, s.T * s.B);
}

bool GxChunks::dense(const SeqDesc& s) {
  return !s.lengths && !s.reverse && (s.B == 1 || (s.rowB == 1 && s.rowT == s.B));
}

GxChunks::GxChunks(const CellPacked& w, const SeqDesc& s, const SeqOrder& o, const float* x, int64_t ldx)
    : b_(&w.wih_t), qb_(w.cfg.quantized() ? &w.qih_t : nullptr), qx_(nullptr), k_(w.cfg.I), bias_(w.bias_x.data()), q0_(0),
      q1_(qb_ ? qb_->num_panels() : w.wih_t.num_panels()), s_(s), o_(o), x_(x), ldx_(ldx),
      ldg_(w.cfg.G), chunk_rows_(chunk_rows(s, w.cfg.I, w.cfg.G)), dense_(dense(s)) {
  own_gx_ = aligned_floats_uninit(chunk_rows_ * ldg_);
  if (!dense_) own_xg_ = aligned_floats_uninit(chunk_rows_ * w.cfg.I);
  if (qb_) {
    if (!quant_rows_reserve(own_qx_, qb_->fmt, chunk_rows_, k_)) throw std::bad_alloc();
    qx_ = &own_qx_;
  }
  gx_ = own_gx_.get();
  xg_ = own_xg_.get();
}

GxChunks::GxChunks(const PackedB& b, const float* bias, int64_t q0, int64_t q1, const SeqDesc& s,
                   const SeqOrder& o, const float* x, int64_t ldx, float* gx, int64_t ldg, float* xg)
    : b_(&b), qb_(nullptr), qx_(nullptr), k_(b.k), bias_(bias), q0_(q0), q1_(q1), s_(s), o_(o), x_(x), ldx_(ldx), ldg_(ldg),
      chunk_rows_(chunk_rows(s, b.k, ldg)), dense_(dense(s)), gx_(gx), xg_(xg) {}

GxChunks::GxChunks(const PackedQ& b, const float* bias, int64_t q0, int64_t q1, const SeqDesc& s,
                   const SeqOrder& o, const float* x, int64_t ldx, float* gx, int64_t ldg, float* xg, QuantRows* qx)
    : b_(nullptr), qb_(&b), qx_(qx), k_(b.k), bias_(bias), q0_(q0), q1_(q1), s_(s), o_(o), x_(x), ldx_(ldx), ldg_(ldg),
      chunk_rows_(chunk_rows(s, b.k, ldg)), dense_(dense(s)), gx_(gx), xg_(xg) {}

float* GxChunks::step(int64_t st, ThreadPool* pool) {
  if (st == chunk_end_) {
    const int64_t I = k_;
    int64_t rows = 0;
    while (chunk_end_ < s_.T && (chunk_end_ == st || rows + o_.active[chunk_end_] <= chunk_rows_)) rows += o_.active[chunk_end_++];
    const float* a = x_ + step_row(s_, st, o_.order[0]) * ldx_;
    int64_t lda = s_.B == 1 ? s_.rowT * ldx_ : ldx_;
    if (!dense_) {  // gather the chunk's X rows in (step, state row) order
      for (int64_t u = st, q = 0; u < chunk_end_; ++u) {
        for (int64_t i = 0; i < o_.active[u]; ++i, ++q) {
          std::memcpy(xg_ + q * I, x_ + step_row(s_, u, o_.order[i]) * ldx_, I * sizeof(float));
        }
      }
      a = xg_;
      lda = I;
    }
    if (qb_) {  // x rows quantized once (the contract), then the chunk's product and bias
      quant_rows_fill(*qx_, rows, a, lda, pool);
      qgemm_rows(*qx_, rows, *qb_, q0_, q1_, 0.f, gx_, ldg_, bias_, pool);
    } else {
      sgemm_packed_panels(rows, I, a, lda, *b_, q0_, q1_, 0.f, gx_, ldg_, bias_, pool);
    }
    next_row_ = 0;
  }
  float* r = gx_ + next_row_ * ldg_;
  next_row_ += o_.active[st];
  return r;
}

void lstm_fused_forward(const CellPacked& w, const LstmFusedPanels& f, const LstmCache* train, const SeqDesc& s,
                        const FwdIO& io, ThreadPool* pool) {
  const KernelTable& kt = kernels();
  const int64_t H = w.cfg.H, G = 4 * H, B = s.B, T = s.T, I = w.cfg.I;
  const int64_t ldg = f.n_panels * f.nr;  // a Gx / pre-activation row: n_panels x (4 gates x vw units)
  const float *x = io.x, *h0 = io.h0, *c0 = io.c0;
  float *y = io.y, *hN = io.hN, *cN = io.cN;
  const int64_t ldx = io.ldx, ldy = io.ldy;
  const bool quant = w.cfg.quantized();  // bf16 / int8 products (docs/equations.md, "Low precision")
  const int nr = f.nr, vw = f.vw, mr = quant ? qgemm_mr(f.qwhh.fmt) : kt.gemm.mr;
  const SeqOrder o = seq_order(s);

  // The team: member t owns panels [n_panels*t/n, n_panels*(t+1)/n) for the whole sequence.
  const bool split = pool && B * H * G >= kMinParallelStepWork;
  const int team = split ? pool->team_size(static_cast<int>(std::min<int64_t>(pool->size(), f.n_panels))) : 1;
  ThreadPool* gemm_pool = team > 1 ? nullptr : pool;  // a team member projects its own columns alone

  // Where the tier says so (QGemmKernel::step_x_rows: AMX at 32 rows and more), a quantized step
  // multiplies its own x rows per panel in the tile call that adds h_{t-1}'s product (qgemm_tile2,
  // bit for bit the chunked path's Gx + h·W_hhᵀ, so a row's result does not depend on B) instead
  // of reading them back from the chunked Gx: no Gx round trip through memory. (Measured on AMX:
  // L bf16 2T 11.8 -> 11.1 ms, M 1.95 -> 1.82; at B = 1 and 16 the chunked Gx, which reads W_ih
  // once per chunk, stays faster.)
  // Each tile's elementwise step then runs inside the next tile's products (TileSideWork): L bf16
  // 2T 10.9 -> 8.9 ms, M 1.98 -> 1.52 (the tile unit and the vector units busy at once).
  const int64_t step_x_rows = quant ? kt.qgemm.step_x_rows : 0;
  const bool xstep = step_x_rows > 0 && B >= step_x_rows;
  const int64_t crows = xstep ? 0 : GxChunks::chunk_rows(s, I, ldg);
  AlignedFloats gx = aligned_floats_uninit(crows * ldg);  // [crows, ldg] shared, columns owned
  AlignedFloats xg = GxChunks::dense(s) ? AlignedFloats() : aligned_floats_uninit(team * crows * I);  // per member
  AlignedFloats xtile = aligned_floats_uninit(xstep ? team * 2 * mr * nr : 0);  // xstep: per member two [mr, nr] tiles
  // State rows in `order`: h double-buffered (every panel reads all of h_{t-1}); c in place.
  AlignedFloats hbuf = aligned_floats(2 * B * H), c = aligned_floats(B * H);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t b = o.order[i];
    if (h0) std::memcpy(hbuf.get() + i * H, h0 + b * H, H * sizeof(float));
    if (c0) std::memcpy(c.get() + i * H, c0 + b * H, H * sizeof(float));
  }
  if (train) std::memcpy(train->c0, c0 ? c0 : c.get(), B * H * sizeof(float));  // c.get() is zeros here
  std::vector<LstmFwdRow> rows_all(static_cast<size_t>(team * B));  // [team][B] per member
  // Quantized: per member its quantized h_{t-1} rows (each member quantizes all m rows itself,
  // m*H values against its m*H*ldg/team multiply-adds, rather than meeting once more per step)
  // and its chunk's (xstep: its step's) quantized x rows; reserved here, so nothing is allocated
  // on a team thread.
  std::vector<QuantRows> qh(quant ? team : 0), qx(quant ? team : 0);
  for (int t = 0; t < (quant ? team : 0); ++t) {
    if (!quant_rows_reserve(qh[t], f.qwhh.fmt, B, H) || !quant_rows_reserve(qx[t], f.qwih.fmt, xstep ? B : crows, I)) {
      throw std::bad_alloc();
    }
  }
  TeamBarrier barrier(team);

  auto member = [&](int64_t th, int n) {
    const int64_t p0 = f.n_panels * th / n, p1 = f.n_panels * (th + 1) / n;
    const int64_t ua = std::min<int64_t>(p0 * vw, H), ub = std::min<int64_t>(p1 * vw, H);  // own units
    const size_t own = static_cast<size_t>(ub - ua) * sizeof(float);
    float* xg_own = xg ? xg.get() + th * crows * I : nullptr;
    GxChunks gxc = quant ? GxChunks(f.qwih, f.bias.data(), p0, p1, s, o, x, ldx, gx.get(), ldg, xg_own, &qx[th])
                         : GxChunks(f.wih, f.bias.data(), p0, p1, s, o, x, ldx, gx.get(), ldg, xg_own);
    LstmFwdRow* rows = rows_all.data() + th * B;
    const QTileScope tiles;         // quantized: the tier's tile state lives for the member's whole run
    float* hprev = hbuf.get();      // [B, H]
    float* hnext = hbuf.get() + B * H;  // [B, H]
    // A member reads h_{t-1} of every unit but writes (and copies out) only its own units of h,
    // c, y and the cache, so one barrier per step - after h_t is written - is all it needs.
    for (int64_t st = 0; st < T; ++st) {
      const int64_t m = o.active[st];
      float* pre = xstep ? nullptr : gxc.step(st, gemm_pool);  // [m, ldg] this step's Gx rows, state-row order
      if (xstep) {
        for (int64_t i = 0; i < m; ++i) quant_row(qx[th], i, x + step_row(s, st, o.order[i]) * ldx);
      }
      if (st > 0 && m < o.active[st - 1]) {
        // Entries that ended after step st-1: their final state is in hprev / c now.
        for (int64_t i = m; i < o.active[st - 1]; ++i) {
          const int64_t b = o.order[i];
          std::memcpy(hN + b * H + ua, hprev + i * H + ua, own);
          std::memcpy(cN + b * H + ua, c.get() + i * H + ua, own);
        }
      }
      for (int64_t i = 0; i < m; ++i) {
        const int64_t r = step_row(s, st, o.order[i]);
        rows[i].y = y + r * ldy;
        rows[i].gates = train ? train->gates + r * G : nullptr;
        rows[i].c_t = train ? train->c + r * H : nullptr;
        rows[i].hprev = train ? train->hprev + r * H : nullptr;
      }
      // Panels outer, row tiles inner: one panel (H x nr floats) stays in cache while every
      // running row uses it, so W_hh streams from memory once per step, not once per row tile.
      // The micro-kernel adds h_{t-1}·W_hhᵀ onto the tile's Gx in place; the epilogue reads the
      // finished pre-activations straight back from L1. (Splitting k so that a member first
      // multiplies its own units of h_{t-1} and only then waits for the others was measured
      // 1.3x slower at B = 1: the jumps between panel slices defeat the hardware prefetcher.)
      if (quant) quant_rows_fill(qh[th], m, hprev, H, nullptr);  // h_{t-1} rows, once per step
      if (xstep) {
        // Pipelined: the elementwise step of each tile runs, a row at a time, inside the next
        // tile's products (TileSideWork: on AMX the tile unit multiplies meanwhile), from the
        // other of the member's two tile buffers; the last tile's runs after the loop.
        XstepTile prev{&kt, H, hprev, c.get(), hnext, rows};  // m = 0 before the first tile
        TileSideWork side{&XstepTile::row, &prev, 0};
        float* buf = xtile.get() + th * 2 * mr * nr;
        int parity = 0;
        for (int64_t p = p0; p < p1; ++p) {
          for (int64_t i0 = 0; i0 < m; i0 += mr, parity ^= 1) {
            const int64_t mi = std::min<int64_t>(mr, m - i0);
            float* tile = buf + parity * mr * nr;
            side.pieces = prev.m;
            qgemm_tile2(qx[th], f.qwih, qh[th], f.qwhh, i0, mi, p, nr, tile, nr, f.bias.data() + p * nr, &side);
            prev.set(tile, i0, mi, p * vw, std::min<int64_t>(vw, H - p * vw), nr);
          }
        }
        if (prev.tile) kt.lstm.fwd_tile(prev.m, prev.u0, prev.nu, H, prev.tile, nr, hprev + prev.i0 * H,
                                        c.get() + prev.i0 * H, hnext + prev.i0 * H, rows + prev.i0);
      }
      for (int64_t p = p0; p < (xstep ? p0 : p1); ++p) {
        const int64_t u0 = p * vw, nu = std::min<int64_t>(vw, H - u0);
        for (int64_t i0 = 0; i0 < m; i0 += mr) {
          const int64_t mi = std::min<int64_t>(mr, m - i0);
          float* tile = pre + i0 * ldg + p * nr;
          const int64_t ldt = ldg;
          if (quant) qgemm_tile(qh[th], i0, mi, f.qwhh, p, nr, tile, ldt, true, nullptr);
          else if (mi == mr) kt.gemm.tile(H, hprev + i0 * H, H, f.panel(p), tile, ldg, true, nullptr);
          else kt.gemm.tile_edge(mi, nr, H, hprev + i0 * H, H, f.panel(p), tile, ldg, true, nullptr);
          kt.lstm.fwd_tile(mi, u0, nu, H, tile, ldt, hprev + i0 * H, c.get() + i0 * H, hnext + i0 * H, rows + i0);
        }
      }
      // h_t complete: the next step reads every unit of it, and writes hprev's buffer.
      if (n > 1) barrier.arrive_and_wait(static_cast<int>(th));
      std::swap(hprev, hnext);
    }
    // Entries that ran to the last step.
    for (int64_t i = 0; i < o.active[T - 1]; ++i) {
      const int64_t b = o.order[i];
      std::memcpy(hN + b * H + ua, hprev + i * H + ua, own);
      std::memcpy(cN + b * H + ua, c.get() + i * H + ua, own);
    }
  };
  if (team > 1) pool->run_team(team, member);
  else member(0, 1);
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
