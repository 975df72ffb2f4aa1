#pragma once
/// @file
/// Trustworthiness of an embedding (Venna & Kaski 2001), as sklearn.manifold.trustworthiness.

#include <cstddef>
#include <cstdint>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// Options for `trustworthiness`.
struct TrustworthinessOptions {
  std::size_t n_neighbors = 5;        ///< k; 1 ≤ k < n/2
  Metric metric = Metric::euclidean;  ///< input-space distance (the embedding uses euclidean)
  std::size_t max_queries = 0;        ///< 0 = every point; else a seeded random subset of points
  std::uint64_t seed = 0;             ///< for the subset
  int num_threads = 0;                ///< 0 = all cores
};

/// T(k) = 1 − 2/(m·k·(2n − 3k − 1)) · Σ_i Σ_{j ∈ U_k(i)} (r(i, j) − k), where U_k(i) are the
/// k nearest neighbours of point i in the embedding `Y` (n × c) that are not among its k
/// nearest in `X` (n × d), r(i, j) is j's rank by distance from i in X (1 = nearest, ties
/// by index), and m = n, or the number of points sampled by `max_queries`. With m = n this
/// equals sklearn.manifold.trustworthiness. O(n² d) time, O(n) memory per thread.
/// Throws InvalidArgument if the row counts differ or k ≥ n/2.
double trustworthiness(ConstMatrixF X, ConstMatrixF Y, const TrustworthinessOptions& options = {});

}  // namespace spatialembed
