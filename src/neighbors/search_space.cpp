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
  if (metric != Metric::cosine && metric != Metric::correlation) return;
  const bool centre = metric == Metric::correlation;
  normalized_.resize(X.size());
  parallel_for(X.rows, num_threads, [&](std::size_t i) {
    const float* row = X.row(i);
    double mean = 0.0;
    if (centre) {
      for (std::size_t k = 0; k < X.cols; ++k) mean += row[k];
      mean /= static_cast<double>(X.cols);
    }
    double norm2 = 0.0;
    for (std::size_t k = 0; k < X.cols; ++k) norm2 += (row[k] - mean) * (row[k] - mean);
    SPATIALEMBED_CHECK(norm2 > 0.0, InvalidArgument, "X row {} is {}: {} distance is undefined for it", i,
                       centre ? "constant" : "all zeros", to_string(metric));
    const double scale = 1.0 / std::sqrt(norm2);
    float* out = normalized_.data() + i * X.cols;
    for (std::size_t k = 0; k < X.cols; ++k) out[k] = static_cast<float>((row[k] - mean) * scale);
  }, 256);
  points_ = ConstMatrixF(normalized_.data(), X.rows, X.cols);
}

namespace {

// Sixteen independent partial sums let the compiler vectorise without reassociating, and
// target_clones builds AVX-512 and AVX2 copies, picked at load time by what the CPU has.
__attribute__((target_clones("avx512f", "avx2", "default")))
float squared_l2_f32(const float* a, const float* b, std::size_t d) {
  float partial[16] = {};
  std::size_t k = 0;
  for (; k + 16 <= d; k += 16) {
    for (std::size_t j = 0; j < 16; ++j) {
      const float t = a[k + j] - b[k + j];
      partial[j] += t * t;
    }
  }
  float sum = 0.0f;
  for (const float p : partial) sum += p;
  for (; k < d; ++k) sum += (a[k] - b[k]) * (a[k] - b[k]);
  return sum;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
float l1_f32(const float* a, const float* b, std::size_t d) {
  float partial[16] = {};
  std::size_t k = 0;
  for (; k + 16 <= d; k += 16) {
    for (std::size_t j = 0; j < 16; ++j) partial[j] += std::abs(a[k + j] - b[k + j]);
  }
  float sum = 0.0f;
  for (const float p : partial) sum += p;
  for (; k < d; ++k) sum += std::abs(a[k] - b[k]);
  return sum;
}

}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default")))
float dot_f32(const float* a, const float* b, std::size_t d) {
  float partial[16] = {};
  std::size_t k = 0;
  for (; k + 16 <= d; k += 16) {
    for (std::size_t j = 0; j < 16; ++j) partial[j] += a[k + j] * b[k + j];
  }
  float sum = 0.0f;
  for (const float p : partial) sum += p;
  for (; k < d; ++k) sum += a[k] * b[k];
  return sum;
}

float SearchSpace::fast_search_distance(const float* a, const float* b) const {
  return is_squared_euclidean() ? squared_l2_f32(a, b, dim()) : l1_f32(a, b, dim());
}

double SearchSpace::squared_radius(double radius) const {
  switch (metric_) {
    case Metric::euclidean: return radius * radius;
    case Metric::manhattan: return radius;
    default: return 2.0 * radius;
  }
}

double SearchSpace::distance(double squared) const {
  switch (metric_) {
    case Metric::euclidean: return std::sqrt(squared);
    case Metric::manhattan: return squared;
    default: return 0.5 * squared;
  }
}

}  // namespace spatialembed
