// pool.h - the addon's one thread pool: at most one call uses it at a time; the others run
// single-threaded rather than wait (a wait would block the event loop or a libuv worker).
#pragma once
#include <memory>
#include <mutex>

#include "../threadpool.h"

namespace cellstate {

// Exclusive use of the pool for one call, or none (get() == nullptr) when another call has it.
class PoolLease {
 public:
  PoolLease();
  ThreadPool* get() const;
 private:
  std::unique_lock<std::mutex> lock_;
};

// The pool for a measurement that must have it (fmaPeak): waits for the call holding it.
class PoolWait {
 public:
  PoolWait();
  ThreadPool* get() const;  // the pool, at the size last asked for
 private:
  std::unique_lock<std::mutex> lock_;
};

// Never waits for a call in flight: when the pool is busy, the call that holds it, or the next
// one, resizes it.
void set_threads(int n);
int threads_asked();

}  // namespace cellstate
