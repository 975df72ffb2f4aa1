#include "spatialembed/msi/peak_width.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

double peak_half_width_ppm(VectorView<const double> mz, VectorView<const double> intensities,
                           const std::vector<std::size_t>& index) {
  const std::size_t n = mz.size();
  SPATIALEMBED_CHECK(intensities.size() == n, InvalidArgument,
                     "mz has {} values but intensities has {}; give one intensity per m/z", n, intensities.size());
  for (std::size_t k = 0; k < n; ++k)
    SPATIALEMBED_CHECK(std::isfinite(mz[k]) && std::isfinite(intensities[k]), InvalidArgument,
                       "the spectrum must be finite, got m/z {} and intensity {} at point {}", mz[k], intensities[k], k);
  std::vector<double> widths;
  widths.reserve(index.size());
  for (const std::size_t i : index) {
    SPATIALEMBED_CHECK(i < n, InvalidArgument, "peak index {} is outside the spectrum of {} points", i, n);
    const double half = intensities[i] / 2;
    if (half <= 0) continue;
    double sides[2];
    for (int s = 0; s < 2; ++s) {
      const std::ptrdiff_t step = s == 0 ? -1 : 1;
      std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i);
      const auto y = [&](std::ptrdiff_t k) { return intensities[static_cast<std::size_t>(k)]; };
      const auto x = [&](std::ptrdiff_t k) { return mz[static_cast<std::size_t>(k)]; };
      while (j + step >= 0 && j + step < static_cast<std::ptrdiff_t>(n) && y(j) > half && y(j + step) <= y(j)) j += step;
      if (y(j) <= half) {  // crossed half between j − step and j
        const double t = (y(j - step) - half) / (y(j - step) - y(j));
        sides[s] = x(j - step) + t * (x(j) - x(j - step));
      } else {  // a valley or the end of the spectrum came first
        sides[s] = x(j);
      }
    }
    widths.push_back((sides[1] - sides[0]) / 2 / mz[i] * 1e6);
  }
  if (widths.empty()) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t m = widths.size(), mid = m / 2;
  std::nth_element(widths.begin(), widths.begin() + mid, widths.end());
  const double upper = widths[mid];
  if (m % 2 == 1) return upper;
  const double lower = *std::max_element(widths.begin(), widths.begin() + mid);
  return (lower + upper) / 2;
}

}  // namespace spatialembed
