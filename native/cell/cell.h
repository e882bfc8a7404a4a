// cell.h - native recurrent layer-directions of every kind: packed weights, the training-cache
// layout, forward over T steps and BPTT.
//
// Plain C++ (no N-API): native/napi/cell_calls.cc marshals JS buffers into these calls after checking every
// length. Equations: docs/equations.md. Row addressing r(t, b) = t*rowT + b*rowB and the
// variable-length rules are those of lib/backend/types.ts.
//
// Sizes: T steps, B batch, I inputs, H hidden units, P = Hout (projSize or H), N = T*B rows,
// G = gates*H (LSTM 4: i, f, g, o; GRU 3: r, z, n; RNN 1).
//
// One entry point, one file per cell kind behind it (cell_kind.h: lstm_cell.cc, gru_cell.cc,
// rnn_cell.cc): the same products through the packed GEMM, then an elementwise stage, mirroring
// lib/backend/ts/. This header knows what every kind shares (the sizes, the flag bits, the clip,
// W_ih and W_hh packed, the bias sum); what a kind adds - its options, its extra parameters, its
// packed state, its cache parts - is its own (cell_codes.gen.h declares the options and
// parameters, the kind's file everything else; the plain LSTM's fused path is lstm/lstm_fused.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../gemm/gemm.h"
#include "../gemm/pack.h"
#include "../gemm/qpack.h"
#include "../util/scratch.h"
#include "cell_codes.gen.h"
#include "../lstm/lstm_kernels.h"

namespace cellstate {

class ThreadPool;

// Per-call temporaries come from the scratch recycler (util/scratch.h), so a call does not page
// in fresh memory for what the previous call just freed.
using AlignedFloats = ScratchFloats;
AlignedFloats aligned_floats(int64_t n);  // zero-filled, 64-byte aligned; throws std::bad_alloc
// The same without zero-filling: only for buffers whose every element read was written first
// (CELLSTATE_POISON_UNINIT=1 fills them with NaN to prove it in the test suite).
AlignedFloats aligned_floats_uninit(int64_t n);

// out[j] += sum over r < rows of m[r*ld + j], for j < width.
void add_column_sums(float* out, const float* m, int64_t rows, int64_t ld, int64_t width);
// The bias gradients when both biases feed the same pre-activation (LSTM, RNN): ∂b_ih = ∂b_hh =
// the column sums of ∂A [rows, width] (row stride ld), summed once and added to each non-null one.
void add_bias_grads(float* db_ih, float* db_hh, const float* dA, int64_t rows, int64_t ld, int64_t width);
// db_ih[j] += db[j] and db_hh[j] += db[j] for j < width, each only if non-null.
void add_bias_pair(float* db_ih, float* db_hh, const float* db, int64_t width);

// CellKind, cell_kind_spec() (gates, flags, extra parameters of each kind): cell_codes.gen.h
// (scripts/addon-schema.js).

// Gate activation slots a kind uses (LSTM, LN-LSTM 3, GRU 2, RNN 1) and its default in each.
int cell_act_slots(CellKind kind);
ActSpec cell_default_act(CellKind kind, int slot);

struct CellConfig;
// Checks and stores the activations of c.kind's slots (c.kind set): codes in range, alpha and
// beta finite (and alpha >= 0 for leakyRelu and elu, whose derivative is read from the output),
// the LN-LSTM and rnn_relu only at their defaults. Returns null, or what is wrong (naming the slot).
const char* cell_set_acts(CellConfig& c, const double* codes, const double* alphas, const double* betas);

struct CellConfig {
  CellKind kind = CellKind::lstm;
  int64_t I = 0, H = 0, P = 0, G = 0;  // P = Hout; G = gates * H
  int64_t flags = 0;                   // the kind's option bits (<kind>_kind::k* in cell_codes.gen.h)
  float clip = 0.f;                    // bound on every gate pre-activation; 0 = no clipping
  Precision precision = Precision::fp32;  // bf16 / int8: the matrices are quantized, inference only
  // Gate activations, ONNX's slots (LSTM f, g, h; GRU f, g; RNN f): set by cell_set_acts, which
  // fills the slots a kind does not use with its defaults. custom_acts: some slot is not the
  // kind's default, so the kind takes its activation-generic path (the default one stays as it was).
  ActSpec act[3] = {{Act::sigmoid, 0.f, 0.f}, {Act::tanh, 0.f, 0.f}, {Act::tanh, 0.f, 0.f}};
  bool custom_acts = false;
  bool has(int64_t flag) const { return (flags & flag) != 0; }
  bool quantized() const { return precision != Precision::fp32; }
};

// What a kind packs beyond the common products: each kind derives its own struct in its own file
// (lstm_cell.cc, gru_cell.cc); a kind with nothing more leaves CellPacked::kind null.
struct KindPacked {
  virtual ~KindPacked() = default;
};

// Weights packed once per prepare. Products every kind makes: X·W_ihᵀ (wih_t), h·W_hhᵀ (whh_t),
// ∂A·W_hh (whh_n), ∂A·W_ih (wih_n), each over the columns the kind's pack chose (pack_common in
// cell_kind.h); the rest is the kind's. A quantized cell (cfg.quantized()) packs the forward
// products only, as PackedQ (qih_t, qhh_t), and no fp32 copy: the PackedBs stay empty.
struct CellPacked {
  CellConfig cfg;
  PackedB wih_t, wih_n, whh_t, whh_n;
  PackedQ qih_t, qhh_t;
  std::vector<float> bias_x;          // [G] added to X·W_ihᵀ (the kind decides which b_hh columns)
  std::unique_ptr<KindPacked> kind;   // the kind's own packed state, or null
  int64_t packed_bytes = 0;           // every packed byte, common and the kind's (for V8's accounting)
};

// A forward product C[M x N] = A · op(B) (+ bias[j]) of the cell's precision: through the fp32
// PackedB b, or (a quantized cell) the PackedQ q, whose rows of A are quantized by the contract
// (docs/equations.md, "Low precision"). N is b's / q's width. Throws std::bad_alloc when out of memory.
void cell_product(const CellConfig& c, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const PackedB& b,
                  const PackedQ& q, float* C, int64_t ldc, const float* bias, ThreadPool* pool);
// Bytes of packed weights (V8's accounting).
int64_t packed_bytes(const PackedB& b);
int64_t packed_bytes(const PackedQ& q);

// A quantized matrix as it crosses: row-major [rows, cols] uint16 bf16 patterns or int8 values,
// and for int8 its [rows] scales (null for bf16). Null data: absent.
struct QWeight {
  const void* data = nullptr;
  const float* scale = nullptr;
};

// The dense weights of one layer-direction as cell_prepare receives them: w_ih [G, I], w_hh
// [G, P], b_ih/b_hh [G] or null, then the kind's own parameters in its declared order
// (<kind>_kind::Param in cell_codes.gen.h), null where absent. A quantized cell has its matrices
// (w_ih, w_hh and the kind's rank-2 parameters) in q_ih, q_hh, qextra instead (the fp32 ones null).
struct CellWeights {
  const float *w_ih, *w_hh, *b_ih, *b_hh;
  std::vector<const float*> extra;  // [cell_kind_spec(kind).n_params]
  QWeight q_ih, q_hh;
  std::vector<QWeight> qextra;      // [n_params], data null except the kind's matrices
};
// Packs W [n, k] (row j at w + j*k, columns j < n of op(B) = Wᵀ; perm as pack_q_*) in cfg's precision.
PackedQ pack_q(const CellConfig& c, int64_t k, int64_t n, const QWeight& w, int64_t row0 = 0, const int32_t* perm = nullptr);
std::unique_ptr<CellPacked> cell_prepare(const CellConfig& cfg, const CellWeights& in);

struct SeqDesc {
  int64_t T = 0, B = 0, rowT = 0, rowB = 0;
  bool reverse = false;
  const int32_t* lengths = nullptr;  // [B] in [1, T], or null = all T
};

// The training cache: one caller-owned float buffer that each kind cuts into its own parts (row
// order r(t, b); each kind's layout is its cache_layout, cell_kind.h). Its size, the one formula:
// T*B*per_row + B*per_batch floats (per_batch: e.g. LSTM's c0).
struct CacheShape {
  int64_t per_row, per_batch;
};
CacheShape cell_cache_shape(const CellConfig& cfg);
int64_t cell_cache_floats(const CellConfig& cfg, int64_t T, int64_t B);  // of cell_cache_shape

// x rows: x + r*ldx (I used); y rows: y + r*ldy (P written; padded rows zeroed).
// h0 [B, P], c0 [B, H] or null; hN [B, P], cN [B, H] (a kind with a cell state) written. cache
// null for inference.
struct FwdIO {
  const float* x; int64_t ldx;
  float* y; int64_t ldy;
  const float *h0, *c0;
  float *hN, *cN;
  float* cache;
};
void cell_forward(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool);

struct BwdIO {
  const float* x; int64_t ldx;           // the input rows the training forward read
  float* cache;                          // what the training forward kept
  const float* dy; int64_t lddy;         // upstream ∂y rows, or null
  const float *dhN, *dcN;                // [B, P], [B, H] or null
  float* dx; int64_t lddx;               // ∂x rows, ACCUMULATED, or null
  float *dh0, *dc0;                      // [B, P] written; [B, H] written (a kind with a cell state)
  float *dw_ih, *dw_hh, *db_ih, *db_hh;  // ACCUMULATED; biases may be null
  std::vector<float*> dextra;            // the kind's own parameters' gradients (CellWeights::extra
                                         // order), ACCUMULATED; null where the cell has none
};
void cell_backward(const CellPacked& w, const SeqDesc& s, const BwdIO& io, ThreadPool* pool);

}  // namespace cellstate
