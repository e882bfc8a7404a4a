// scratch.cc - the recycler of scratch.h. Each block carries its capacity in a 64-byte header in
// front of the floats handed out; free blocks sit in a size-ordered multimap under one mutex
// (a handful of acquisitions per call: the lock is never contended for long).
#include "scratch.h"

#include <cstdint>
#include <map>
#include <new>
#if !defined(CELLSTATE_WASM)
#include <mutex>
#endif

namespace cellstate {
namespace {

#if defined(CELLSTATE_WASM)
// The .wasm has no threads (scripts/build-wasm.sh): nothing to lock.
struct Mutex {};
struct Lock { explicit Lock(Mutex&) {} };
#else
using Mutex = std::mutex;
using Lock = std::lock_guard<std::mutex>;
#endif

constexpr size_t kAlign = 64;
constexpr int64_t kHeaderFloats = kAlign / sizeof(float);  // the header keeps the 64-byte alignment

struct Cache {
  Mutex mu;
  std::multimap<int64_t, float*> free_blocks;  // capacity in floats -> block (header included)
  int64_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: blocks may be freed during static destruction
  return *c;
}

float* raw_alloc(int64_t floats) {
  return static_cast<float*>(::operator new[](static_cast<size_t>(floats) * sizeof(float), std::align_val_t(kAlign), std::nothrow));
}

void raw_free(float* p) noexcept { ::operator delete[](p, std::align_val_t(kAlign)); }

}  // namespace

float* scratch_alloc(int64_t n) {
  if (n < 1) n = 1;
  if (static_cast<uint64_t>(n) > (SIZE_MAX / sizeof(float)) - 2 * kHeaderFloats) return nullptr;
  if (n * static_cast<int64_t>(sizeof(float)) >= kScratchMinBytes) {
    Cache& c = cache();
    Lock lock(c.mu);
    auto it = c.free_blocks.lower_bound(n);  // the smallest block that fits
    if (it != c.free_blocks.end() && it->first / 4 <= n) {
      float* block = it->second;
      c.bytes -= it->first * static_cast<int64_t>(sizeof(float));
      c.free_blocks.erase(it);
      return block + kHeaderFloats;
    }
  }
  float* block = raw_alloc(n + kHeaderFloats);
  if (block == nullptr) return nullptr;
  *reinterpret_cast<int64_t*>(block) = n;  // capacity
  return block + kHeaderFloats;
}

void scratch_free(float* p) noexcept {
  if (p == nullptr) return;
  float* block = p - kHeaderFloats;
  const int64_t cap = *reinterpret_cast<const int64_t*>(block);
  const int64_t bytes = cap * static_cast<int64_t>(sizeof(float));
  if (bytes >= kScratchMinBytes) {
    Cache& c = cache();
    Lock lock(c.mu);
    if (c.bytes + bytes <= kScratchCacheBytes) {
      try {
        c.free_blocks.emplace(cap, block);
        c.bytes += bytes;
        return;
      } catch (...) {  // no memory for the map node: give the block back instead
      }
    }
  }
  raw_free(block);
}

int64_t scratch_cached_bytes() {
  Cache& c = cache();
  Lock lock(c.mu);
  return c.bytes;
}

}  // namespace cellstate
