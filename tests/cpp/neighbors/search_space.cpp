#include "neighbors/search_space.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "spatialembed/common/random.hpp"

using namespace spatialembed;

TEST_CASE("Vectorised distance kernels agree with the plain double sums at every length", "[neighbors][search_space]") {
  Rng rng(3);
  // Lengths around the kernels' blocks of 16, 32 and 64 lanes, and the benchmark's 784.
  for (const std::size_t d : {1, 7, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 784, 801}) {
    CAPTURE(d);
    std::vector<float> a(d), b(d);
    for (std::size_t k = 0; k < d; ++k) {
      a[k] = static_cast<float>(rng.normal());
      b[k] = static_cast<float>(rng.normal());
    }
    const double exact = squared_distance(a.data(), b.data(), d);
    double dot = 0.0, magnitude = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
      dot += static_cast<double>(a[k]) * b[k];
      magnitude += std::abs(static_cast<double>(a[k]) * b[k]);
    }
    CHECK(squared_l2_f64(a.data(), b.data(), d) == Approx(exact).epsilon(1e-13));
    const SearchSpace space(ConstMatrixF(a.data(), 1, d), Metric::euclidean, 1);
    CHECK(space.blocked_search_distance(a.data(), b.data()) == Approx(exact).epsilon(1e-13));
    CHECK(space.fast_search_distance(a.data(), b.data()) == Approx(exact).epsilon(1e-5));
    CHECK(std::abs(dot_f32(a.data(), b.data(), d) - dot) <= 1e-5 * magnitude);
  }
}

TEST_CASE("An in-place search space normalises on the fly to the copy's very floats", "[neighbors][search_space]") {
  Rng rng(4);
  const std::size_t n = 5, d = 37;
  std::vector<float> x(n * d);
  for (float& v : x) v = static_cast<float>(rng.uniform() * 3.0 + 0.5);
  for (const Metric metric : {Metric::cosine, Metric::correlation}) {
    const ConstMatrixF X(x.data(), n, d);
    const SearchSpace copy(X, metric, 1), in_place(X, metric, 1, true);
    CHECK(!copy.in_place());
    REQUIRE(in_place.in_place());
    CHECK(in_place.point(2) == x.data() + 2 * d);  // the caller's rows, not a copy
    std::vector<float> row(d);
    for (std::size_t i = 0; i < n; ++i) {
      in_place.search_row(i, row.data());
      for (std::size_t c = 0; c < d; ++c) {
        REQUIRE(row[c] == copy.point(i)[c]);
        REQUIRE(in_place.search_value(i, c) == copy.point(i)[c]);
      }
      for (std::size_t j = 0; j < n; ++j) {
        REQUIRE(in_place.search_distance_between(i, in_place, j) == copy.search_distance(copy.point(i), copy.point(j)));
        REQUIRE(in_place.search_distance_between(i, copy, j) == copy.search_distance_between(i, copy, j));
      }
    }
  }
}
