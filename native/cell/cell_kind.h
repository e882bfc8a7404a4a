// cell_kind.h - a cell kind as a plug-in: what cell.cc asks of each kind, and nothing more.
//
// Each kind lives in its own file and fills one CellKindOps (lstm_cell.cc, gru_cell.cc,
// rnn_cell.cc, lnlstm_cell.cc, mirroring lib/backend/ts/{lstm,gru,rnn}.ts and the sections of docs/equations.md);
// cell_kind_ops() in cell_kind.cc maps CellKind to them. A kind's options, extra parameters, gate
// count and cell state are declared in scripts/addon-schema.js (cell_codes.gen.h); its packed
// state (a KindPacked), its cache parts and its kernels live in its file. A new kind is its
// declaration, its file and one entry in cell_kind.cc. cell.cc keeps what every kind shares: the
// entry points, the packing of W_ih and W_hh (pack_common), the zeroing of the cache before a
// variable-length forward. No ISA flags.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <new>

#include "cell.h"

namespace cellstate {

class ThreadPool;

// Lays out a training cache part by part: take(n) is the next n floats, or null when there is no
// buffer (then only the total, `floats`, counts). One walk gives both the size and the pointers,
// so they cannot disagree.
struct CacheCursor {
  float* base;
  int64_t floats = 0;
  explicit CacheCursor(float* cache) : base(cache) {}
  float* take(int64_t n) {
    float* p = base ? base + floats : nullptr;
    floats += n;
    return p;
  }
};

struct CellKindOps {
  // Packs what the kind's kernels read into w (w.cfg is set): the common products (pack_common)
  // and its own KindPacked in w.kind; checks its own PackedBs (packed_or_throw), cell_prepare the
  // common ones.
  void (*pack)(CellPacked& w, const CellWeights& in);
  // Walks the kind's training cache parts of T steps of B entries, in row order r(t, b) (each
  // kind's own parts struct; cell.cc only counts the floats).
  void (*cache_layout)(const CellConfig& c, int64_t T, int64_t B, CacheCursor& at);
  void (*forward)(const CellPacked& w, const SeqDesc& s, const FwdIO& io, ThreadPool* pool);
  void (*backward)(const CellPacked& w, const SeqDesc& s, const BwdIO& io, ThreadPool* pool);
};

// What every kind packs (cell.cc): ∂A·W_ih (wih_n) and ∂A·W_hh[:Gh] (whh_n); with `transposed`
// also X·W_ihᵀ (wih_t) and h·W_hh[:Gh]ᵀ (whh_t); and bias_x = b_ih + b_hh, b_hh only in the first
// hh_cols columns (the others keep their b_hh with the recurrent product, e.g. GRU's b_hn).
// A quantized cell: only the `transposed` products, as qih_t and qhh_t (inference only).
void pack_common(CellPacked& w, const CellWeights& in, int64_t Gh, int64_t hh_cols, bool transposed);

// pack_b reports a failed allocation through ok() (it never throws), and sgemm_packed leaves C
// untouched for a bad PackedB: a silently unpacked weight would give garbage on every call.
inline void packed_or_throw(std::initializer_list<const PackedB*> packed) {
  for (const PackedB* pb : packed) {
    if (!pb->ok()) throw std::bad_alloc();
  }
}
inline void packed_or_throw(std::initializer_list<const PackedQ*> packed) {
  for (const PackedQ* pq : packed) {
    if (!pq->ok()) throw std::bad_alloc();
  }
}

// Each kind's file defines its table (`extern const CellKindOps k<Kind>Cell = {...};`), and
// cell_kind.cc, the one list of them, maps CellKind to it.
const CellKindOps& cell_kind_ops(CellKind kind);

}  // namespace cellstate
