#include "spatialembed/neighbors/exact_knn.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr std::size_t kQueryBlock = 64;
constexpr std::size_t kDataBlock = 2048;

// A bounded max-heap of (distance, index) that keeps the m smallest.
class Candidates {
 public:
  explicit Candidates(std::size_t m) : m_(m) { items_.reserve(m); }
  void push(float d, std::int32_t j) {
    if (items_.size() < m_) {
      items_.emplace_back(d, j);
      std::push_heap(items_.begin(), items_.end());
    } else if (std::make_pair(d, j) < items_.front()) {
      std::pop_heap(items_.begin(), items_.end());
      items_.back() = {d, j};
      std::push_heap(items_.begin(), items_.end());
    }
  }
  const std::vector<std::pair<float, std::int32_t>>& items() const { return items_; }
  void clear() { items_.clear(); }

 private:
  std::size_t m_;
  std::vector<std::pair<float, std::int32_t>> items_;
};

// Rows minus the data's column means, so that ‖x‖² + ‖y‖² − 2x·y cancels less.
RowMatrix centred(ConstMatrixF rows, const Eigen::RowVectorXf& mean) {
  RowMatrix out = Eigen::Map<const RowMatrix>(rows.data, static_cast<Eigen::Index>(rows.rows),
                                              static_cast<Eigen::Index>(rows.cols));
  out.rowwise() -= mean;
  return out;
}

// Approximate search distances for a block of queries against all data, fed to `push`.
template <class Push>
void gemm_block(const RowMatrix& data, const Eigen::VectorXf& data_norms, const RowMatrix& queries,
                std::size_t q_begin, std::size_t q_end, Push&& push) {
  const auto qb = static_cast<Eigen::Index>(q_begin), qn = static_cast<Eigen::Index>(q_end - q_begin);
  const Eigen::VectorXf q_norms = queries.middleRows(qb, qn).rowwise().squaredNorm();
  RowMatrix products;
  for (std::size_t j0 = 0; j0 < static_cast<std::size_t>(data.rows()); j0 += kDataBlock) {
    const auto jb = static_cast<Eigen::Index>(j0);
    const auto jn = std::min<Eigen::Index>(static_cast<Eigen::Index>(kDataBlock), data.rows() - jb);
    products.noalias() = queries.middleRows(qb, qn) * data.middleRows(jb, jn).transpose();
    for (Eigen::Index a = 0; a < qn; ++a) {
      for (Eigen::Index b = 0; b < jn; ++b) {
        push(static_cast<std::size_t>(a), static_cast<std::int32_t>(jb + b),
             q_norms[a] + data_norms[jb + b] - 2.0f * products(a, b));
      }
    }
  }
}

KnnGraph search(const SearchSpace& data, const SearchSpace& queries, std::size_t k, bool self_query,
                int num_threads) {
  const std::size_t n = data.size(), nq = queries.size();
  SPATIALEMBED_CHECK(k >= 1 && k <= n, InvalidArgument, "k (n_neighbors) must be in [1, n_samples = {}], got {}", n, k);
  SPATIALEMBED_CHECK(nq == 0 || queries.dim() == data.dim(), InvalidArgument,
                     "queries have {} features but the data has {}", queries.dim(), data.dim());
  KnnGraph graph;
  graph.n = nq;
  graph.k = k;
  graph.indices.assign(nq * k, -1);
  graph.distances.assign(nq * k, 0.0f);
  if (nq == 0) return graph;

  const bool gemm = data.is_squared_euclidean();
  const std::size_t margin = gemm ? std::max<std::size_t>(8, k / 2) : 0;
  const std::size_t m = std::min(n, k + margin);
  RowMatrix data_c, queries_c;
  Eigen::VectorXf data_norms;
  if (gemm) {
    const Eigen::RowVectorXf mean = Eigen::Map<const RowMatrix>(data.points().data, static_cast<Eigen::Index>(n),
                                                                static_cast<Eigen::Index>(data.dim()))
                                        .colwise()
                                        .mean();
    data_c = centred(data.points(), mean);
    queries_c = centred(queries.points(), mean);
    data_norms = data_c.rowwise().squaredNorm();
  }

  const std::size_t blocks = (nq + kQueryBlock - 1) / kQueryBlock;
  parallel_for(blocks, num_threads, [&](std::size_t block) {
    const std::size_t q0 = block * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
    std::vector<Candidates> candidates(q1 - q0, Candidates(m));
    if (gemm) {
      gemm_block(data_c, data_norms, queries_c, q0, q1,
                 [&](std::size_t a, std::int32_t j, float d) { candidates[a].push(d, j); });
    } else {
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t q = q0; q < q1; ++q) {
          candidates[q - q0].push(static_cast<float>(data.search_distance(queries.point(q), data.point(j))),
                                  static_cast<std::int32_t>(j));
        }
      }
    }
    // Exact re-ranking: (distance, not-self, index).
    std::vector<std::tuple<double, bool, std::int32_t>> ranked;
    for (std::size_t q = q0; q < q1; ++q) {
      ranked.clear();
      for (const auto& [approx, j] : candidates[q - q0].items()) {
        const double d = data.search_distance(queries.point(q), data.point(static_cast<std::size_t>(j)));
        ranked.emplace_back(d, !(self_query && static_cast<std::size_t>(j) == q), j);
      }
      if (self_query) ranked.emplace_back(0.0, false, static_cast<std::int32_t>(q));  // self, even if GEMM lost it
      std::sort(ranked.begin(), ranked.end());
      ranked.erase(std::unique(ranked.begin(), ranked.end(),
                               [](const auto& a, const auto& b) { return std::get<2>(a) == std::get<2>(b); }),
                   ranked.end());
      for (std::size_t r = 0; r < k; ++r) {
        graph.indices[q * k + r] = std::get<2>(ranked[r]);
        graph.distances[q * k + r] = static_cast<float>(data.distance(std::get<0>(ranked[r])));
      }
    }
  }, 1);
  return graph;
}

}  // namespace

KnnGraph exact_knn(ConstMatrixF X, std::size_t k, Metric metric, int num_threads) {
  const SearchSpace space(X, metric, num_threads);
  return search(space, space, k, true, num_threads);
}

KnnGraph exact_knn(ConstMatrixF data, ConstMatrixF queries, std::size_t k, Metric metric, int num_threads) {
  const SearchSpace data_space(data, metric, num_threads), query_space(queries, metric, num_threads);
  return search(data_space, query_space, k, false, num_threads);
}

}  // namespace spatialembed
