// cell.cc - the entry points that hand a call to its cell kind (cell_kind.h: packing, cache
// layout, forward, backward), the packing every kind shares (pack_common), scratch buffers and
// bias-gradient sums. No ISA flags.
#include "cell.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "cell_kind.h"
#include "../gemm/qgemm.h"

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

int cell_act_slots(CellKind kind) {
  switch (kind) {
    case CellKind::lstm: case CellKind::lnlstm: return 3;
    case CellKind::gru: return 2;
    default: return 1;
  }
}

ActSpec cell_default_act(CellKind kind, int slot) {
  if (kind == CellKind::rnn_relu) return {Act::relu, 0.f, 0.f};
  if (kind == CellKind::rnn_tanh) return {Act::tanh, 0.f, 0.f};
  return {slot == 0 ? Act::sigmoid : Act::tanh, 0.f, 0.f};
}

const char* cell_set_acts(CellConfig& c, const double* codes, const double* alphas, const double* betas) {
  static const char* const kBadCode[] = {"act0: expected an activation code", "act1: expected an activation code", "act2: expected an activation code"};
  static const char* const kAlpha[] = {"alpha0: expected a finite number (float32 range)", "alpha1: expected a finite number (float32 range)", "alpha2: expected a finite number (float32 range)"};
  static const char* const kBeta[] = {"beta0: expected a finite number (float32 range)", "beta1: expected a finite number (float32 range)", "beta2: expected a finite number (float32 range)"};
  const auto finite = [](double v) { return std::isfinite(v) && std::fabs(v) <= std::numeric_limits<float>::max(); };
  static const char* const kNegAlpha[] = {"alpha0: expected >= 0 for leakyRelu and elu", "alpha1: expected >= 0 for leakyRelu and elu", "alpha2: expected >= 0 for leakyRelu and elu"};
  const int slots = cell_act_slots(c.kind);
  c.custom_acts = false;
  for (int s = 0; s < 3; ++s) {
    const ActSpec d = cell_default_act(c.kind, s);
    if (s >= slots) { c.act[s] = d; continue; }
    const double code = codes[s], al = alphas[s], be = betas[s];
    if (!(code >= 0 && code < kActs && code == static_cast<double>(static_cast<int>(code)))) return kBadCode[s];
    if (!finite(al)) return kAlpha[s];
    if (!finite(be)) return kBeta[s];
    ActSpec a{static_cast<Act>(static_cast<int>(code)), static_cast<float>(al), static_cast<float>(be)};
    switch (a.code) {  // the parameters a function does not read are 0, so equal specs compare equal
      case Act::sigmoid: case Act::tanh: case Act::relu: case Act::softsign: case Act::softplus: a.alpha = a.beta = 0.f; break;
      case Act::leakyRelu: case Act::elu: if (a.alpha < 0.f) return kNegAlpha[s]; a.beta = 0.f; break;
      case Act::thresholdedRelu: a.beta = 0.f; break;
      default: break;
    }
    const bool dflt = a.code == d.code && a.alpha == d.alpha && a.beta == d.beta;
    if (!dflt && c.kind == CellKind::lnlstm) return "act: the layer-normalised LSTM takes its default activations only (sigmoid, tanh, tanh)";
    if (!dflt && c.kind == CellKind::rnn_relu) return "act0: the rnn_relu kind is relu (another activation crosses as rnn_tanh with act0)";
    c.act[s] = a;
    c.custom_acts = c.custom_acts || !dflt;
  }
  return nullptr;
}

PackedQ pack_q(const CellConfig& c, int64_t k, int64_t n, const QWeight& w, int64_t row0, const int32_t* perm) {
  if (c.precision == Precision::bf16) return pack_q_bf16(k, n, static_cast<const uint16_t*>(w.data) + row0 * k, k, perm);
  return pack_q_i8(k, n, static_cast<const int8_t*>(w.data) + row0 * k, k, w.scale + row0, perm);
}

int64_t packed_bytes(const PackedB& b) { return b.data ? 4 * b.num_panels() * b.k * b.nr : 0; }
int64_t packed_bytes(const PackedQ& q) {
  return q.data ? 4 * q.num_panels() * q.nr * (q.kg + (q.fmt == QFormat::int8 ? 2 : 0)) : 0;
}

void cell_product(const CellConfig& c, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& b,
                  const PackedQ& q, float* C, int64_t ldc, const float* bias, ThreadPool* pool) {
  if (!c.quantized()) return sgemm_packed(M, N, K, A, lda, b, 0.f, C, ldc, bias, pool);
  if (!qgemm_packed(M, K, A, lda, q, 0.f, C, ldc, bias, pool)) throw std::bad_alloc();
}

void pack_common(CellPacked& w, const CellWeights& in, int64_t Gh, int64_t hh_cols, bool transposed) {
  const CellConfig& c = w.cfg;
  const int64_t I = c.I, P = c.P, G = c.G;
  w.bias_x.assign(G, 0.f);
  for (int64_t j = 0; j < G; ++j) w.bias_x[j] = (in.b_ih ? in.b_ih[j] : 0.f) + (in.b_hh && j < hh_cols ? in.b_hh[j] : 0.f);
  if (c.quantized()) {  // inference only: the forward products, quantized, and nothing in fp32
    if (transposed) {
      w.qih_t = pack_q(c, I, G, in.q_ih);   // B(i, j) = W_ih[j, i]
      w.qhh_t = pack_q(c, P, Gh, in.q_hh);  // B(k, j) = W_hh[j, k], j < Gh
    }
    return;
  }
  if (transposed) w.wih_t = pack_b(true, I, G, in.w_ih, I);  // B(i, j) = W_ih[j, i]
  w.wih_n = pack_b(false, G, I, in.w_ih, I);                  // B = W_ih
  if (transposed) w.whh_t = pack_b(true, P, Gh, in.w_hh, P);  // B(k, j) = W_hh[j, k], j < Gh
  w.whh_n = pack_b(false, Gh, P, in.w_hh, P);                 // B = W_hh[:Gh]
}

std::unique_ptr<CellPacked> cell_prepare(const CellConfig& cfg, const CellWeights& in) {
  auto w = std::make_unique<CellPacked>();
  w->cfg = cfg;
  cell_kind_ops(cfg.kind).pack(*w, in);
  packed_or_throw({&w->wih_t, &w->wih_n, &w->whh_t, &w->whh_n});
  packed_or_throw({&w->qih_t, &w->qhh_t});
  w->packed_bytes += packed_bytes(w->wih_t) + packed_bytes(w->wih_n) + packed_bytes(w->whh_t) + packed_bytes(w->whh_n) +
                     packed_bytes(w->qih_t) + packed_bytes(w->qhh_t);
  return w;
}

// Its size in the one formula T*B*per_row + B*per_batch, read off the kind's own layout walk
// (cache_layout): the parts one entry takes once (T = 0), and what one more row adds.
CacheShape cell_cache_shape(const CellConfig& c) {
  const auto floats = [&c](int64_t T) {
    CacheCursor at(nullptr);
    cell_kind_ops(c.kind).cache_layout(c, T, 1, at);
    return at.floats;
  };
  const int64_t per_batch = floats(0);
  return {floats(1) - per_batch, per_batch};
}

int64_t cell_cache_floats(const CellConfig& c, int64_t T, int64_t B) {
  const CacheShape k = cell_cache_shape(c);
  return T * B * k.per_row + B * k.per_batch;
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
