#pragma once
// Points prepared for exact neighbour search under a metric, shared by every index.

#include <cmath>
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

/// Σ a_k·b_k in float32, vectorised (AVX-512/AVX2 when the CPU has them): for approximate work.
float dot_f32(const float* a, const float* b, std::size_t d);

/// Squared euclidean distance in double from exact float differences like
/// `squared_distance`, summed in 32 interleaved partial sums (vectorised; differs from it
/// only by rounding).
double squared_l2_f64(const float* a, const float* b, std::size_t d);

/// Σ |a_k − b_k| in double.
inline double manhattan_distance(const float* a, const float* b, std::size_t d) {
  double sum = 0.0;
  for (std::size_t k = 0; k < d; ++k) sum += std::abs(static_cast<double>(a[k]) - static_cast<double>(b[k]));
  return sum;
}

/// Searching under a metric happens on a "search distance" that orders pairs as the metric
/// does: squared euclidean distance on the caller's rows (euclidean), on L2-normalised copies
/// (cosine: ‖u − v‖² = 2·(1 − cos)) or on centred and normalised copies (correlation), and
/// the L1 distance itself (manhattan). Construction validates the data: NaN/inf anywhere, a
/// zero row under cosine or a constant row under correlation throws InvalidArgument.
class SearchSpace {
 public:
  /// `in_place`: cosine and correlation keep each row's mean and scale instead of a normalised
  /// copy, and `search_value`, `search_row` and `search_distance_between` normalise on the fly
  /// to the very floats the copy would hold; `point`/`points` are then the caller's rows. For
  /// searches over matrices too large to copy (an ion-image stack).
  SearchSpace(ConstMatrixF X, Metric metric, int num_threads, bool in_place = false);

  std::size_t size() const { return points_.rows; }
  std::size_t dim() const { return points_.cols; }
  const float* point(std::size_t i) const { return points_.row(i); }
  ConstMatrixF points() const { return points_; }

  Metric metric() const { return metric_; }
  /// Whether rows are normalised on the fly (see the constructor).
  bool in_place() const { return !scale_.empty(); }
  /// Element c of row i as the search sees it.
  float search_value(std::size_t i, std::size_t c) const {
    const float x = points_.row(i)[c];
    return scale_.empty() ? x : static_cast<float>((x - mean_[i]) * scale_[i]);
  }
  /// Row i as the search sees it, written to `out` (dim() floats).
  void search_row(std::size_t i, float* out) const;
  /// `search_distance` between row i of this space and row j of `other` (same metric).
  double search_distance_between(std::size_t i, const SearchSpace& other, std::size_t j) const;
  /// Whether the search distance is a squared euclidean distance (all metrics but manhattan).
  bool is_squared_euclidean() const { return metric_ != Metric::manhattan; }

  /// Search distance between two rows of this space.
  double search_distance(const float* a, const float* b) const {
    return is_squared_euclidean() ? squared_distance(a, b, dim()) : manhattan_distance(a, b, dim());
  }
  /// `search_distance` in double, the euclidean sum vectorised (`squared_l2_f64`): equal
  /// to it up to rounding, for the final distances of approximate searches.
  double blocked_search_distance(const float* a, const float* b) const;
  /// Search distance in float32 arithmetic (Eigen, vectorised): for approximate searches
  /// that compare many candidate pairs; exact searches use `search_distance`.
  float fast_search_distance(const float* a, const float* b) const;

  /// Search distance equivalent to metric distance `radius`.
  double squared_radius(double radius) const;
  /// Metric distance equivalent to search distance `squared`.
  double distance(double squared) const;

 private:
  Metric metric_;
  std::vector<float> normalized_;  // cosine and correlation, unless in place
  std::vector<double> mean_, scale_;  // in place: row i searched as (x − mean_i)·scale_i
  ConstMatrixF points_;
};

}  // namespace spatialembed
