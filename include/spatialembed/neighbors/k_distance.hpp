#pragma once
/// @file
/// The k-distance curve used to choose DBSCAN's eps (Ester et al. 1996, section 4.2).

#include <cstddef>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// Options for `k_distance`.
struct KDistanceOptions {
  std::size_t k = 5;                  ///< neighbour rank, the point itself counted as the 1st; 1 ≤ k ≤ n
  Metric metric = Metric::euclidean;  ///< distance between rows (any Metric)
  bool sorted = true;                 ///< sort ascending (the k-distance plot) instead of per-point order
  int num_threads = 0;                ///< worker threads; 0 = all cores; ≥ 0
};

/// Distance from each row of `X` (row-major float32, n × d) to its k-th nearest row, the
/// row itself being the 1st (distance 0), as column k−1 of
/// `sklearn.neighbors.NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)`. With
/// k = min_samples and no weights, a point is a DBSCAN core point exactly when its
/// k-distance is ≤ eps, so the knee of the sorted curve is the usual choice of eps.
/// Returns n float64 distances in metric units, ascending when `options.sorted`.
/// Throws InvalidArgument for k < 1, k > n, NaN/inf in X, or a zero row under cosine.
std::vector<double> k_distance(ConstMatrixF X, const KDistanceOptions& options = {});

/// The knee of a k-distance curve, a DBSCAN eps chosen without a parameter: the "Kneedle"
/// point (Satopää, Albrecht, Irwin & Raghavan, ICDCS workshops 2011) of the ascending curve,
/// i.e. the distance d_i maximising i/(n−1) − (d_i − d_0)/(d_{n−1} − d_0) on the curve scaled
/// to the unit square — where the slowly rising part (points inside clusters) turns into the
/// steep tail (noise). A flat curve gives its (common) value. Returns a distance > 0 in the
/// curve's units. Throws InvalidArgument for an empty, unsorted or non-finite curve, or one
/// whose every value is 0 (all points coincide with their k-th neighbour: no eps separates them).
double k_distance_knee(VectorView<const double> sorted_distances);

}  // namespace spatialembed
