// Runs independent substream jobs on a few std::threads.
//
// Output bytes never depend on the thread count because every job writes
// only its own substream; this helper only decides who runs which job. On
// failure it rethrows the error of the lowest-numbered failing job (argument
// errors first), so the reported error and its offset are the same for any
// thread count.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace codec::rans {

// Threads to use for count jobs: threads <= 0 means 1, never more than count.
inline std::size_t worker_count(std::size_t count, int threads) {
  const std::size_t wanted = threads <= 0 ? 1 : static_cast<std::size_t>(threads);
  return std::max<std::size_t>(1, std::min(wanted, count));
}

// Calls check(k) and then work(k, worker) for every k in [0, count), with
// worker in [0, workers) identifying the calling thread (for per-thread
// scratch). check(k) throws for unusable arguments (table indexes) and
// work(k, worker) does the job, so validation runs on all threads rather
// than in a serial pass before them. The error reported is the one a single thread would
// meet when it checked every job before working on any: the failed check of
// lowest k, else the failed work of lowest k. So after a work failure the
// remaining jobs are still checked (cheap), only not worked on.
template <typename Check, typename Work>
void run_checked_jobs(std::size_t count, std::size_t workers, const Check& check, const Work& work) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> check_failed{false};
  // Jobs above work_cut skip their work: a lower job's work already failed.
  std::atomic<std::size_t> work_cut{count};
  std::mutex mutex;
  std::size_t first_check_failure = count;
  std::exception_ptr check_error, work_error;

  auto run = [&](std::size_t worker) {
    // Jobs are claimed in increasing order, and a claimed job always runs its
    // check, and its work unless a lower job's work failed. So when job k
    // fails, every job below k has been claimed and will run what it owes:
    // both minima are exact, whatever the thread count.
    while (!check_failed.load(std::memory_order_relaxed)) {
      const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);
      if (k >= count) return;
      try {
        check(k);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (k < first_check_failure) {
          first_check_failure = k;
          check_error = std::current_exception();
        }
        check_failed.store(true, std::memory_order_relaxed);
        return;
      }
      if (k > work_cut.load(std::memory_order_relaxed)) continue;
      try {
        work(k, worker);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (k < work_cut.load(std::memory_order_relaxed)) {
          work_cut.store(k, std::memory_order_relaxed);
          work_error = std::current_exception();
        }
      }
    }
  };
  std::vector<std::thread> pool;
  if (workers > 1) pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(run, w);
    } catch (const std::system_error&) {
      break;  // fewer threads only slow things down; the output is the same
    }
  }
  run(0);
  for (auto& t : pool) t.join();
  if (check_error) std::rethrow_exception(check_error);
  if (work_error) std::rethrow_exception(work_error);
}

}  // namespace codec::rans
