#include "spatialembed/metrics/knn_recall.hpp"

#include <algorithm>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

double knn_recall(const KnnGraph& approximate, const KnnGraph& exact) {
  SPATIALEMBED_CHECK(approximate.n == exact.n && approximate.k == exact.k, InvalidArgument,
                     "kNN graphs differ in shape: {} x {} vs {} x {}", approximate.n, approximate.k, exact.n, exact.k);
  if (exact.n == 0 || exact.k == 0) return 1.0;
  std::size_t found = 0;
  for (std::size_t i = 0; i < exact.n; ++i) {
    const auto row = approximate.indices.begin() + static_cast<std::ptrdiff_t>(i * exact.k);
    for (std::size_t j = 0; j < exact.k; ++j) {
      found += std::find(row, row + static_cast<std::ptrdiff_t>(exact.k), exact.indices[i * exact.k + j]) !=
               row + static_cast<std::ptrdiff_t>(exact.k);
    }
  }
  return static_cast<double>(found) / static_cast<double>(exact.n * exact.k);
}

}  // namespace spatialembed
