#pragma once
/// @file
/// Silhouette coefficients (Rousseeuw 1987), as sklearn.metrics.silhouette_samples / silhouette_score.

#include <cstdint>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// Options for `silhouette_samples` and `silhouette_score`.
struct SilhouetteOptions {
  Metric metric = Metric::euclidean;  ///< distance between rows (any `Metric`)
  int num_threads = 0;                ///< worker threads; 0 = all cores; ≥ 0

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Silhouette coefficient of every row of `X` (row-major float32, n × d) under `labels`
/// (n arbitrary int64 values; −1 is an ordinary label): s(i) = (b − a) / max(a, b), where a is
/// the mean distance from i to the other members of its cluster and b the smallest mean
/// distance from i to the members of another cluster. As sklearn.metrics.silhouette_samples,
/// s(i) = 0 for a point alone in its cluster and where a = b = 0 (duplicate points).
///
/// Distances are accumulated in double precision, one row at a time: O(n² d) time,
/// O(n + n_labels) memory per thread, no n × n matrix. Each s(i) is computed by one thread
/// only, so the result does not depend on num_threads.
/// Returns n float64 values in [−1, 1].
/// Throws InvalidArgument if `options` are invalid, the label count ≠ n, the number of
/// distinct labels is not in [2, n − 1], X holds NaN/inf, or a row is all zeros (cosine) or
/// constant (correlation).
std::vector<double> silhouette_samples(ConstMatrixF X, VectorView<const std::int64_t> labels,
                                       const SilhouetteOptions& options = {});

/// Mean of `silhouette_samples` (summed in index order), as sklearn.metrics.silhouette_score
/// without sampling. Same errors.
double silhouette_score(ConstMatrixF X, VectorView<const std::int64_t> labels, const SilhouetteOptions& options = {});

}  // namespace spatialembed
