// pool.cc - the addon's thread pool and its lease (see pool.h).
#include "pool.h"

#include <atomic>

namespace cellstate {
namespace {

std::mutex g_pool_mu;                // held by the one call using the pool
std::unique_ptr<ThreadPool> g_pool;  // guarded by g_pool_mu
std::atomic<int> g_threads{0};       // the size asked for; the pool takes it when next free

// With g_pool_mu held: make the pool the size last asked for.
void resize_pool_locked() {
  const int n = g_threads.load();
  if (g_pool && g_pool->size() == n) return;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(n);
}

}  // namespace

PoolLease::PoolLease() : lock_(g_pool_mu, std::try_to_lock) {
  if (lock_.owns_lock()) resize_pool_locked();
}
ThreadPool* PoolLease::get() const { return lock_.owns_lock() && g_pool && g_pool->size() > 1 ? g_pool.get() : nullptr; }

PoolWait::PoolWait() : lock_(g_pool_mu) { resize_pool_locked(); }
ThreadPool* PoolWait::get() const { return g_pool.get(); }

void set_threads(int n) {
  g_threads.store(n);
  std::unique_lock<std::mutex> lock(g_pool_mu, std::try_to_lock);
  if (lock.owns_lock()) resize_pool_locked();
}

int threads_asked() { return g_threads.load(); }

}  // namespace cellstate
