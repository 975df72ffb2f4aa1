#include "spatialembed/msi/isotope_coclustering.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

TEST_CASE("isotope_coclustering counts isotope pairs that share a cluster", "[msi][isotope_coclustering]") {
  // Three envelopes (M, M+1): 500/501.00336 together, 600/601.00336 split, 700/701.00336 with
  // one noise image; 650 has no partner.
  const std::vector<double> mz{500.0, 501.00336, 600.0, 601.00336, 650.0, 700.0, 701.00336};
  const std::vector<std::int32_t> labels{0, 0, 1, 2, 1, 3, -1};
  const auto result = isotope_coclustering(mz, labels);
  REQUIRE(result.pairs.size() == 3);
  CHECK(result.n_clustered == 2);
  CHECK(result.n_together == 1);
  CHECK(result.share() == Approx(0.5));
}

TEST_CASE("isotope_coclustering: no clustered pair gives NaN; lengths must agree", "[msi][isotope_coclustering]") {
  const std::vector<double> mz{500.0, 501.00336};
  const std::vector<std::int32_t> noise{-1, -1}, short_labels{0};
  CHECK(std::isnan(isotope_coclustering(mz, noise).share()));
  CHECK_THROWS_AS(isotope_coclustering(mz, short_labels), InvalidArgument);
}
