#include "spatialembed/msi/peak_width.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

namespace {

// A spectrum of Gaussian peaks (centre, sigma in Da, height) on a fine axis from 999 to 1011.
struct Spectrum {
  std::vector<double> mz, y;
};
Spectrum gaussians(const std::vector<std::vector<double>>& peaks, double step = 0.0005, double baseline = 0.0) {
  Spectrum s;
  for (double x = 999.0; x <= 1011.0; x += step) {
    double y = baseline;
    for (const auto& p : peaks) y += p[2] * std::exp(-0.5 * std::pow((x - p[0]) / p[1], 2));
    s.mz.push_back(x);
    s.y.push_back(y);
  }
  return s;
}
std::size_t nearest(const Spectrum& s, double mz) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < s.mz.size(); ++k)
    if (std::abs(s.mz[k] - mz) < std::abs(s.mz[best] - mz)) best = k;
  return best;
}

}  // namespace

TEST_CASE("peak_half_width_ppm: a Gaussian's HWHM is sqrt(2 ln 2) sigma; the median over peaks",
          "[msi][peak_width]") {
  // Three isolated peaks of sigma 0.002, 0.004, 0.010 Da: HWHM = 1.17741 sigma.
  const auto s = gaussians({{1001.0, 0.002, 5.0}, {1004.0, 0.004, 2.0}, {1008.0, 0.010, 9.0}});
  const std::vector<std::size_t> index{nearest(s, 1001.0), nearest(s, 1004.0), nearest(s, 1008.0)};
  const double hwhm = std::sqrt(2 * std::log(2.0));
  // One peak: its own width (linear interpolation on a 0.5 mDa grid: within 1 %).
  CHECK(peak_half_width_ppm(s.mz, s.y, {index[0]}) == Approx(hwhm * 0.002 / 1001.0 * 1e6).epsilon(0.01));
  // Three: the middle one; two: the mean of both.
  CHECK(peak_half_width_ppm(s.mz, s.y, index) == Approx(hwhm * 0.004 / 1004.0 * 1e6).epsilon(0.01));
  CHECK(peak_half_width_ppm(s.mz, s.y, {index[0], index[2]}) ==
        Approx((hwhm * 0.002 / 1001.0 + hwhm * 0.010 / 1008.0) / 2 * 1e6).epsilon(0.01));
}

TEST_CASE("peak_half_width_ppm: a valley or the spectrum's end stops a side; zero peaks are skipped",
          "[msi][peak_width]") {
  // Two overlapping peaks 0.01 Da apart (sigma 0.006): the valley between them lies above half
  // height, so the inner sides end at the valley's minimum.
  const auto s = gaussians({{1005.0, 0.006, 1.0}, {1005.01, 0.006, 1.0}});
  const std::size_t a = nearest(s, 1005.0);
  std::size_t valley = a;
  while (s.y[valley + 1] <= s.y[valley]) ++valley;
  double left = 0;  // the outer side, interpolated as the function defines it
  for (std::size_t j = a; j > 0; --j) {
    if (s.y[j - 1] <= s.y[a] / 2) {
      const double t = (s.y[j] - s.y[a] / 2) / (s.y[j] - s.y[j - 1]);
      left = s.mz[j] + t * (s.mz[j - 1] - s.mz[j]);
      break;
    }
  }
  CHECK(peak_half_width_ppm(s.mz, s.y, {a}) == Approx((s.mz[valley] - left) / 2 / s.mz[a] * 1e6).epsilon(1e-9));
  // A peak at the first point: its left side is the first m/z.
  const std::vector<double> mz{100.0, 100.1, 100.2, 100.3}, y{4.0, 3.0, 1.0, 0.5};
  // right: half = 2 is crossed between 100.1 (3) and 100.2 (1) at 100.15
  CHECK(peak_half_width_ppm(mz, y, {0}) == Approx((100.15 - 100.0) / 2 / 100.0 * 1e6));
  const std::vector<double> zero{0.0, 0.0, 0.0, 0.0};
  CHECK(std::isnan(peak_half_width_ppm(mz, zero, {1, 2})));
  CHECK(std::isnan(peak_half_width_ppm(mz, y, {})));
}

TEST_CASE("peak_half_width_ppm rejects inconsistent input", "[msi][peak_width]") {
  const std::vector<double> mz{100.0, 100.1, 100.2}, y{1.0, 3.0, 1.0}, short_y{1.0, 3.0};
  CHECK_THROWS_AS(peak_half_width_ppm(mz, short_y, {1}), InvalidArgument);
  CHECK_THROWS_WITH(peak_half_width_ppm(mz, y, {3}), Catch::Contains("peak index 3") && Catch::Contains("3 points"));
  const std::vector<double> bad{1.0, std::numeric_limits<double>::quiet_NaN(), 1.0};
  CHECK_THROWS_AS(peak_half_width_ppm(mz, bad, {0}), InvalidArgument);
}
