#pragma once
/// @file
/// `parallel_for`: a dynamically scheduled loop over [0, n) on plain std::threads.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace spatialembed {

/// The number of threads a `num_threads` option asks for: 0 means all hardware threads.
inline int resolve_num_threads(int num_threads) {
  if (num_threads > 0) return num_threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

/// Calls `fn(i)` for every i in [0, n), spread over `num_threads` threads (0 = all cores)
/// in chunks of `grain` indices handed out dynamically, so uneven work balances itself.
///
/// The calling thread takes part. The first exception thrown by any call stops the hand-out
/// of further chunks and is re-thrown on the calling thread once every worker has stopped.
/// `fn` must be safe to call concurrently for different i; the order of calls is unspecified,
/// so results that must not depend on `num_threads` should be written per index.
template <class F>
void parallel_for(std::size_t n, int num_threads, F&& fn, std::size_t grain = 64) {
  if (n == 0) return;
  grain = std::max<std::size_t>(1, grain);
  const std::size_t chunks = (n + grain - 1) / grain;
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(resolve_num_threads(num_threads)), chunks);

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto work = [&] {
    try {
      while (!failed.load(std::memory_order_relaxed)) {
        const std::size_t begin = next.fetch_add(grain, std::memory_order_relaxed);
        if (begin >= n) break;
        const std::size_t end = std::min(n, begin + grain);
        for (std::size_t i = begin; i < end; ++i) fn(i);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  };

  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (std::size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

/// Sorts [first, last) with `less` (like std::sort; equal elements in unspecified order):
/// `num_threads` chunks sorted in parallel, then merged pairwise, also in parallel.
template <class RandomIt, class Less = std::less<>>
void parallel_sort(RandomIt first, RandomIt last, int num_threads, Less less = {}) {
  const auto n = static_cast<std::size_t>(last - first);
  const std::size_t chunks = std::min<std::size_t>(static_cast<std::size_t>(resolve_num_threads(num_threads)),
                                                   std::max<std::size_t>(1, n / 4096));
  auto bound = [&](std::size_t c) { return first + static_cast<std::ptrdiff_t>(n * c / chunks); };
  parallel_for(chunks, num_threads, [&](std::size_t c) { std::sort(bound(c), bound(c + 1), less); }, 1);
  for (std::size_t width = 1; width < chunks; width *= 2) {
    const std::size_t merges = (chunks + 2 * width - 1) / (2 * width);
    parallel_for(merges, num_threads, [&](std::size_t m) {
      const std::size_t lo = 2 * width * m, mid = std::min(chunks, lo + width), hi = std::min(chunks, lo + 2 * width);
      std::inplace_merge(bound(lo), bound(mid), bound(hi), less);
    }, 1);
  }
}

}  // namespace spatialembed
