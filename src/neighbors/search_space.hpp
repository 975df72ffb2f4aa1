#pragma once
// Points prepared for exact neighbour search under a metric, shared by every index.

#include <cstddef>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// Squared euclidean distance between two d-dimensional float rows, accumulated in double
/// from exact float differences, so ties at exactly eps are decided as scikit-learn's
/// float64 trees decide them.
inline double squared_distance(const float* a, const float* b, std::size_t d) {
  double sum = 0.0;
  for (std::size_t k = 0; k < d; ++k) {
    const double diff = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    sum += diff * diff;
  }
  return sum;
}

/// Every metric we search is squared euclidean distance on some points: the caller's rows
/// for euclidean, L2-normalised copies for cosine (‖u − v‖² = 2·(1 − cos)). Construction
/// validates the data: NaN/inf anywhere, or a zero row under cosine, throws InvalidArgument.
class SearchSpace {
 public:
  SearchSpace(ConstMatrixF X, Metric metric, int num_threads);

  std::size_t size() const { return points_.rows; }
  std::size_t dim() const { return points_.cols; }
  const float* point(std::size_t i) const { return points_.row(i); }
  ConstMatrixF points() const { return points_; }

  /// Threshold on squared euclidean distance equivalent to metric distance `radius`.
  double squared_radius(double radius) const;
  /// Metric distance equivalent to squared euclidean distance `squared`.
  double distance(double squared) const;

 private:
  Metric metric_;
  std::vector<float> normalized_;  // cosine only
  ConstMatrixF points_;
};

}  // namespace spatialembed
