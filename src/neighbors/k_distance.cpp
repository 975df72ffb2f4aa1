#include "spatialembed/neighbors/k_distance.hpp"

#include <algorithm>
#include <cmath>

#include "neighbors/kdtree_index.hpp"
#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace {

constexpr std::size_t kMaxKdTreeDim = 16;

// k-th smallest search distance from point i to all points, by a partial selection.
double brute_kth(const SearchSpace& space, std::size_t i, std::size_t k, std::vector<double>& scratch) {
  scratch.resize(space.size());
  for (std::size_t j = 0; j < space.size(); ++j) scratch[j] = space.search_distance(space.point(i), space.point(j));
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1), scratch.end());
  return scratch[k - 1];
}

}  // namespace

std::vector<double> k_distance(ConstMatrixF X, const KDistanceOptions& options) {
  SPATIALEMBED_CHECK(options.k >= 1 && options.k <= X.rows, InvalidArgument,
                     "k must be in [1, n_samples = {}], got {}", X.rows, options.k);
  SPATIALEMBED_CHECK(options.num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}",
                     options.num_threads);
  const SearchSpace space(X, options.metric, options.num_threads);
  const std::size_t n = space.size(), k = options.k;
  std::vector<double> out(n);
  if (space.is_squared_euclidean() && space.dim() <= kMaxKdTreeDim) {
    const KdTreeIndex tree(space);
    parallel_for(n, options.num_threads, [&](std::size_t i) {
      std::vector<std::uint32_t> index(k);
      std::vector<double> squared(k);
      tree.knn(space.point(i), k, index.data(), squared.data());
      out[i] = space.distance(squared[k - 1]);
    });
  } else {
    parallel_for(n, options.num_threads, [&](std::size_t i) {
      thread_local std::vector<double> scratch;
      out[i] = space.distance(brute_kth(space, i, k, scratch));
    }, 16);
  }
  if (options.sorted) std::sort(out.begin(), out.end());
  return out;
}

double k_distance_knee(VectorView<const double> d) {
  const std::size_t n = d.size();
  SPATIALEMBED_CHECK(n > 0, InvalidArgument, "the k-distance curve is empty");
  for (std::size_t i = 0; i < n; ++i) {
    SPATIALEMBED_CHECK(std::isfinite(d[i]) && d[i] >= 0, InvalidArgument,
                       "k-distance {} at position {} is not a finite distance >= 0", d[i], i);
    SPATIALEMBED_CHECK(i == 0 || d[i] >= d[i - 1], InvalidArgument,
                       "the k-distance curve must be ascending; position {} holds {} after {}", i, d[i], d[i - 1]);
  }
  SPATIALEMBED_CHECK(d[n - 1] > 0, InvalidArgument,
                     "every k-distance is 0 (each point coincides with its k-th neighbour): no eps > 0 to choose");
  const double range = d[n - 1] - d[0];
  if (n < 3 || range <= 0) return d[n - 1];
  std::size_t best = 0;
  double best_gap = -1;
  for (std::size_t i = 0; i < n; ++i) {
    const double gap = static_cast<double>(i) / static_cast<double>(n - 1) - (d[i] - d[0]) / range;
    if (gap > best_gap) best_gap = gap, best = i;
  }
  // The knee may sit on a run of zeros (many duplicates); eps must stay positive.
  while (d[best] <= 0) ++best;
  return d[best];
}

}  // namespace spatialembed
