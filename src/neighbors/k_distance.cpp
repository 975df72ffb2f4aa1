#include "spatialembed/neighbors/k_distance.hpp"

#include <algorithm>

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

}  // namespace spatialembed
