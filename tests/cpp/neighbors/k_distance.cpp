#include "spatialembed/neighbors/k_distance.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

namespace {
// The k-th smallest distance by sorting all n distances: the definition itself.
std::vector<double> reference(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t k,
                              Metric metric) {
  const SearchSpace space(ConstMatrixF(x.data(), n, d), metric, 1);
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> all(n);
    for (std::size_t j = 0; j < n; ++j) all[j] = space.distance(space.search_distance(space.point(i), space.point(j)));
    std::sort(all.begin(), all.end());
    out[i] = all[k - 1];
  }
  return out;
}
}  // namespace

TEST_CASE("k_distance equals the k-th smallest distance, self counted first", "[neighbors][k_distance]") {
  for (std::size_t d : {2u, 3u, 20u}) {
    for (Metric metric : {Metric::euclidean, Metric::cosine, Metric::correlation, Metric::manhattan}) {
      const std::size_t n = 250;
      const auto x = test::blobs(n, d, 3 + d, 3, 1.0, 10.0);
      for (std::size_t k : {1u, 5u, 12u}) {
        KDistanceOptions options;
        options.k = k;
        options.metric = metric;
        options.sorted = false;
        const auto got = k_distance(ConstMatrixF(x.data(), n, d), options);
        const auto want = reference(x, n, d, k, metric);
        for (std::size_t i = 0; i < n; ++i) REQUIRE(got[i] == Approx(want[i]).margin(1e-12));
        if (k == 1) CHECK(*std::max_element(got.begin(), got.end()) == 0.0);
        options.sorted = true;
        const auto sorted = k_distance(ConstMatrixF(x.data(), n, d), options);
        CHECK(std::is_sorted(sorted.begin(), sorted.end()));
      }
    }
  }
}

TEST_CASE("k_distance rejects bad k and bad data", "[neighbors][k_distance]") {
  std::vector<float> x = {0, 0, 1, 1, 2, 2};
  KDistanceOptions options;
  options.k = 4;
  CHECK_THROWS_WITH(k_distance(ConstMatrixF(x.data(), 3, 2), options), Catch::Contains("k must be in [1, n_samples = 3], got 4"));
  options.k = 0;
  CHECK_THROWS_AS(k_distance(ConstMatrixF(x.data(), 3, 2), options), InvalidArgument);
  options.k = 2;
  x[3] = std::nanf("");
  CHECK_THROWS_WITH(k_distance(ConstMatrixF(x.data(), 3, 2), options), Catch::Contains("X[1, 1]"));
  x = {0, 0, 1, 1, 2, 2};
  options.metric = Metric::cosine;
  CHECK_THROWS_WITH(k_distance(ConstMatrixF(x.data(), 3, 2), options), Catch::Contains("row 0 is all zeros"));
}

TEST_CASE("k_distance_knee finds where a flat curve turns steep", "[neighbors][k_distance]") {
  // 90 points at distance ~0.1 (inside clusters), then a steep noise tail up to 5.
  std::vector<double> curve;
  for (int i = 0; i < 90; ++i) curve.push_back(0.1 + 0.001 * i);
  for (int i = 1; i <= 10; ++i) curve.push_back(0.2 + 0.5 * i);
  // Kneedle by its definition: argmax of x − y on the unit-square scaled curve.
  std::size_t best = 0;
  double best_gap = -1;
  for (std::size_t i = 0; i < curve.size(); ++i) {
    const double gap = i / 99.0 - (curve[i] - curve[0]) / (curve.back() - curve[0]);
    if (gap > best_gap) best_gap = gap, best = i;
  }
  REQUIRE(best == 89);
  CHECK(k_distance_knee(curve) == curve[best]);
}

TEST_CASE("k_distance_knee edge cases and errors", "[neighbors][k_distance]") {
  const std::vector<double> flat(10, 0.25), zeros_then_steep{0, 0, 0, 0, 0, 0, 0, 0, 1, 2};
  CHECK(k_distance_knee(flat) == 0.25);
  CHECK(k_distance_knee(zeros_then_steep) > 0);  // never 0, even when the knee is on duplicates
  const std::vector<double> empty, zeros(5, 0.0), unsorted{1, 0.5, 2}, nan{0.1, NAN};
  CHECK_THROWS_AS(k_distance_knee(empty), InvalidArgument);
  CHECK_THROWS_AS(k_distance_knee(zeros), InvalidArgument);
  CHECK_THROWS_AS(k_distance_knee(unsorted), InvalidArgument);
  CHECK_THROWS_AS(k_distance_knee(nan), InvalidArgument);
}
