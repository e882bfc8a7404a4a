// threadpool.h - a small persistent fork-join pool tuned for many short jobs.
//
// ThreadPool(n) owns n-1 worker threads; the thread calling parallel_for()
// is the n-th participant (thread index 0, workers are 1..n-1). Jobs are
// expected to be short (an LSTM time step: ~2-50 us per task, thousands of
// jobs per second), so after a job a worker spins (pause loop, ~100 us) before
// sleeping on a condition variable, and the caller only waits for the tasks of
// its own job, never for late-waking workers. It does not do work stealing,
// priorities, futures or task graphs.
//
// Two kinds of job:
//   * parallel_for(ntasks, fn): independent tasks, claimed dynamically. Jobs of up to 32 tasks
//     are "affine": participant t takes tasks t, t + size(), ... first, so the same task index
//     lands on the same core job after job (its data stays in that core's cache); a participant
//     that is asleep or late has its tasks taken by the others.
//   * run_team(n, fn): fn(thread, n) runs once on each of n participants AT THE SAME TIME (the
//     caller is thread 0), so members may wait for each other (TeamBarrier). Used for a whole
//     recurrent sequence: one job, then only member-to-member synchronisation per step.
//
// Rules:
//   * parallel_for and run_team block until every task / member has finished.
//   * ntasks <= 1 or size() == 1: runs inline on the caller, no other thread
//     is touched.
//   * A parallel_for issued from inside a task (of this or any other pool)
//     runs inline on the current thread (no deadlock); `thread` is then the
//     current thread's index in this pool (0 if it is not one of its threads).
//   * Calls from several external threads at once are serialised.
//   * Tasks must not throw: an escaping exception calls std::terminate.
//   * The destructor must not race with a running parallel_for; it wakes,
//     stops and joins all workers.
#pragma once

#if defined(CELLSTATE_WASM)
#include "wasm/threadpool_single.h"  // the .wasm has no threads: the one-participant pool it needs to link
#else

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cellstate {

// std::thread::hardware_concurrency(), at least 1.
int hardware_threads();

class ThreadPool {
 public:
  explicit ThreadPool(int nthreads);  // total participants incl. the caller; clamped to >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return nthreads_; }

  // Runs fn(task, thread) for every task in [0, ntasks); tasks are claimed
  // dynamically one at a time, thread in [0, size()).
  void parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn);

  // The team size run_team(n, ...) gets from the calling thread: min(n, size()), or 1 inside a
  // task (nested calls run inline). n >= 1.
  int team_size(int n) const;
  // Runs fn(thread, team) for thread in [0, team), team = team_size(n), each on its own
  // participant and all at once (thread 0 is the caller); returns when all have returned.
  // A member never runs another member's part, so members may wait for each other.
  void run_team(int n, const std::function<void(int64_t thread, int team)>& fn);

 private:
  class CallerScope;                       // threadpool.cc: the caller's bookkeeping during a job
  void worker_main(int index);
  bool wait_for_job(uint32_t seen, uint64_t* state);  // false once stop_ is set
  void run_job(uint32_t job, int thread);   // claims and runs tasks of `job` until none are left
  uint32_t publish(int64_t ntasks, bool team, const std::function<void(int64_t, int)>* fn);  // returns the job id
  void wait_done(int64_t ntasks);           // caller: spin until ntasks tasks have finished

  const int nthreads_;
  std::vector<std::thread> workers_;

  // state_ = (job id << 32) | next unclaimed task index; even ids are open
  // jobs, odd ids mark a job being published (protocol: threadpool.cc).
  std::atomic<uint64_t> state_{0};
  std::atomic<const std::function<void(int64_t, int)>*> job_fn_{nullptr};
  std::atomic<int64_t> job_ntasks_{0};
  std::atomic<bool> job_team_{false};   // task t may run on participant t only
  std::atomic<int64_t> done_{0};        // tasks of the current job finished
  std::atomic<bool> stop_{false};

  std::mutex submit_mu_;                // serialises external callers
  std::mutex sleep_mu_;                 // guards the condition variable
  std::condition_variable sleep_cv_;
  std::atomic<int> sleepers_{0};        // workers blocked (or about to block) on sleep_cv_
};

// Synchronisation of the members of one run_team job: arrive(thread) says "my part of this
// phase is written", wait_for(other) waits until `other` has arrived as often as the caller has.
// Each member's arrival count sits on its own cache line (no read-modify-write, no reset), so a
// two-member barrier costs one cache-line transfer each way, both at once. Members spin (with a
// yield now and then, in case the machine is oversubscribed); phases are expected to be short.
class TeamBarrier {
 public:
  explicit TeamBarrier(int n);
  int size() const { return n_; }
  void arrive(int thread);                  // release: everything written before is visible to waiters
  void wait_for(int thread, int other);     // acquire: other's writes before its arrival are visible
  void arrive_and_wait(int thread);         // arrive, then wait for every other member

 private:
  struct alignas(64) Slot { std::atomic<uint64_t> count{0}; char pad[64 - sizeof(std::atomic<uint64_t>)]; };
  int n_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace cellstate

#endif  // CELLSTATE_WASM
