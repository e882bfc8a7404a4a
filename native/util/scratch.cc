// scratch.cc - the recycler of scratch.h. Each block carries its capacity in a 64-byte header in
// front of the floats handed out; free blocks sit in size-ordered multimaps (the cache, and the
// blocks too big for it) under one mutex (a handful of acquisitions per call: the lock is never
// contended for long).
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

#if defined(CELLSTATE_WASM)
// Linear memory never goes back to an OS, so a freed block costs no page faults when malloc hands
// it out again; holding big ones here would only keep malloc from reusing them for other sizes.
constexpr size_t kLargeKept = 0;
#else
constexpr size_t kLargeKept = kScratchLargeBlocks;
#endif

constexpr size_t kAlign = 64;
constexpr int64_t kHeaderFloats = kAlign / sizeof(float);  // the header keeps the 64-byte alignment

using Blocks = std::multimap<int64_t, float*>;  // capacity in floats -> block (header included)

struct Cache {
  Mutex mu;
  Blocks free_blocks;  // at most kScratchCacheBytes in all
  int64_t bytes = 0;
  Blocks large;        // each above kScratchCacheBytes, at most kScratchLargeBlocks, until scratch_trim
  int64_t large_bytes = 0;
};

int64_t bytes_of(int64_t cap) { return cap * static_cast<int64_t>(sizeof(float)); }

// The smallest block of `m` that holds n floats and is not four times too big, taken out of it.
float* take(Blocks& m, int64_t& bytes, int64_t n) {
  auto it = m.lower_bound(n);
  if (it == m.end() || it->first / 4 > n) return nullptr;
  float* block = it->second;
  bytes -= bytes_of(it->first);
  m.erase(it);
  return block;
}

// Keeps the block in `m` if the map has room for its node; false if not.
bool keep(Blocks& m, int64_t& bytes, int64_t cap, float* block) noexcept {
  try {
    m.emplace(cap, block);
    bytes += bytes_of(cap);
    return true;
  } catch (...) {  // no memory for the map node: the caller gives the block back instead
    return false;
  }
}

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
    float* block = take(c.free_blocks, c.bytes, n);
    if (block == nullptr) block = take(c.large, c.large_bytes, n);
    if (block != nullptr) return block + kHeaderFloats;
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
  const int64_t bytes = bytes_of(cap);
  if (bytes >= kScratchMinBytes) {
    Cache& c = cache();
    Lock lock(c.mu);
    if (c.bytes + bytes <= kScratchCacheBytes) {
      if (keep(c.free_blocks, c.bytes, cap, block)) return;
    } else if (bytes > kScratchCacheBytes && c.large.size() < kLargeKept) {
      if (keep(c.large, c.large_bytes, cap, block)) return;
    }
  }
  raw_free(block);
}

void scratch_trim() noexcept {
  Blocks large;
  {
    Cache& c = cache();
    Lock lock(c.mu);
    large.swap(c.large);
    c.large_bytes = 0;
  }
  for (const auto& kv : large) raw_free(kv.second);  // outside the lock
}

int64_t scratch_cached_bytes() {
  Cache& c = cache();
  Lock lock(c.mu);
  return c.bytes;
}

int64_t scratch_large_bytes() {
  Cache& c = cache();
  Lock lock(c.mu);
  return c.large_bytes;
}

}  // namespace cellstate
