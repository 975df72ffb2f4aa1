#include "spatialembed/metrics/silhouette.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "metrics/label_codes.hpp"
#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

void SilhouetteOptions::validate() const {
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}",
                     num_threads);
}

namespace {

// Pairwise distances in double precision, as sklearn / scipy compute them in float64.
// Cosine and correlation use each row's mean (0 for cosine) and inverse centred norm,
// computed once, so no normalised copy of X is needed.
class PairDistance {
 public:
  PairDistance(ConstMatrixF X, Metric metric, int num_threads) : X_(X), metric_(metric) {
    parallel_for(X.rows, num_threads, [&](std::size_t i) { check_finite(i); }, 256);
    if (metric != Metric::cosine && metric != Metric::correlation) return;
    mean_.assign(X.rows, 0.0);
    inv_norm_.assign(X.rows, 0.0);
    parallel_for(X.rows, num_threads, [&](std::size_t i) { centre(i); }, 256);
  }

  double operator()(std::size_t i, std::size_t j) const {
    const float *a = X_.row(i), *b = X_.row(j);
    switch (metric_) {
      case Metric::euclidean: return std::sqrt(squared_distance(a, b, X_.cols));
      case Metric::manhattan: return manhattan_distance(a, b, X_.cols);
      default: break;
    }
    double dot = 0.0;
    for (std::size_t k = 0; k < X_.cols; ++k) dot += (a[k] - mean_[i]) * (b[k] - mean_[j]);
    // Rounding can push 1 − cos just outside [0, 2]; sklearn clips it too.
    return std::clamp(1.0 - dot * inv_norm_[i] * inv_norm_[j], 0.0, 2.0);
  }

 private:
  void check_finite(std::size_t i) const {
    const float* row = X_.row(i);
    for (std::size_t k = 0; k < X_.cols; ++k) {
      SPATIALEMBED_CHECK(std::isfinite(row[k]), InvalidArgument,
                         "X[{}, {}] = {}: input must not contain NaN or infinity", i, k, row[k]);
    }
  }

  void centre(std::size_t i) {
    const float* row = X_.row(i);
    double mean = 0.0, norm2 = 0.0;
    if (metric_ == Metric::correlation) {
      for (std::size_t k = 0; k < X_.cols; ++k) mean += row[k];
      mean /= static_cast<double>(X_.cols);
    }
    for (std::size_t k = 0; k < X_.cols; ++k) norm2 += (row[k] - mean) * (row[k] - mean);
    SPATIALEMBED_CHECK(norm2 > 0.0, InvalidArgument, "X row {} is {}: {} distance is undefined for it", i,
                       metric_ == Metric::correlation ? "constant" : "all zeros", to_string(metric_));
    mean_[i] = mean;
    inv_norm_[i] = 1.0 / std::sqrt(norm2);
  }

  ConstMatrixF X_;
  Metric metric_;
  std::vector<double> mean_, inv_norm_;
};

// s(i) from the summed distances of i to every cluster (`sums`, i's own cluster included).
double coefficient(const std::vector<double>& sums, const LabelCodes& labels, std::size_t own) {
  const std::size_t members = labels.counts[own];
  if (members == 1) return 0.0;  // a singleton has no a(i); sklearn defines s(i) = 0
  const double a = sums[own] / static_cast<double>(members - 1);
  double b = std::numeric_limits<double>::infinity();
  for (std::size_t c = 0; c < sums.size(); ++c) {
    if (c != own) b = std::min(b, sums[c] / static_cast<double>(labels.counts[c]));
  }
  const double scale = std::max(a, b);
  return scale > 0.0 ? (b - a) / scale : 0.0;  // a = b = 0: duplicates everywhere, sklearn's 0/0 → 0
}

}  // namespace

std::vector<double> silhouette_samples(ConstMatrixF X, VectorView<const std::int64_t> labels,
                                       const SilhouetteOptions& options) {
  options.validate();
  const std::size_t n = X.rows;
  SPATIALEMBED_CHECK(labels.size() == n, InvalidArgument, "X has {} rows but labels has {} entries", n,
                     labels.size());
  SPATIALEMBED_CHECK(n == 0 || X.cols >= 1, InvalidArgument, "X must have at least one feature, got shape ({}, {})",
                     n, X.cols);
  const LabelCodes codes = encode_labels(labels);
  SPATIALEMBED_CHECK(codes.n_classes() >= 2 && codes.n_classes() + 1 <= n, InvalidArgument,
                     "number of labels is {}; silhouette needs 2 to n_samples - 1 = {} (inclusive)",
                     codes.n_classes(), static_cast<std::int64_t>(n) - 1);
  const PairDistance distance(X, options.metric, options.num_threads);

  // Blocks of rows, so that each task allocates its per-cluster sums once.
  constexpr std::size_t kBlock = 16;
  std::vector<double> s(n);
  parallel_for((n + kBlock - 1) / kBlock, options.num_threads, [&](std::size_t block) {
    std::vector<double> sums(codes.n_classes());
    for (std::size_t i = block * kBlock; i < std::min(n, (block + 1) * kBlock); ++i) {
      std::fill(sums.begin(), sums.end(), 0.0);
      for (std::size_t j = 0; j < n; ++j) {
        if (j != i) sums[codes.codes[j]] += distance(i, j);
      }
      s[i] = coefficient(sums, codes, codes.codes[i]);
    }
  }, 1);
  return s;
}

double silhouette_score(ConstMatrixF X, VectorView<const std::int64_t> labels, const SilhouetteOptions& options) {
  const std::vector<double> s = silhouette_samples(X, labels, options);
  return std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
}

}  // namespace spatialembed
