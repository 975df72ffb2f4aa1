#pragma once
/// @file
/// Approximate k nearest neighbours by NN-descent (Dong, Moses & Li, WWW 2011) started from
/// random-projection trees, as pynndescent does for umap-learn.

#include <cstddef>
#include <cstdint>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/knn_graph.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// NN-descent options; 0 means umap-learn's automatic value.
struct NnDescentOptions {
  std::size_t k = 15;                 ///< neighbours per point, itself included; 1 ≤ k ≤ n
  Metric metric = Metric::euclidean;  ///< distance between rows
  std::size_t n_trees = 0;            ///< random-projection trees; 0 = min(64, 5 + round(√n / 20))
  std::size_t leaf_size = 0;          ///< largest tree leaf; 0 = max(10, k)
  std::size_t max_candidates = 60;    ///< candidates per point per iteration
  std::size_t n_iters = 0;            ///< most iterations; 0 = max(5, round(log2 n))
  double delta = 0.001;               ///< stop when fewer than delta·n·k neighbours change
  std::uint64_t seed = 0;             ///< trees and candidate sampling derive from it
  int num_threads = 0;                ///< 0 = all cores; the result does not depend on it
};

/// The approximate k nearest rows of X (row-major float32, n × d) to each row, itself first,
/// distances in metric units. Deterministic for a seed whatever `num_threads` is: trees are
/// built per tree seed, candidates sampled by a hash of (seed, iteration, edge), and the
/// neighbour updates of each batch applied in a fixed order. Memory O(n·k).
/// Throws InvalidArgument for k out of range, NaN/inf, or rows the metric cannot handle.
KnnGraph nn_descent(ConstMatrixF X, const NnDescentOptions& options = {});

}  // namespace spatialembed
