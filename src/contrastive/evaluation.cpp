// Expression prediction by retrieval and per-gene Pearson r (no LibTorch: Eigen products).

#include "spatialembed/contrastive/evaluation.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_finite(const float* x, std::size_t count, std::size_t dim, const char* what) {
  for (std::size_t i = 0; i < count; ++i)
    SPATIALEMBED_CHECK(std::isfinite(x[i]), InvalidArgument, "{}: row {} column {} is {}", what, i / dim, i % dim, x[i]);
}

// Rows scaled to unit L2 norm (zero rows stay zero).
RowMatrix unit_rows(const float* x, std::size_t n, std::size_t dim) {
  RowMatrix m = Eigen::Map<const RowMatrix>(x, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    const float norm = m.row(i).norm();
    if (norm > 0) m.row(i) /= norm;
  }
  return m;
}

constexpr std::size_t kQueryBlock = 128;  // queries per product block (fixed: results do not depend on threads)

}  // namespace

RetrievalAggregation parse_retrieval_aggregation(const std::string& name) {
  if (name == "mean") return RetrievalAggregation::mean;
  if (name == "weighted") return RetrievalAggregation::weighted;
  throw InvalidArgument(fmt::format("aggregation must be \"mean\" or \"weighted\", got \"{}\"", name));
}
std::string to_string(RetrievalAggregation aggregation) {
  return aggregation == RetrievalAggregation::mean ? "mean" : "weighted";
}

void RetrievalOptions::validate() const {
  SPATIALEMBED_CHECK(k >= 1, InvalidArgument, "RetrievalOptions.k must be >= 1, got {}", k);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "RetrievalOptions.num_threads must be >= 0, got {}",
                     num_threads);
}

std::vector<std::uint32_t> nearest_by_cosine(const float* query, std::size_t n_query, const float* reference,
                                             std::size_t n_reference, std::size_t dim, std::size_t k,
                                             int num_threads) {
  SPATIALEMBED_CHECK(dim >= 1, InvalidArgument, "nearest_by_cosine: dim must be >= 1");
  SPATIALEMBED_CHECK(k >= 1 && k <= n_reference, InvalidArgument,
                     "nearest_by_cosine: k must be in [1, n_reference = {}], got {}", n_reference, k);
  SPATIALEMBED_CHECK(n_reference <= 0xFFFFFFFFu, InvalidArgument, "nearest_by_cosine: too many reference rows");
  SPATIALEMBED_CHECK((query || n_query == 0) && reference, InvalidArgument, "nearest_by_cosine: null array");
  check_finite(query, n_query * dim, dim, "nearest_by_cosine: query");
  check_finite(reference, n_reference * dim, dim, "nearest_by_cosine: reference");
  const RowMatrix Q = unit_rows(query, n_query, dim), R = unit_rows(reference, n_reference, dim);
  std::vector<std::uint32_t> out(n_query * k);
  const std::size_t blocks = (n_query + kQueryBlock - 1) / kQueryBlock;
  parallel_for(
      blocks, num_threads,
      [&](std::size_t block) {
        const auto begin = static_cast<Eigen::Index>(block * kQueryBlock);
        const auto rows = static_cast<Eigen::Index>(std::min(kQueryBlock, n_query - block * kQueryBlock));
        const RowMatrix S = Q.middleRows(begin, rows) * R.transpose();
        std::vector<std::uint32_t> order(n_reference);
        for (Eigen::Index r = 0; r < rows; ++r) {
          std::iota(order.begin(), order.end(), 0u);
          const float* s = S.row(r).data();
          std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                            [s](std::uint32_t a, std::uint32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
          std::copy(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k),
                    out.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(begin + r)) * k));
        }
      },
      1);
  return out;
}

std::vector<float> predict_expression(const float* query, std::size_t n_query, const float* reference,
                                      std::size_t n_reference, std::size_t dim, const float* reference_expression,
                                      std::size_t n_genes, const RetrievalOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(n_genes >= 1 && reference_expression, InvalidArgument,
                     "predict_expression: reference_expression (n_reference x n_genes) is required");
  SPATIALEMBED_CHECK(options.k <= n_reference, InvalidArgument,
                     "RetrievalOptions.k = {} is larger than the {} reference spots", options.k, n_reference);
  check_finite(reference_expression, n_reference * n_genes, n_genes, "predict_expression: reference_expression");
  const std::size_t k = options.k;
  const auto nearest = nearest_by_cosine(query, n_query, reference, n_reference, dim, k, options.num_threads);
  std::vector<float> out(n_query * n_genes);
  parallel_for(
      n_query, options.num_threads,
      [&](std::size_t q) {
        const std::uint32_t* idx = nearest.data() + q * k;
        std::vector<double> w(k, 1.0);
        if (options.aggregation == RetrievalAggregation::weighted) {
          // BLEEP: exp(−(d_i² − a + 1)) with a a fixed distance of the k; the constant cancels
          // in the weighted mean, so the smallest d² is used (no overflow).
          std::vector<double> d2(k, 0.0);
          for (std::size_t j = 0; j < k; ++j)
            for (std::size_t c = 0; c < dim; ++c) {
              const double diff = static_cast<double>(reference[idx[j] * dim + c]) - query[q * dim + c];
              d2[j] += diff * diff;
            }
          const double a = *std::min_element(d2.begin(), d2.end());
          for (std::size_t j = 0; j < k; ++j) w[j] = std::exp(-(d2[j] - a));
        }
        const double total = std::accumulate(w.begin(), w.end(), 0.0);
        std::vector<double> acc(n_genes, 0.0);
        for (std::size_t j = 0; j < k; ++j) {
          const float* row = reference_expression + static_cast<std::size_t>(idx[j]) * n_genes;
          for (std::size_t g = 0; g < n_genes; ++g) acc[g] += w[j] * row[g];
        }
        for (std::size_t g = 0; g < n_genes; ++g) out[q * n_genes + g] = static_cast<float>(acc[g] / total);
      },
      16);
  return out;
}

std::vector<double> pearson_per_gene(const float* predicted, const float* measured, std::size_t n,
                                     std::size_t n_genes) {
  SPATIALEMBED_CHECK(n >= 2, InvalidArgument, "pearson_per_gene: needs at least 2 spots, got {}", n);
  SPATIALEMBED_CHECK(predicted && measured, InvalidArgument, "pearson_per_gene: null array");
  check_finite(predicted, n * n_genes, n_genes, "pearson_per_gene: predicted");
  check_finite(measured, n * n_genes, n_genes, "pearson_per_gene: measured");
  std::vector<double> mp(n_genes, 0.0), mm(n_genes, 0.0), spp(n_genes, 0.0), smm(n_genes, 0.0), spm(n_genes, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t g = 0; g < n_genes; ++g) {
      mp[g] += predicted[i * n_genes + g];
      mm[g] += measured[i * n_genes + g];
    }
  for (std::size_t g = 0; g < n_genes; ++g) mp[g] /= static_cast<double>(n), mm[g] /= static_cast<double>(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t g = 0; g < n_genes; ++g) {
      const double a = predicted[i * n_genes + g] - mp[g], b = measured[i * n_genes + g] - mm[g];
      spp[g] += a * a;
      smm[g] += b * b;
      spm[g] += a * b;
    }
  std::vector<double> r(n_genes);
  for (std::size_t g = 0; g < n_genes; ++g)
    r[g] = spp[g] > 0 && smm[g] > 0 ? spm[g] / std::sqrt(spp[g] * smm[g]) : std::nan("");
  return r;
}

double mean_over(const std::vector<double>& values, const std::vector<std::size_t>& genes) {
  double sum = 0;
  std::size_t count = 0;
  for (std::size_t g : genes) {
    SPATIALEMBED_CHECK(g < values.size(), InvalidArgument, "mean_over: gene index {} is out of range (< {})", g,
                       values.size());
    if (!std::isnan(values[g])) sum += values[g], ++count;
  }
  return count ? sum / static_cast<double>(count) : std::nan("");
}

std::vector<std::size_t> highest_mean_genes(const float* expression, std::size_t n, std::size_t n_genes,
                                            std::size_t count) {
  SPATIALEMBED_CHECK(expression || n == 0, InvalidArgument, "highest_mean_genes: expression is null");
  SPATIALEMBED_CHECK(count <= n_genes, InvalidArgument, "highest_mean_genes: count {} is larger than n_genes {}", count,
                     n_genes);
  std::vector<double> mean(n_genes, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t g = 0; g < n_genes; ++g) mean[g] += expression[i * n_genes + g];
  std::vector<std::size_t> order(n_genes);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return mean[a] > mean[b]; });
  order.resize(count);
  return order;
}

double top1_accuracy(const float* query, std::size_t n_query, const float* reference, std::size_t n_reference,
                     std::size_t dim, int num_threads) {
  SPATIALEMBED_CHECK(n_query >= 1 && n_query <= n_reference, InvalidArgument,
                     "top1_accuracy: needs 1 <= n_query <= n_reference, got {} and {}", n_query, n_reference);
  const auto nearest = nearest_by_cosine(query, n_query, reference, n_reference, dim, 1, num_threads);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < n_query; ++i) hits += nearest[i] == i;
  return static_cast<double>(hits) / static_cast<double>(n_query);
}

}  // namespace spatialembed
