#include "spatialembed/msi/mz_matching.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

void MzMatchOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(tolerance) && tolerance > 0, InvalidArgument,
                     "tolerance must be a finite number > 0, got {}", tolerance);
}

std::vector<std::int64_t> match_mz(VectorView<const double> mz, VectorView<const double> reference_mz,
                                   const MzMatchOptions& options) {
  options.validate();
  const std::size_t n = mz.size(), m = reference_mz.size();
  for (std::size_t k = 0; k < n; ++k)
    SPATIALEMBED_CHECK(std::isfinite(mz[k]), InvalidArgument, "mz[{}] must be finite, got {}", k, mz[k]);
  for (std::size_t k = 0; k < m; ++k)
    SPATIALEMBED_CHECK(std::isfinite(reference_mz[k]), InvalidArgument, "reference_mz[{}] must be finite, got {}", k,
                       reference_mz[k]);
  std::vector<std::int64_t> out(n, -1);
  if (m == 0) return out;
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return reference_mz[a] < reference_mz[b]; });
  std::vector<double> sorted(m);
  for (std::size_t k = 0; k < m; ++k) sorted[k] = reference_mz[order[k]];
  for (std::size_t k = 0; k < n; ++k) {
    const double v = mz[k];
    // The first reference ≥ v and the one before it; the nearer wins, the lower one on a tie.
    const std::size_t pos = static_cast<std::size_t>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
    std::size_t best = pos == m ? m - 1 : pos;
    if (pos > 0) {
      // equal values: the first of a run of equal values is the lowest index (stable sort)
      std::size_t below = pos - 1;
      while (below > 0 && sorted[below - 1] == sorted[below]) --below;
      if (pos == m || std::abs(sorted[below] - v) <= std::abs(sorted[pos] - v)) best = below;
    }
    const double limit = options.unit == ToleranceUnit::da ? options.tolerance : v * options.tolerance * 1e-6;
    if (std::abs(sorted[best] - v) <= limit) out[k] = static_cast<std::int64_t>(order[best]);
  }
  return out;
}

}  // namespace spatialembed
