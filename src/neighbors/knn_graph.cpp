#include "spatialembed/neighbors/knn_graph.hpp"

#include <cmath>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

void KnnGraph::validate(std::size_t n_data) const {
  SPATIALEMBED_CHECK(indices.size() == n * k && distances.size() == n * k, InvalidArgument,
                     "kNN graph of {} x {} needs {} indices and distances, got {} and {}", n, k, n * k,
                     indices.size(), distances.size());
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const auto e = i * k + j;
      SPATIALEMBED_CHECK(indices[e] >= -1 && indices[e] < static_cast<std::int64_t>(n_data), InvalidArgument,
                         "kNN graph index [{}, {}] = {} is outside [-1, {})", i, j, indices[e], n_data);
      SPATIALEMBED_CHECK(std::isfinite(distances[e]) && distances[e] >= 0, InvalidArgument,
                         "kNN graph distance [{}, {}] = {} must be finite and >= 0", i, j, distances[e]);
      SPATIALEMBED_CHECK(j == 0 || distances[e] >= distances[e - 1], InvalidArgument,
                         "kNN graph row {} is not sorted by distance ({} after {})", i, distances[e],
                         distances[e - 1]);
    }
  }
}

}  // namespace spatialembed
