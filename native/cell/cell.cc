// cell.cc - packing the weights of any cell, and the entry points that hand a call to its cell
// kind (cell_kind.h: the cache layout, forward, backward). No ISA flags.
#include "cell.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "../cpu/dispatch.h"
#include "cell_kind.h"

namespace cellstate {

AlignedFloats aligned_floats(int64_t n) {
  const int64_t m = n > 0 ? n : 1;
  float* p = scratch_alloc(m);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, static_cast<size_t>(m) * sizeof(float));
  return AlignedFloats(p);
}

AlignedFloats aligned_floats_uninit(int64_t n) {
  const int64_t m = n > 0 ? n : 1;
  float* p = scratch_alloc(m);
  if (!p) throw std::bad_alloc();
  // CELLSTATE_POISON_UNINIT=1 (as for the JS buffers, lib/tensor.ts): fill with NaN, so a
  // caller that reads an element it did not write shows up as NaN in the test suite.
  static const bool poison = [] {
    const char* e = std::getenv("CELLSTATE_POISON_UNINIT");
    return e != nullptr && std::strcmp(e, "1") == 0;
  }();
  if (poison) std::fill(p, p + m, std::numeric_limits<float>::quiet_NaN());
  return AlignedFloats(p);
}

void add_column_sums(float* out, const float* m, int64_t rows, int64_t ld, int64_t width) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < width; ++j) out[j] += m[r * ld + j];
  }
}

void add_bias_pair(float* db_ih, float* db_hh, const float* db, int64_t width) {
  for (int64_t j = 0; j < width; ++j) {
    if (db_ih) db_ih[j] += db[j];
    if (db_hh) db_hh[j] += db[j];
  }
}

void add_bias_grads(float* db_ih, float* db_hh, const float* dA, int64_t rows, int64_t ld, int64_t width) {
  if (!db_ih && !db_hh) return;
  std::vector<float> db(static_cast<size_t>(width), 0.f);
  add_column_sums(db.data(), dA, rows, ld, width);
  add_bias_pair(db_ih, db_hh, db.data(), width);
}

std::unique_ptr<CellPacked> cell_prepare(const CellConfig& cfg, const float* w_ih, const float* w_hh,
                                         const float* b_ih, const float* b_hh, const float* w_hr,
                                         const float* peep_i, const float* peep_f, const float* peep_o) {
  auto w = std::make_unique<CellPacked>();
  w->cfg = cfg;
  const int64_t I = cfg.I, H = cfg.H, P = cfg.P, G = cfg.G;
  const bool gru_onnx = cfg.kind == CellKind::gru && !cfg.linear_before_reset;
  const int64_t Gh = gru_onnx ? 2 * H : G;  // rows of W_hh multiplied by h itself
  if (!cfg.fused()) w->wih_t = pack_b(true, I, G, w_ih, I);    // B(i, j) = W_ih[j, i]
  w->wih_n = pack_b(false, G, I, w_ih, I);   // B = W_ih
  if (!cfg.fused()) w->whh_t = pack_b(true, P, Gh, w_hh, P);   // B(k, j) = W_hh[j, k], j < Gh
  w->whh_n = pack_b(false, Gh, P, w_hh, P);  // B = W_hh[:Gh]
  if (gru_onnx) {
    w->whn_t = pack_b(true, H, H, w_hh + 2 * H * H, H);
    w->whn_n = pack_b(false, H, H, w_hh + 2 * H * H, H);
  }
  if (cfg.kind == CellKind::lstm && P != H) {
    w->whr_t = pack_b(true, H, P, w_hr, H);   // B(k, j) = W_hr[j, k]
    w->whr_n = pack_b(false, P, H, w_hr, H);  // B = W_hr
  }
  w->bias_x.assign(G, 0.f);
  const int64_t n_start = cfg.kind == CellKind::gru ? 2 * H : G;  // GRU: b_hn stays with h·W_hnᵀ
  for (int64_t j = 0; j < G; ++j) w->bias_x[j] = (b_ih ? b_ih[j] : 0.f) + (b_hh && j < n_start ? b_hh[j] : 0.f);
  if (cfg.fused()) {
    const KernelTable& kt = kernels();
    w->nr = kt.gemm.nr;
    w->vw = kt.gemm.vw;
    w->n_panels = (H + w->vw - 1) / w->vw;
    std::vector<int32_t> perm(static_cast<size_t>(w->n_panels * w->nr));  // fused column -> W row
    for (int64_t p = 0; p < w->n_panels; ++p) {
      for (int64_t q = 0; q < 4; ++q) {
        for (int64_t e = 0; e < w->vw; ++e) {
          const int64_t u = std::min<int64_t>(p * w->vw + e, H - 1);
          perm[static_cast<size_t>(p * w->nr + q * w->vw + e)] = static_cast<int32_t>(q * H + u);
        }
      }
    }
    const int64_t n = w->n_panels * w->nr;
    w->wih_fused = pack_b(true, I, n, w_ih, I, perm.data());  // B(i, j) = W_ih[perm[j], i]
    w->whh_fused = pack_b(true, H, n, w_hh, H, perm.data());  // B(k, j) = W_hh[perm[j], k]
    w->bias_fused.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) w->bias_fused[static_cast<size_t>(j)] = w->bias_x[static_cast<size_t>(perm[static_cast<size_t>(j)])];
  }
  // pack_b reports a failed allocation through ok() (it never throws), and sgemm_packed leaves C
  // untouched for a bad PackedB: a silently unpacked weight would give garbage on every call.
  for (const PackedB* pb : {&w->wih_t, &w->wih_n, &w->whh_t, &w->whh_n, &w->whn_t, &w->whn_n, &w->whr_t,
                            &w->whr_n, &w->wih_fused, &w->whh_fused}) {
    if (!pb->ok()) throw std::bad_alloc();
  }
  if (cfg.kind == CellKind::gru) {
    w->b_hn.assign(H, 0.f);
    if (b_hh) std::memcpy(w->b_hn.data(), b_hh + 2 * H, H * sizeof(float));
  }
  if (cfg.peephole) {
    w->peep_i.assign(peep_i, peep_i + H);
    w->peep_f.assign(peep_f, peep_f + H);
    w->peep_o.assign(peep_o, peep_o + H);
  }
  return w;
}

int64_t cell_cache_floats(const CellConfig& c, int64_t T, int64_t B) {
  CacheCursor at(nullptr);
  cell_kind_ops(c.kind).cache_layout(c, T, B, at);
  return at.floats;
}

CacheParts cell_cache_parts(const CellConfig& c, int64_t T, int64_t B, float* p) {
  CacheCursor at(p);
  return cell_kind_ops(c.kind).cache_layout(c, T, B, at);
}

void cell_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool) {
  // With variable lengths the kernels never write the cache rows of padded steps, yet backward's
  // weight-gradient GEMMs run over all N rows (their ∂ rows are 0, and 0 * NaN = NaN): zero the
  // cache first, so the result does not depend on what the caller's buffer held (found by
  // native/tests/fuzz_cell.cc, whose buffers start as NaN; lib/ hands over unzeroed buffers).
  if (io.cache && s.lengths) std::memset(io.cache, 0, static_cast<size_t>(cell_cache_floats(w.cfg, s.T, s.B)) * sizeof(float));
  cell_kind_ops(w.cfg.kind).forward(w, s, io, pool);
}

void cell_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& io, ThreadPool* pool) {
  cell_kind_ops(w.cfg.kind).backward(w, s, io, pool);
}

}  // namespace cellstate
