// scratch.h - recycled memory for the per-call temporaries of the cell kernels (the input
// projection's chunk buffer, the state rows, the backward's ∂A, ...) and for packed matrices
// (gemm/pack.h aligned_alloc_floats: packed weights, the GEMM's packing buffers).
//
// Why: a temporary of a few MB freed at the end of one call and allocated again by the next went
// back to the OS in between (glibc trims the top of its heap and unmaps large blocks), so every
// call paid a page fault per 4 KB on first touch: measured 790 faults per M forward in the
// benchmark, +0.7 ms on 3.7 ms. Freed blocks are kept here, up to kScratchCacheBytes in all, and
// handed out again to requests of up to their size (but not less than a quarter of it).
// Thread-safe. Blocks below kScratchMinBytes come straight from the allocator and go straight
// back (small blocks are recycled by malloc itself). It does not zero memory (aligned_floats in
// cell.h does, when asked), does not shrink the cache over time and never throws.
#pragma once

#include <cstdint>
#include <memory>

namespace cellstate {

constexpr int64_t kScratchCacheBytes = int64_t{128} << 20;  // freed blocks kept, in all
constexpr int64_t kScratchMinBytes = int64_t{64} << 10;    // smaller blocks are not pooled

// 64-byte aligned floats, at least n (n >= 1); nullptr if the allocation fails.
float* scratch_alloc(int64_t n);
// Returns a block from scratch_alloc (nullptr is ignored).
void scratch_free(float* p) noexcept;

struct ScratchFree {
  void operator()(float* p) const noexcept { scratch_free(p); }
};
using ScratchFloats = std::unique_ptr<float[], ScratchFree>;

// Bytes now kept for reuse (for tests).
int64_t scratch_cached_bytes();

}  // namespace cellstate
