// pack.h - packing of the B operand into the micro-kernel panel layout.
//
// A packed B (K x N) is ceil(N / nr) panels; panel p holds rows 0..K-1 of
// columns [p*nr, p*nr + nr) of op(B), row after row (k rows of nr floats),
// zero-padded past N. nr is the active kernel's (kernels().gemm.nr), so a
// PackedB is only valid for the process that made it. Storage is 64-byte
// aligned and every panel starts 64-byte aligned (nr * 4 bytes is a multiple
// of 64). This file does not compute anything and does not thread.
//
// Do not include this header from ISA-flagged (-mavx*) files: the inline
// std::unique_ptr code it instantiates must come from baseline-ISA objects.
#pragma once

#include <cstdint>
#include <memory>

namespace cellstate {

struct AlignedFree {
  void operator()(float* p) const noexcept;
};

// Owning, movable, not copyable.
struct PackedB {
  int64_t k = 0, n = 0;  // logical op(B) shape
  int nr = 0;            // panel width (kernel nr at pack time)
  std::unique_ptr<float[], AlignedFree> data;  // [num_panels()][k][nr], 64-byte aligned

  int64_t num_panels() const;                // ceil(n / nr)
  int64_t panel_stride() const;              // floats from one panel to the next (k * nr)
  const float* panel(int64_t p) const;       // panel p (k*nr floats); nullptr when k*n == 0
  bool ok() const;                           // false only if the allocation failed
};

// Packs B where B(kk, j) = transB ? src[j*ldb + kk] : src[kk*ldb + j],
// kk < k, j < n. If perm != nullptr, packed column j takes source column
// perm[j] (perm has n entries, each a valid source column). On allocation
// failure returns a PackedB with ok() == false (nothing thrown).
PackedB pack_b(bool transB, int64_t k, int64_t n, const float* src, int64_t ldb,
               const int32_t* perm = nullptr);

// Building block used by pack_b and the sgemm driver: packs rows
// [k0, k0 + kc) and columns [j0, j0 + ncols) of op(B) (column j of the block
// is source column perm ? perm[j0 + j] : j0 + j) into ceil(ncols / nr)
// consecutive panels of kc x nr floats at dst, zero-padded past ncols.
//   dst: [ceil(ncols/nr)][kc][nr], element (kk, j) of the block at
//        dst[(j / nr) * kc * nr + kk * nr + j % nr]
void pack_b_block(bool transB, const float* src, int64_t ldb, int64_t k0, int64_t kc,
                  int64_t j0, int64_t ncols, int nr, const int32_t* perm, float* dst);

// Packs the op(A) block rows [i0, i0 + m) x columns [k0, k0 + kc) for
// transA (op(A)(i, kk) = a[kk*lda + i]) into ceil(m / mr) tiles for the
// kernels' tile_pa: dst[t*kc*mr + kk*mr + r] = op(A)(i0 + t*mr + r, k0 + kk).
// Every k step of a tile is mr adjacent floats, copied from one row of a, so
// this is a strided copy, not a transpose. Slots past m in the last tile are
// left unwritten (tile_pa_edge never reads them).
void pack_a_transposed(const float* a, int64_t lda, int64_t k0, int64_t kc, int64_t i0, int64_t m,
                       int mr, float* dst);

// 64-byte aligned allocation of `count` floats from the scratch recycler (util/scratch.h); nullptr
// on failure (never throws). Packed weights are rebuilt at every weight update: handing the freed
// packed copy to the next pack keeps a training loop from fragmenting the heap (RSS of a 2000-step
// loop at I = H = 512: 170 MB flat, against 310-320 MB and creeping with malloc).
float* aligned_alloc_floats(int64_t count);

}  // namespace cellstate
