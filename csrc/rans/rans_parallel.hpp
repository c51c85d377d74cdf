// Runs independent substream jobs on a few std::threads.
//
// Output bytes never depend on the thread count because every job writes
// only its own substream; this helper only decides who runs which job. On
// failure it rethrows the error of the lowest-numbered failing job, so the
// reported error (and its offset) is the same for any thread count.
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

// Calls job(k, worker) for every k in [0, count), with worker in
// [0, workers) identifying the calling thread (for per-thread scratch).
template <typename Job>
void run_jobs(std::size_t count, std::size_t workers, const Job& job) {
  if (workers <= 1) {
    for (std::size_t k = 0; k < count; ++k) job(k, 0);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::size_t first_failure = count;
  std::exception_ptr error;

  auto work = [&](std::size_t worker) {
    // Jobs are claimed in increasing order, so once job k has failed every
    // job below k has been claimed and will finish: the minimum is exact.
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);
      if (k >= count) return;
      try {
        job(k, worker);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (k < first_failure) {
          first_failure = k;
          error = std::current_exception();
        }
        failed.store(true, std::memory_order_relaxed);
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(work, w);
    } catch (const std::system_error&) {
      break;  // fewer threads only slow things down; the output is the same
    }
  }
  work(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace codec::rans
