#pragma once
/// @file
/// A k-nearest-neighbour graph: for each of n points its k nearest neighbours, nearest first.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spatialembed {

/// k nearest neighbours of n query points, row-major `n × k`, nearest first. When the
/// queries are the data themselves each point is its own neighbour 0 at distance 0, as in
/// umap-learn (also when it has exact duplicates).
struct KnnGraph {
  std::size_t n = 0;                 ///< query points (rows)
  std::size_t k = 0;                 ///< neighbours per point (columns)
  std::vector<std::int32_t> indices;  ///< n × k indices into the data; −1 = no neighbour
  std::vector<float> distances;       ///< n × k distances in metric units, ascending per row

  /// Throws InvalidArgument naming the first inconsistency: array sizes ≠ n × k, an index
  /// outside [−1, n_data), a negative or non-finite distance, or a row not ascending.
  void validate(std::size_t n_data) const;
};

}  // namespace spatialembed
