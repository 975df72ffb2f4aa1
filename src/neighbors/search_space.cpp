#include "neighbors/search_space.hpp"

#include <cmath>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace {

void check_finite(ConstMatrixF X, int num_threads) {
  parallel_for(X.rows, num_threads, [&](std::size_t i) {
    const float* row = X.row(i);
    for (std::size_t k = 0; k < X.cols; ++k) {
      SPATIALEMBED_CHECK(std::isfinite(row[k]), InvalidArgument,
                         "X[{}, {}] = {}: input must not contain NaN or infinity", i, k, row[k]);
    }
  }, 256);
}

}  // namespace

SearchSpace::SearchSpace(ConstMatrixF X, Metric metric, int num_threads) : metric_(metric), points_(X) {
  SPATIALEMBED_CHECK(X.rows == 0 || X.cols >= 1, InvalidArgument,
                     "X must have at least one feature, got shape ({}, {})", X.rows, X.cols);
  check_finite(X, num_threads);
  if (metric != Metric::cosine) return;
  normalized_.resize(X.size());
  parallel_for(X.rows, num_threads, [&](std::size_t i) {
    const float* row = X.row(i);
    double norm2 = 0.0;
    for (std::size_t k = 0; k < X.cols; ++k) norm2 += static_cast<double>(row[k]) * row[k];
    SPATIALEMBED_CHECK(norm2 > 0.0, InvalidArgument,
                       "X row {} is all zeros: cosine distance is undefined for it", i);
    const double scale = 1.0 / std::sqrt(norm2);
    float* out = normalized_.data() + i * X.cols;
    for (std::size_t k = 0; k < X.cols; ++k) out[k] = static_cast<float>(row[k] * scale);
  }, 256);
  points_ = ConstMatrixF(normalized_.data(), X.rows, X.cols);
}

double SearchSpace::squared_radius(double radius) const {
  return metric_ == Metric::cosine ? 2.0 * radius : radius * radius;
}

double SearchSpace::distance(double squared) const {
  return metric_ == Metric::cosine ? 0.5 * squared : std::sqrt(squared);
}

}  // namespace spatialembed
