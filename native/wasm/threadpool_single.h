// wasm/threadpool_single.h - the ThreadPool of the WebAssembly build (threadpool.h includes this
// instead of the real pool when CELLSTATE_WASM is defined): one participant, the caller, so every
// job runs inline. The .wasm is built without threads (wasi-libc's libc++ has none); the cell code
// is always called with a null pool there, and this class only exists so the code that would
// split work across a pool compiles and links unchanged. Threads in wasm (SharedArrayBuffer +
// workers) would replace this file, not the kernels.
#pragma once

#include <cstdint>
#include <functional>

namespace cellstate {

inline int hardware_threads() { return 1; }

class ThreadPool {
 public:
  explicit ThreadPool(int) {}
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const { return 1; }
  void parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn) {
    for (int64_t t = 0; t < ntasks; ++t) fn(t, 0);
  }
  int team_size(int) const { return 1; }
  void run_team(int, const std::function<void(int64_t thread, int team)>& fn) { fn(0, 1); }
};

class TeamBarrier {
 public:
  explicit TeamBarrier(int) {}
  int size() const { return 1; }
  void arrive(int) {}
  void wait_for(int, int) {}
  void arrive_and_wait(int) {}
};

}  // namespace cellstate
