// threadpool.cc - implementation of the spin-then-sleep fork-join pool.
//
// Protocol (see threadpool.h for the contract):
//   state_:   (job id << 32) | next unclaimed task index. Job ids are even for
//             open jobs; an odd id means "the caller is rewriting the job
//             fields" and its index 0xffffffff is never claimable.
//   publish:  the caller stores (id+1, closed), then writes job_fn_,
//             job_ntasks_ (release) and resets done_, then stores (id+2, 0)
//             and wakes sleepers if any.
//   claim:    any participant CASes state_ from (id, i) to (id, i+1) with
//             i < ntasks and runs task i. Jobs of at most kAffineMaxTasks tasks
//             keep a claimed-set bitmask instead of i; each participant claims
//             "its" tasks (t = thread mod size) first and then any other
//             (pick_affine); in a team job it claims task t = thread only.
//             The CAS includes the job id, and a participant that read fields
//             of a newer job has (via release / acquire on the fields) also
//             seen the closed state, so its CAS on the old value fails: a task
//             runs only with its own job's fields, and (but for team jobs) the
//             caller never has to wait for slow-to-wake workers.
//   finish:   every finished task increments done_; the caller spins until
//             done_ == ntasks, then returns (fn stays alive until then).
//   sleep:    a worker spins ~100 us on state_ and then sleeps on sleep_cv_;
//             sleepers_ is seq_cst-ordered against the state_ store, so a
//             publish either sees the sleeper or the sleeper sees the job.
//             A worker joins every job whose id differs from the last it saw,
//             starting from 0 (so it never misses the first job, even if it
//             starts running after that job was published).
// It does not balance by cost, pin threads or set priorities.
#include "threadpool.h"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>  // _mm_pause (SSE2, baseline on x86-64: no ISA flag needed)
#define CS_CPU_RELAX() _mm_pause()
#else
#define CS_CPU_RELAX() std::this_thread::yield()
#endif

namespace cellstate {

namespace {

// Pool and index of the current thread while it runs tasks (workers: always;
// callers: during parallel_for). depth > 0 means "inside a task": any further
// parallel_for on this thread runs inline.
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_index = 0;
thread_local int tl_depth = 0;

constexpr auto kSpinTime = std::chrono::microseconds(100);  // worker spin before sleeping
constexpr int kPausesPerClockCheck = 32;
constexpr int64_t kMaxTasksPerJob = int64_t{1} << 31;       // task index must fit in 32 bits
constexpr int64_t kAffineMaxTasks = 32;                     // claimed set fits in 32 bits

// Tasks must not throw: noexcept turns an escaping exception into std::terminate
// on every thread alike instead of unwinding past a half-finished job.
inline void invoke(const std::function<void(int64_t, int)>& fn, int64_t task, int thread) noexcept {
  fn(task, thread);
}

}  // namespace

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int nthreads) : nthreads_(nthreads < 1 ? 1 : nthreads) {
  workers_.reserve(static_cast<size_t>(nthreads_ - 1));
  for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  {
    std::lock_guard<std::mutex> lk(sleep_mu_);  // a worker between its predicate check and wait() holds this
  }
  sleep_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
// Affine jobs (ntasks <= kAffineMaxTasks): the low 32 bits of state_ are the set of claimed
// tasks, and participant `thread` claims the lowest unclaimed task congruent to `thread` modulo
// the pool size before any other. So task t of a step runs on the same core step after step
// (its share of W_hh stays in that core's L2) unless a participant is asleep, when the others
// take its tasks. Returns -1 when every task is claimed.
int64_t pick_affine(uint32_t claimed, int64_t ntasks, int thread, int nthreads, bool team) {
  if (team) return thread < ntasks && !(claimed >> thread & 1u) ? thread : -1;
  for (int64_t t = thread; t < ntasks; t += nthreads)
    if (!(claimed >> t & 1u)) return t;
  for (int64_t t = 0; t < ntasks; ++t)
    if (!(claimed >> t & 1u)) return t;
  return -1;
}
}  // namespace

void ThreadPool::run_job(uint32_t job, int thread) {
  // If the CAS below succeeds, `job` was current and open when it did, and
  // fields of any later job cannot have been read (see the protocol above).
  const auto* fn = job_fn_.load(std::memory_order_acquire);
  const int64_t ntasks = job_ntasks_.load(std::memory_order_acquire);
  const bool team = job_team_.load(std::memory_order_acquire);
  const bool affine = team || ntasks <= kAffineMaxTasks;
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(s >> 32) != job) return;  // a newer job replaced ours
    const uint32_t low = static_cast<uint32_t>(s & 0xffffffffu);
    const int64_t idx = affine ? pick_affine(low, ntasks, thread, nthreads_, team) : static_cast<int64_t>(low);
    if (idx < 0 || idx >= ntasks) return;                // everything claimed
    const uint64_t next = affine ? s | (uint64_t{1} << idx) : s + 1;
    if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
      invoke(*fn, idx, thread);
      done_.fetch_add(1, std::memory_order_release);
      s = state_.load(std::memory_order_acquire);
    }
  }
}

bool ThreadPool::wait_for_job(uint32_t seen, uint64_t* state) {
  for (;;) {
    // Spin phase: poll for an open job id other than `seen` for ~kSpinTime.
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      for (int i = 0; i < kPausesPerClockCheck; ++i) {
        const uint64_t s = state_.load(std::memory_order_acquire);
        const uint32_t id = static_cast<uint32_t>(s >> 32);
        if (id != seen && (id & 1u) == 0) {
          *state = s;
          return true;
        }
        CS_CPU_RELAX();
      }
      if (stop_.load(std::memory_order_relaxed)) return false;
      if (std::chrono::steady_clock::now() - start > kSpinTime) break;
    }
    // Sleep phase; on wake-up (new id, maybe still odd = being published) spin again.
    std::unique_lock<std::mutex> lk(sleep_mu_);
    sleepers_.fetch_add(1);  // seq_cst: ordered against publish()'s state_ store
    sleep_cv_.wait(lk, [&] { return stop_.load() || static_cast<uint32_t>(state_.load() >> 32) != seen; });
    sleepers_.fetch_sub(1);
    if (stop_.load()) return false;
  }
}

void ThreadPool::worker_main(int index) {
  tl_pool = this;
  tl_index = index;
  tl_depth = 1;  // a worker only ever runs tasks: nested parallel_for runs inline
  // Job ids start at 0 and only grow, and the first job is published as id 2: starting from 0
  // (not from the id current when this thread gets to run) a worker that starts late still joins
  // the first job - which a run_team job needs, since it waits for every member.
  uint32_t seen = 0;
  uint64_t s = 0;
  while (wait_for_job(seen, &s)) {
    seen = static_cast<uint32_t>(s >> 32);
    run_job(seen, index);
  }
}

uint32_t ThreadPool::publish(int64_t ntasks, bool team, const std::function<void(int64_t, int)>* fn) {
  const uint32_t cur = static_cast<uint32_t>(state_.load(std::memory_order_relaxed) >> 32);  // even
  state_.store((static_cast<uint64_t>(cur + 1) << 32) | 0xffffffffu);  // closed while fields change
  job_fn_.store(fn, std::memory_order_release);
  job_ntasks_.store(ntasks, std::memory_order_release);
  job_team_.store(team, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t job = cur + 2;
  state_.store(static_cast<uint64_t>(job) << 32);  // seq_cst; opens the job at task 0
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lk(sleep_mu_); }
    sleep_cv_.notify_all();
  }
  return job;
}

// The calling thread while it runs a job: it holds the submit lock (one external caller at a
// time) and is participant 0 of this pool, inside a task (any parallel_for or run_team it issues
// meanwhile runs inline); all restored when the job is done.
class ThreadPool::CallerScope {
 public:
  explicit CallerScope(ThreadPool& pool)
      : lock_(pool.submit_mu_), saved_pool_(tl_pool), saved_index_(tl_index) {
    tl_pool = &pool;
    tl_index = 0;
    ++tl_depth;
  }
  ~CallerScope() {
    --tl_depth;
    tl_pool = saved_pool_;
    tl_index = saved_index_;
  }
  CallerScope(const CallerScope&) = delete;
  CallerScope& operator=(const CallerScope&) = delete;

 private:
  std::lock_guard<std::mutex> lock_;
  const ThreadPool* saved_pool_;
  int saved_index_;
};

void ThreadPool::parallel_for(int64_t ntasks, const std::function<void(int64_t task, int thread)>& fn) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || nthreads_ == 1 || tl_depth > 0) {
    const int thread = tl_pool == this ? tl_index : 0;
    for (int64_t t = 0; t < ntasks; ++t) invoke(fn, t, thread);
    return;
  }

  CallerScope scope(*this);
  // Jobs carry at most 2^31 tasks (32-bit index in state_); bigger ranges run
  // as consecutive jobs over shifted indices.
  for (int64_t base = 0; base < ntasks; base += kMaxTasksPerJob) {
    const int64_t n = ntasks - base < kMaxTasksPerJob ? ntasks - base : kMaxTasksPerJob;
    std::function<void(int64_t, int)> shifted;
    const std::function<void(int64_t, int)>* job_fn = &fn;
    if (base != 0 || n != ntasks) {
      shifted = [&fn, base](int64_t t, int th) { fn(base + t, th); };
      job_fn = &shifted;
    }
    const uint32_t job = publish(n, false, job_fn);
    run_job(job, 0);
    wait_done(n);
  }
}

void ThreadPool::wait_done(int64_t ntasks) {
  // Wait for tasks still running on workers (short by contract: just spin,
  // but yield now and then in case the machine is oversubscribed).
  for (int spins = 0; done_.load(std::memory_order_acquire) < ntasks; ++spins) {
    CS_CPU_RELAX();
    if ((spins & 1023) == 1023) std::this_thread::yield();
  }
}

int ThreadPool::team_size(int n) const {
  if (tl_depth > 0 || n <= 1) return 1;
  return n < nthreads_ ? n : nthreads_;
}

void ThreadPool::run_team(int n, const std::function<void(int64_t thread, int team)>& fn) {
  const int team = team_size(n);
  if (team == 1) {
    invoke(fn, 0, 1);
    return;
  }
  CallerScope scope(*this);
  // Member t runs as task t on participant t (a team job never lets one participant take
  // another's task); the task's second argument is the participant, here always t.
  const std::function<void(int64_t, int)> member = [&fn, team](int64_t t, int) { fn(t, team); };
  const uint32_t job = publish(team, true, &member);
  run_job(job, 0);
  wait_done(team);
}

TeamBarrier::TeamBarrier(int n) : n_(n < 1 ? 1 : n), slots_(new Slot[static_cast<size_t>(n < 1 ? 1 : n)]) {}

void TeamBarrier::arrive(int thread) {
  Slot& s = slots_[static_cast<size_t>(thread)];
  s.count.store(s.count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void TeamBarrier::wait_for(int thread, int other) {
  const uint64_t want = slots_[static_cast<size_t>(thread)].count.load(std::memory_order_relaxed);
  const std::atomic<uint64_t>& c = slots_[static_cast<size_t>(other)].count;
  for (int spins = 0; c.load(std::memory_order_acquire) < want; ++spins) {
    CS_CPU_RELAX();
    if ((spins & 1023) == 1023) std::this_thread::yield();
  }
}

void TeamBarrier::arrive_and_wait(int thread) {
  arrive(thread);
  for (int j = 0; j < n_; ++j) {
    if (j != thread) wait_for(thread, j);
  }
}

}  // namespace cellstate
