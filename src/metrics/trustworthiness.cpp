#include "spatialembed/metrics/trustworthiness.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"

namespace spatialembed {

namespace {

void distances_from(const SearchSpace& space, std::size_t i, std::vector<double>& dist) {
  dist.resize(space.size());
  for (std::size_t j = 0; j < space.size(); ++j) dist[j] = space.search_distance(space.point(i), space.point(j));
}

// Indices of the k nearest points to i by (distance, index), i itself excluded.
std::vector<std::size_t> nearest(const SearchSpace& space, std::size_t i, std::size_t k, std::vector<double>& dist) {
  const std::size_t n = space.size();
  distances_from(space, i, dist);
  std::vector<std::size_t> order;
  order.reserve(n - 1);
  for (std::size_t j = 0; j < n; ++j) {
    if (j != i) order.push_back(j);
  }
  auto closer = [&](std::size_t a, std::size_t b) { return dist[a] != dist[b] ? dist[a] < dist[b] : a < b; };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), closer);
  order.resize(k);
  return order;
}

}  // namespace

double trustworthiness(ConstMatrixF X, ConstMatrixF Y, const TrustworthinessOptions& o) {
  const std::size_t n = X.rows, k = o.n_neighbors;
  SPATIALEMBED_CHECK(Y.rows == n, InvalidArgument, "X has {} rows but the embedding {}", n, Y.rows);
  SPATIALEMBED_CHECK(k >= 1 && 2 * k < n, InvalidArgument, "n_neighbors must be in [1, n_samples / 2 = {}), got {}",
                     n / 2.0, k);
  const SearchSpace input(X, o.metric, o.num_threads), output(Y, Metric::euclidean, o.num_threads);

  std::vector<std::size_t> queries(n);
  std::iota(queries.begin(), queries.end(), 0);
  if (o.max_queries > 0 && o.max_queries < n) {
    Rng rng(o.seed);
    for (std::size_t i = 0; i < o.max_queries; ++i) std::swap(queries[i], queries[i + rng.below(n - i)]);
    queries.resize(o.max_queries);
    std::sort(queries.begin(), queries.end());
  }
  std::vector<double> penalty(queries.size(), 0.0);
  parallel_for(queries.size(), o.num_threads, [&](std::size_t q) {
    const std::size_t i = queries[q];
    std::vector<double> dx, dy;
    const auto embedded = nearest(output, i, k, dy);
    distances_from(input, i, dx);
    for (const auto j : embedded) {
      // Rank of j among i's input-space neighbours: 1 + how many come before it.
      std::size_t rank = 1;
      for (std::size_t l = 0; l < n; ++l) {
        if (l != i && l != j && (dx[l] < dx[j] || (dx[l] == dx[j] && l < j))) ++rank;
      }
      if (rank > k) penalty[q] += static_cast<double>(rank - k);
    }
  }, 4);
  const double m = static_cast<double>(queries.size()), kk = static_cast<double>(k), nn = static_cast<double>(n);
  const double total = std::accumulate(penalty.begin(), penalty.end(), 0.0);
  return 1.0 - total * 2.0 / (m * kk * (2.0 * nn - 3.0 * kk - 1.0));
}

}  // namespace spatialembed
