#include "spatialembed/msi/isotope_coclustering.hpp"

#include <limits>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

double IsotopeCoclustering::share() const {
  if (n_clustered == 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(n_together) / static_cast<double>(n_clustered);
}

IsotopeCoclustering isotope_coclustering(VectorView<const double> mz, VectorView<const std::int32_t> labels,
                                         const IsotopePairOptions& options) {
  SPATIALEMBED_CHECK(mz.size() == labels.size(), InvalidArgument,
                     "mz has {} values but labels has {}; give one label per m/z", mz.size(), labels.size());
  IsotopeCoclustering out;
  out.pairs = find_isotope_pairs(mz, options);
  for (const auto& pair : out.pairs) {
    const auto a = labels[pair.light], b = labels[pair.heavy];
    if (a < 0 || b < 0) continue;
    ++out.n_clustered;
    if (a == b) ++out.n_together;
  }
  return out;
}

}  // namespace spatialembed
