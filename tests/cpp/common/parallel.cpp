#include "spatialembed/common/parallel.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <stdexcept>
#include <vector>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

TEST_CASE("parallel_for visits every index exactly once", "[common][parallel]") {
  for (int threads : {1, 2, 3, 0}) {
    for (std::size_t n : {0u, 1u, 7u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      parallel_for(n, threads, [&](std::size_t i) { hits[i].fetch_add(1); }, 5);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(hits[i].load() == 1);
    }
  }
}

TEST_CASE("parallel_for re-throws a worker's exception on the caller's thread", "[common][parallel]") {
  std::atomic<int> calls{0};
  auto run = [&] {
    parallel_for(10000, 2, [&](std::size_t i) {
      calls.fetch_add(1);
      SPATIALEMBED_CHECK(i != 0, InvalidArgument, "bad index {}", i);
      // Slow items: the whole loop takes ~0.2 s, the failure comes first.
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }, 1);
  };
  CHECK_THROWS_WITH(run(), "bad index 0");
  CHECK(calls.load() < 5000);  // the other worker stopped early, not after the whole range
}

TEST_CASE("resolve_num_threads maps 0 to the hardware count", "[common][parallel]") {
  CHECK(resolve_num_threads(3) == 3);
  CHECK(resolve_num_threads(0) >= 1);
}

TEST_CASE("parallel_sort sorts like std::sort", "[common][parallel]") {
  for (int threads : {1, 2, 3, 5}) {
    for (std::size_t n : {0u, 1u, 100u, 50000u}) {
      std::vector<unsigned> values(n);
      unsigned x = 12345;
      for (auto& v : values) v = (x = x * 1103515245u + 12345u) % 1000u;
      auto expected = values;
      std::sort(expected.begin(), expected.end());
      parallel_sort(values.begin(), values.end(), threads);
      REQUIRE(values == expected);
      parallel_sort(values.begin(), values.end(), threads, std::greater<>());
      REQUIRE(std::is_sorted(values.begin(), values.end(), std::greater<>()));
    }
  }
}
