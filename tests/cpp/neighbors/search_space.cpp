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
