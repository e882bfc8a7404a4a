// scratch.h - recycled memory for the per-call temporaries of the cell kernels (the input
// projection's chunk buffer, the state rows, the backward's ∂A, ...) and for packed matrices
// (gemm/pack.h aligned_alloc_floats: packed weights, the GEMM's packing buffers).
//
// Why: a temporary of a few MB freed at the end of one call and allocated again by the next went
// back to the OS in between (glibc trims the top of its heap and unmaps large blocks), so every
// call paid a page fault per 4 KB on first touch: measured 790 faults per M forward in the
// benchmark, +0.7 ms on 3.7 ms. Freed blocks are kept here, up to kScratchCacheBytes in all, and
// handed out again to requests of up to their size (but not less than a quarter of it).
// Blocks bigger than the whole cache (a training backward's ∂A at long T: [T·B, 4H] floats, 164 MB
// at T = 5000, B = 32, H = 64) are kept too (not in the WebAssembly build), up to kScratchLargeBlocks of them, until
// scratch_trim(): without that, every backward mapped them afresh and faulted every page in (a
// T = 5000 LSTM step took 1.1 s instead of 0.2 s). The native backend calls scratch_trim once no
// backward has run for a few seconds (lib/backend/native.ts), so the memory does not outlive
// training. Thread-safe. Blocks below kScratchMinBytes come straight from the allocator and go
// straight back (small blocks are recycled by malloc itself). It does not zero memory
// (aligned_floats in cell.h does, when asked), does not shrink the cache over time and never throws.
#pragma once

#include <cstdint>
#include <memory>

namespace cellstate {

constexpr int64_t kScratchCacheBytes = int64_t{128} << 20;  // freed blocks kept, in all
constexpr int64_t kScratchMinBytes = int64_t{64} << 10;    // smaller blocks are not pooled
constexpr int kScratchLargeBlocks = 8;                     // blocks above kScratchCacheBytes kept

// 64-byte aligned floats, at least n (n >= 1); nullptr if the allocation fails.
float* scratch_alloc(int64_t n);
// Returns a block from scratch_alloc (nullptr is ignored).
void scratch_free(float* p) noexcept;

struct ScratchFree {
  void operator()(float* p) const noexcept { scratch_free(p); }
};
using ScratchFloats = std::unique_ptr<float[], ScratchFree>;

// Frees the blocks too big for the cache (kept since the last trim); the cache itself stays.
void scratch_trim() noexcept;

// Bytes now kept for reuse, within the cache / in blocks too big for it (for tests).
int64_t scratch_cached_bytes();
int64_t scratch_large_bytes();

}  // namespace cellstate
