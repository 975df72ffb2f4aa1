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
