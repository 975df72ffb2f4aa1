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

// Bytes of the centred copy of one block of data rows: the only O(d) buffer the search
// allocates beyond the candidates, so a 16 GB matrix is searched in place.
constexpr std::size_t kDataBlockBytes = std::size_t{256} << 20;

// Approximate search distances of every query against all data by float32 GEMM, fed to
// `push(q, j, d)`. The data are centred on their column means μ (‖x̃‖² + ‖ỹ‖² − 2x̃·ỹ
// cancels less than on raw values) one block of data rows at a time; the queries are not
// copied: x̃·ỹ = x·ỹ − μ·ỹ (in-place spaces: one block of 64 normalised queries at a time).
// Each query sees the data in index order whatever num_threads is.
template <class Push>
void gemm_search(const SearchSpace& data, const SearchSpace& queries, int num_threads, Push&& push) {
  const std::size_t n = data.size(), nq = queries.size(), d = data.dim();
  const auto D = static_cast<Eigen::Index>(d);
  // Column means in double, one stripe of columns per task.
  constexpr std::size_t kColumns = 4096;
  std::vector<double> sums(d, 0.0);
  parallel_for((d + kColumns - 1) / kColumns, num_threads, [&](std::size_t b) {
    const std::size_t c0 = b * kColumns, c1 = std::min(d, c0 + kColumns);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t c = c0; c < c1; ++c) sums[c] += data.search_value(i, c);
    }
  }, 1);
  Eigen::RowVectorXf mean(D);
  for (std::size_t c = 0; c < d; ++c) mean[static_cast<Eigen::Index>(c)] = static_cast<float>(sums[c] / static_cast<double>(n));
  std::vector<double>().swap(sums);

  auto centred_norm = [&](const SearchSpace& space, std::size_t i) {
    double s = 0.0;
    for (std::size_t c = 0; c < d; ++c) {
      const double diff = static_cast<double>(space.search_value(i, c)) - mean[static_cast<Eigen::Index>(c)];
      s += diff * diff;
    }
    return static_cast<float>(s);
  };
  std::vector<float> q_norms(nq);
  parallel_for(nq, num_threads, [&](std::size_t q) { q_norms[q] = centred_norm(queries, q); }, 16);

  const std::size_t rows_per_block =
      std::clamp<std::size_t>(kDataBlockBytes / (std::max<std::size_t>(d, 1) * sizeof(float)), 16, kDataBlock);
  RowMatrix block;
  Eigen::VectorXf block_norms, block_mu;  // ‖ỹ‖², μ·ỹ
  const std::size_t query_blocks = (nq + kQueryBlock - 1) / kQueryBlock;
  for (std::size_t j0 = 0; j0 < n; j0 += rows_per_block) {
    const std::size_t jn = std::min(rows_per_block, n - j0);
    block.resize(static_cast<Eigen::Index>(jn), D);
    block_norms.resize(static_cast<Eigen::Index>(jn));
    block_mu.resize(static_cast<Eigen::Index>(jn));
    parallel_for(jn, num_threads, [&](std::size_t r) {
      const auto R = static_cast<Eigen::Index>(r);
      data.search_row(j0 + r, block.row(R).data());
      block.row(R) -= mean;
      block_norms[R] = centred_norm(data, j0 + r);
      block_mu[R] = mean.dot(block.row(R));
    }, 4);
    parallel_for(query_blocks, num_threads, [&](std::size_t qb) {
      const std::size_t q0 = qb * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
      const auto qn = static_cast<Eigen::Index>(q1 - q0);
      RowMatrix normalised;
      if (queries.in_place()) {
        normalised.resize(qn, D);
        for (Eigen::Index a = 0; a < qn; ++a) queries.search_row(q0 + static_cast<std::size_t>(a), normalised.row(a).data());
      }
      const Eigen::Map<const RowMatrix> rows(queries.in_place() ? normalised.data() : queries.point(q0), qn, D);
      const RowMatrix products = rows * block.transpose();
      for (Eigen::Index a = 0; a < qn; ++a) {
        const float qa = q_norms[q0 + static_cast<std::size_t>(a)];
        for (Eigen::Index b = 0; b < products.cols(); ++b) {
          push(q0 + static_cast<std::size_t>(a), static_cast<std::int32_t>(j0 + static_cast<std::size_t>(b)),
               qa + block_norms[b] - 2.0f * (products(a, b) - block_mu[b]));
        }
      }
    }, 1);
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
  // GEMM: candidates of every query, filled block of data rows by block; direct: per query block.
  std::vector<Candidates> all;
  if (gemm) {
    all.assign(nq, Candidates(m));
    gemm_search(data, queries, num_threads,
                [&](std::size_t q, std::int32_t j, float d) { all[q].push(d, j); });
  }

  const std::size_t blocks = (nq + kQueryBlock - 1) / kQueryBlock;
  parallel_for(blocks, num_threads, [&](std::size_t block) {
    const std::size_t q0 = block * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
    std::vector<Candidates> local;
    if (!gemm) {
      local.assign(q1 - q0, Candidates(m));
      for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t q = q0; q < q1; ++q) {
          local[q - q0].push(static_cast<float>(queries.search_distance_between(q, data, j)),
                             static_cast<std::int32_t>(j));
        }
      }
    }
    auto candidates = [&](std::size_t q) -> const Candidates& { return gemm ? all[q] : local[q - q0]; };
    // Exact re-ranking: (distance, not-self, index).
    std::vector<std::tuple<double, bool, std::int32_t>> ranked;
    for (std::size_t q = q0; q < q1; ++q) {
      ranked.clear();
      for (const auto& [approx, j] : candidates(q).items()) {
        const double d = queries.search_distance_between(q, data, static_cast<std::size_t>(j));
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

// The spaces normalise in place: a normalised copy of an ion-image stack would double it.
KnnGraph exact_knn(ConstMatrixF X, std::size_t k, Metric metric, int num_threads) {
  const SearchSpace space(X, metric, num_threads, true);
  return search(space, space, k, true, num_threads);
}

KnnGraph exact_knn(ConstMatrixF data, ConstMatrixF queries, std::size_t k, Metric metric, int num_threads) {
  const SearchSpace data_space(data, metric, num_threads, true), query_space(queries, metric, num_threads, true);
  return search(data_space, query_space, k, false, num_threads);
}

}  // namespace spatialembed
