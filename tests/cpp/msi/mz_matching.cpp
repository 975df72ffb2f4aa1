#include "spatialembed/msi/mz_matching.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;

TEST_CASE("match_mz: nearest reference within the tolerance, as a brute-force search finds it", "[msi][mz_matching]") {
  Rng rng(3);
  std::vector<double> reference, mz;
  for (int k = 0; k < 300; ++k) reference.push_back(100.0 + 900.0 * rng.uniform());
  for (int k = 0; k < 2000; ++k) mz.push_back(95.0 + 910.0 * rng.uniform());
  for (const auto unit : {ToleranceUnit::ppm, ToleranceUnit::da}) {
    MzMatchOptions o;
    o.unit = unit;
    o.tolerance = unit == ToleranceUnit::ppm ? 500.0 : 0.4;
    const auto got = match_mz(mz, reference, o);
    REQUIRE(got.size() == mz.size());
    std::size_t matched = 0;
    for (std::size_t i = 0; i < mz.size(); ++i) {
      std::size_t best = 0;
      for (std::size_t r = 1; r < reference.size(); ++r)
        if (std::abs(reference[r] - mz[i]) < std::abs(reference[best] - mz[i])) best = r;
      const double limit = unit == ToleranceUnit::da ? o.tolerance : mz[i] * o.tolerance * 1e-6;
      const std::int64_t expected = std::abs(reference[best] - mz[i]) <= limit ? static_cast<std::int64_t>(best) : -1;
      CHECK(got[i] == expected);
      matched += expected >= 0;
    }
    CHECK(matched > 100);                // both outcomes are exercised
    CHECK(matched < mz.size() - 100);
  }
}

TEST_CASE("match_mz: ties go to the smaller m/z, equal references to the lowest index; ppm of the m/z",
          "[msi][mz_matching]") {
  const std::vector<double> reference{300.0, 200.0, 100.0, 200.0};
  MzMatchOptions da;
  da.unit = ToleranceUnit::da;
  da.tolerance = 60.0;
  const std::vector<double> mz{150.0, 200.0, 250.0, 400.0, 10.0};
  CHECK(match_mz(mz, reference, da) == std::vector<std::int64_t>{2, 1, 1, -1, -1});
  // 10 ppm of 1000.0 is 0.01 Da: 1000.0099 matches 1000.0, 1000.0101 does not.
  const std::vector<double> ref{1000.0}, near{1000.0099, 1000.0101, 999.9901};
  CHECK(match_mz(near, ref) == std::vector<std::int64_t>{0, -1, 0});
  const std::vector<double> none;
  CHECK(match_mz(near, none) == std::vector<std::int64_t>{-1, -1, -1});
}

TEST_CASE("match_mz rejects a bad tolerance and non-finite m/z", "[msi][mz_matching]") {
  const std::vector<double> ref{100.0}, mz{100.0}, nan{std::numeric_limits<double>::quiet_NaN()};
  MzMatchOptions o;
  o.tolerance = 0;
  CHECK_THROWS_WITH(match_mz(mz, ref, o), Catch::Contains("tolerance") && Catch::Contains("got 0"));
  CHECK_THROWS_AS(match_mz(nan, ref), InvalidArgument);
  CHECK_THROWS_AS(match_mz(mz, nan), InvalidArgument);
}
