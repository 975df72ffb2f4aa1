#include "neighbors/search_space.hpp"

#include <algorithm>
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

SearchSpace::SearchSpace(ConstMatrixF X, Metric metric, int num_threads, bool in_place)
    : metric_(metric), points_(X) {
  SPATIALEMBED_CHECK(X.rows == 0 || X.cols >= 1, InvalidArgument,
                     "X must have at least one feature, got shape ({}, {})", X.rows, X.cols);
  check_finite(X, num_threads);
  if (metric != Metric::cosine && metric != Metric::correlation) return;
  const bool centre = metric == Metric::correlation;
  if (in_place) {
    mean_.assign(X.rows, 0.0);
    scale_.assign(X.rows, 0.0);
  } else {
    normalized_.resize(X.size());
  }
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
    if (in_place) {
      mean_[i] = mean, scale_[i] = scale;
      return;
    }
    float* out = normalized_.data() + i * X.cols;
    for (std::size_t k = 0; k < X.cols; ++k) out[k] = static_cast<float>((row[k] - mean) * scale);
  }, 256);
  if (!in_place) points_ = ConstMatrixF(normalized_.data(), X.rows, X.cols);
}

void SearchSpace::search_row(std::size_t i, float* out) const {
  const float* row = points_.row(i);
  if (scale_.empty()) {
    std::copy(row, row + dim(), out);
    return;
  }
  for (std::size_t k = 0; k < dim(); ++k) out[k] = static_cast<float>((row[k] - mean_[i]) * scale_[i]);
}

double SearchSpace::search_distance_between(std::size_t i, const SearchSpace& other, std::size_t j) const {
  if (scale_.empty() && other.scale_.empty()) return search_distance(point(i), other.point(j));
  double sum = 0.0;
  for (std::size_t k = 0; k < dim(); ++k) {
    const double diff = static_cast<double>(search_value(i, k)) - static_cast<double>(other.search_value(j, k));
    sum += diff * diff;
  }
  return sum;
}

namespace {

// Sixty-four independent partial sums (four blocks of sixteen) let the compiler vectorise
// without reassociating, with four chains of AVX-512 fused multiply-adds in flight; the
// blocks and then the sixteen lanes are added pairwise in a fixed order (a serial sum of
// the lanes would cost as much as the loop at d = 784). target_clones builds AVX-512 and
// AVX2 copies, picked at load time by what the CPU has.
struct Lanes {
  float block[4][16] = {};

  float sum() {
    float* p = block[0];
    for (std::size_t j = 0; j < 16; ++j) p[j] = (block[0][j] + block[1][j]) + (block[2][j] + block[3][j]);
    for (std::size_t j = 0; j < 8; ++j) p[j] += p[j + 8];
    for (std::size_t j = 0; j < 4; ++j) p[j] += p[j + 4];
    return (p[0] + p[2]) + (p[1] + p[3]);
  }
};

__attribute__((target_clones("avx512f", "avx2", "default")))
float squared_l2_f32(const float* a, const float* b, std::size_t d) {
  Lanes lanes;
  std::size_t k = 0;
  for (; k + 64 <= d; k += 64) {
    for (std::size_t q = 0; q < 4; ++q) {
      for (std::size_t j = 0; j < 16; ++j) {
        const float t = a[k + 16 * q + j] - b[k + 16 * q + j];
        lanes.block[q][j] += t * t;
      }
    }
  }
  for (std::size_t q = 0; k + 16 <= d; k += 16, ++q) {
    for (std::size_t j = 0; j < 16; ++j) {
      const float t = a[k + j] - b[k + j];
      lanes.block[q][j] += t * t;
    }
  }
  float sum = lanes.sum();
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
  Lanes lanes;
  std::size_t k = 0;
  for (; k + 64 <= d; k += 64) {
    for (std::size_t q = 0; q < 4; ++q) {
      for (std::size_t j = 0; j < 16; ++j) lanes.block[q][j] += a[k + 16 * q + j] * b[k + 16 * q + j];
    }
  }
  for (std::size_t q = 0; k + 16 <= d; k += 16, ++q) {
    for (std::size_t j = 0; j < 16; ++j) lanes.block[q][j] += a[k + j] * b[k + j];
  }
  float sum = lanes.sum();
  for (; k < d; ++k) sum += a[k] * b[k];
  return sum;
}

__attribute__((target_clones("avx512f", "avx2", "default")))
double squared_l2_f64(const float* a, const float* b, std::size_t d) {
  double block[4][8] = {};
  std::size_t k = 0;
  for (; k + 32 <= d; k += 32) {
    for (std::size_t q = 0; q < 4; ++q) {
      for (std::size_t j = 0; j < 8; ++j) {
        const double t = static_cast<double>(a[k + 8 * q + j]) - static_cast<double>(b[k + 8 * q + j]);
        block[q][j] += t * t;
      }
    }
  }
  double* p = block[0];
  for (std::size_t j = 0; j < 8; ++j) p[j] = (block[0][j] + block[1][j]) + (block[2][j] + block[3][j]);
  double sum = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
  for (; k < d; ++k) {
    const double t = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    sum += t * t;
  }
  return sum;
}

double SearchSpace::blocked_search_distance(const float* a, const float* b) const {
  return is_squared_euclidean() ? squared_l2_f64(a, b, dim()) : manhattan_distance(a, b, dim());
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
