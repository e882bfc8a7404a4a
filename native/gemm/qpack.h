// qpack.h - the quantized B operand (issue #21): bf16 or int8 weights in the micro-kernel panel
// layout of the active tier, packed once per weight matrix.
//
// A PackedQ holds op(B) (K x N) where column j of op(B) is row j of a weight matrix W [N, K] (as
// y = a · Wᵀ reads it), in ceil(N / nr) panels of nr columns (nr = kernels().gemm.nr, the fp32
// kernel's, so the fused LSTM's gate-interleaved column permutation applies unchanged):
//   bf16: panel [ceil(K/2)][nr][2] uint16 - each column's k pairs, as vdpbf16ps reads them
//   int8: panel [ceil(K/4)][nr][4] int8   - each column's k quads, as vpdpbusd reads them
// zero past K (and up to kg groups) and past N. Either way one (k group, column) is 4 bytes, so a panel row is nr * 4
// bytes and every panel starts 64-byte aligned. int8 also keeps per column the row scale s_w and
// sum_k q_w (vpdpbusd's u8 offset correction), nr per panel, zero past N. The values arrive
// already quantized (the TypeScript side quantizes weights); this file only moves them.
// Only valid in the process that packed it. Does not compute products and does not thread.
#pragma once

#include <cstdint>
#include <memory>

#include "pack.h"

namespace cellstate {

enum class QFormat : int { bf16 = 1, int8 = 2 };

// Owning, movable, not copyable.
struct PackedQ {
  QFormat fmt = QFormat::bf16;
  int64_t k = 0, n = 0;  // logical op(B) shape
  int nr = 0;            // panel width (kernel nr at pack time)
  int64_t kg = 0;        // k groups per panel: ceil(k / 2) (bf16) or ceil(k / 4) (int8), rounded up
                         // to the tier's kg_align_* (zero groups past K)
  std::unique_ptr<float[], AlignedFree> data;  // [num_panels][kg][nr] x 4 bytes, 64-byte aligned
  std::unique_ptr<float[], AlignedFree> cols;  // int8: [num_panels * nr] s_w, then as many int32 sums

  int64_t num_panels() const;                  // ceil(n / nr)
  const uint16_t* bf16_panel(int64_t p) const;  // panel p (bf16)
  const int8_t* i8_panel(int64_t p) const;      // panel p (int8)
  const float* scale(int64_t p) const;          // int8: s_w of panel p's nr columns
  const int32_t* sumw(int64_t p) const;         // int8: sum_k q_w of panel p's nr columns
  bool ok() const;                              // false only if an allocation failed
};

// Packs W [n, k] (row j at w + j*ldw) as op(B) = Wᵀ: packed column j is row perm ? perm[j] : j.
// int8: scale[r] is row r's s_w. On allocation failure ok() == false (nothing thrown).
PackedQ pack_q_bf16(int64_t k, int64_t n, const uint16_t* w, int64_t ldw, const int32_t* perm = nullptr);
PackedQ pack_q_i8(int64_t k, int64_t n, const int8_t* w, int64_t ldw, const float* scale,
                  const int32_t* perm = nullptr);

}  // namespace cellstate
