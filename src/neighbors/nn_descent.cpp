#include "spatialembed/neighbors/nn_descent.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"

namespace spatialembed {

namespace {

constexpr std::size_t kJoinBatch = 4096;  // vertices whose updates are generated before applying them
constexpr std::size_t kJoinTask = 64;

// Per-point bounded max-heaps of (distance, index, is-new), stored flat: n × k.
class NeighborHeaps {
 public:
  NeighborHeaps(std::size_t n, std::size_t k)
      : k_(k), index_(n * k, -1), dist_(n * k, std::numeric_limits<float>::infinity()), is_new_(n * k, 0) {}

  std::size_t k() const { return k_; }
  float worst(std::size_t i) const { return dist_[i * k_]; }
  std::int32_t index(std::size_t i, std::size_t slot) const { return index_[i * k_ + slot]; }
  float dist(std::size_t i, std::size_t slot) const { return dist_[i * k_ + slot]; }
  bool is_new(std::size_t i, std::size_t slot) const { return is_new_[i * k_ + slot] != 0; }
  void mark_old(std::size_t i, std::size_t slot) { is_new_[i * k_ + slot] = 0; }

  /// Inserts j into i's heap unless it is there already or not closer than the worst;
  /// returns whether the heap changed. Ordered by (distance, index), so the final content
  /// does not depend on the order of the pushes.
  bool push(std::size_t i, std::int32_t j, float d, bool is_new) {
    const std::size_t base = i * k_;
    if (std::make_pair(d, j) >= std::make_pair(dist_[base], index_[base])) return false;
    for (std::size_t s = 0; s < k_; ++s) {
      if (index_[base + s] == j) return false;
    }
    // Replace the root and sift down.
    auto key = [&](std::size_t s) { return std::make_pair(dist_[base + s], index_[base + s]); };
    const auto item = std::make_pair(d, j);
    std::size_t pos = 0;
    for (;;) {
      const std::size_t left = 2 * pos + 1, right = left + 1;
      if (left >= k_) break;
      const std::size_t child = right < k_ && key(right) > key(left) ? right : left;
      if (key(child) <= item) break;
      dist_[base + pos] = dist_[base + child];
      index_[base + pos] = index_[base + child];
      is_new_[base + pos] = is_new_[base + child];
      pos = child;
    }
    dist_[base + pos] = d;
    index_[base + pos] = j;
    is_new_[base + pos] = is_new ? 1 : 0;
    return true;
  }

 private:
  std::size_t k_;
  std::vector<std::int32_t> index_;
  std::vector<float> dist_;
  std::vector<std::uint8_t> is_new_;
};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t state = a ^ (b * 0x9E3779B97F4A7C15ULL);
  return splitmix64(state);
}

// ------------------------------------------------------------------ random projection trees

// Splits `points` recursively by random hyperplanes until leaves hold ≤ leaf_size points.
void build_leaves(const SearchSpace& space, std::vector<std::uint32_t> points, std::size_t leaf_size, Rng& rng,
                  std::vector<std::vector<std::uint32_t>>& leaves) {
  std::vector<std::vector<std::uint32_t>> stack{std::move(points)};
  const std::size_t d = space.dim();
  std::vector<float> normal(d), midpoint(d);
  while (!stack.empty()) {
    auto node = std::move(stack.back());
    stack.pop_back();
    if (node.size() <= leaf_size) {
      leaves.push_back(std::move(node));
      continue;
    }
    const auto a = node[rng.below(node.size())];
    auto b = node[rng.below(node.size())];
    if (b == a) b = node[(std::find(node.begin(), node.end(), a) - node.begin() + 1) % node.size()];
    for (std::size_t k = 0; k < d; ++k) {
      normal[k] = space.point(a)[k] - space.point(b)[k];
      midpoint[k] = 0.5f * (space.point(a)[k] + space.point(b)[k]);
    }
    const float offset = dot_f32(normal.data(), midpoint.data(), d);
    std::vector<std::uint32_t> left, right;
    for (const auto p : node) {
      const float side = dot_f32(normal.data(), space.point(p), d) - offset;
      (side > 0 || (side == 0 && rng.below(2) == 0) ? left : right).push_back(p);
    }
    if (left.empty() || right.empty()) {  // duplicates or a degenerate plane: halve at random
      std::shuffle(node.begin(), node.end(), rng);
      left.assign(node.begin(), node.begin() + static_cast<std::ptrdiff_t>(node.size() / 2));
      right.assign(node.begin() + static_cast<std::ptrdiff_t>(node.size() / 2), node.end());
    }
    stack.push_back(std::move(left));
    stack.push_back(std::move(right));
  }
}

void init_from_trees(const SearchSpace& space, NeighborHeaps& heaps, const NnDescentOptions& o, std::size_t n_trees,
                     std::size_t leaf_size) {
  const std::size_t n = space.size();
  std::vector<std::vector<std::vector<std::uint32_t>>> forest(n_trees);
  parallel_for(n_trees, o.num_threads, [&](std::size_t t) {
    Rng rng(o.seed, 0x7EE00000ULL + t);
    std::vector<std::uint32_t> all(n);
    std::iota(all.begin(), all.end(), 0u);
    build_leaves(space, std::move(all), leaf_size, rng, forest[t]);
  }, 1);
  // Each point is in one leaf per tree, so leaves of one tree can update heaps in parallel.
  for (const auto& leaves : forest) {
    parallel_for(leaves.size(), o.num_threads, [&](std::size_t l) {
      const auto& leaf = leaves[l];
      for (std::size_t x = 0; x < leaf.size(); ++x) {
        for (std::size_t y = x + 1; y < leaf.size(); ++y) {
          const float d = space.fast_search_distance(space.point(leaf[x]), space.point(leaf[y]));
          heaps.push(leaf[x], static_cast<std::int32_t>(leaf[y]), d, true);
          heaps.push(leaf[y], static_cast<std::int32_t>(leaf[x]), d, true);
        }
      }
    }, 16);
  }
}

// ------------------------------------------------------------------ NN-descent iterations

struct Candidates {
  std::vector<std::int32_t> fresh, old;  // n × max_candidates, −1 = empty
};

// Keeps the `m` entries of smallest priority: a small sorted insertion per vertex.
void keep(std::vector<std::pair<std::uint64_t, std::int32_t>>& list, std::size_t m, std::uint64_t priority,
          std::int32_t j) {
  for (const auto& [p, x] : list) {
    if (x == j) return;
  }
  if (list.size() == m && priority >= list.back().first) return;
  const auto at = std::upper_bound(list.begin(), list.end(), std::make_pair(priority, j));
  list.insert(at, {priority, j});
  if (list.size() > m) list.pop_back();
}

Candidates sample_candidates(NeighborHeaps& heaps, std::size_t n, std::size_t m, std::uint64_t seed,
                             std::size_t iteration, int num_threads) {
  const std::size_t k = heaps.k();
  // Reverse edges (i → j in heap(i) gives j ← i), grouped by j in increasing i: CSR.
  std::vector<std::size_t> start(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t s = 0; s < k; ++s) {
      if (heaps.index(i, s) >= 0) ++start[static_cast<std::size_t>(heaps.index(i, s)) + 1];
    }
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::pair<std::int32_t, std::uint8_t>> reverse(start[n]);
  std::vector<std::size_t> fill(start.begin(), start.end() - 1);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t s = 0; s < k; ++s) {
      const auto j = heaps.index(i, s);
      if (j >= 0) reverse[fill[static_cast<std::size_t>(j)]++] = {static_cast<std::int32_t>(i), heaps.is_new(i, s)};
    }
  }

  Candidates c{std::vector<std::int32_t>(n * m, -1), std::vector<std::int32_t>(n * m, -1)};
  parallel_for(n, num_threads, [&](std::size_t i) {
    std::vector<std::pair<std::uint64_t, std::int32_t>> fresh, old;
    auto consider = [&](std::int32_t j, bool is_new) {
      if (j < 0 || static_cast<std::size_t>(j) == i) return;
      const auto lo = std::min<std::uint64_t>(i, static_cast<std::uint64_t>(j));
      const auto hi = std::max<std::uint64_t>(i, static_cast<std::uint64_t>(j));
      keep(is_new ? fresh : old, m, mix(mix(seed, iteration), lo * 0x100000001ULL + hi), j);
    };
    for (std::size_t s = 0; s < k; ++s) consider(heaps.index(i, s), heaps.is_new(i, s));
    for (auto r = start[i]; r < start[i + 1]; ++r) consider(reverse[r].first, reverse[r].second != 0);
    for (std::size_t x = 0; x < fresh.size(); ++x) c.fresh[i * m + x] = fresh[x].second;
    for (std::size_t x = 0; x < old.size(); ++x) c.old[i * m + x] = old[x].second;
    // Sampled new neighbours are old from now on.
    for (std::size_t s = 0; s < k; ++s) {
      if (heaps.is_new(i, s) &&
          std::any_of(fresh.begin(), fresh.end(), [&](const auto& f) { return f.second == heaps.index(i, s); })) {
        heaps.mark_old(i, s);
      }
    }
  }, 64);
  return c;
}

struct Update {
  std::int32_t p, q;
  float d;
};

std::size_t local_join(const SearchSpace& space, NeighborHeaps& heaps, const Candidates& c, std::size_t m,
                       int num_threads) {
  const std::size_t n = space.size();
  std::size_t changed = 0;
  for (std::size_t batch = 0; batch < n; batch += kJoinBatch) {
    const std::size_t end = std::min(n, batch + kJoinBatch);
    const std::size_t tasks = (end - batch + kJoinTask - 1) / kJoinTask;
    std::vector<std::vector<Update>> updates(tasks);
    parallel_for(tasks, num_threads, [&](std::size_t t) {
      auto emit = [&](std::int32_t p, std::int32_t q) {
        const float d = space.fast_search_distance(space.point(static_cast<std::size_t>(p)),
                                                   space.point(static_cast<std::size_t>(q)));
        if (d < heaps.worst(static_cast<std::size_t>(p)) || d < heaps.worst(static_cast<std::size_t>(q))) {
          updates[t].push_back({p, q, d});
        }
      };
      for (std::size_t v = batch + t * kJoinTask; v < std::min(end, batch + (t + 1) * kJoinTask); ++v) {
        const std::int32_t* fresh = c.fresh.data() + v * m;
        const std::int32_t* old = c.old.data() + v * m;
        for (std::size_t x = 0; x < m && fresh[x] >= 0; ++x) {
          for (std::size_t y = x + 1; y < m && fresh[y] >= 0; ++y) emit(fresh[x], fresh[y]);
          for (std::size_t y = 0; y < m && old[y] >= 0; ++y) {
            if (old[y] != fresh[x]) emit(fresh[x], old[y]);
          }
        }
      }
    }, 1);
    // Apply in task order; each target's heap is touched by one thread only.
    const auto threads = static_cast<std::size_t>(resolve_num_threads(num_threads));
    std::vector<std::size_t> counts(threads, 0);
    parallel_for(threads, num_threads, [&](std::size_t owner) {
      auto mine = [&](std::int32_t v) { return static_cast<std::size_t>(v) % threads == owner; };
      for (const auto& list : updates) {
        for (const auto& u : list) {
          if (mine(u.p)) counts[owner] += heaps.push(static_cast<std::size_t>(u.p), u.q, u.d, true);
          if (mine(u.q)) counts[owner] += heaps.push(static_cast<std::size_t>(u.q), u.p, u.d, true);
        }
      }
    }, 1);
    changed += std::accumulate(counts.begin(), counts.end(), std::size_t{0});
  }
  return changed;
}

}  // namespace

KnnGraph nn_descent(ConstMatrixF X, const NnDescentOptions& o) {
  SPATIALEMBED_CHECK(o.k >= 1 && o.k <= X.rows, InvalidArgument, "k (n_neighbors) must be in [1, n_samples = {}], got {}",
                     X.rows, o.k);
  SPATIALEMBED_CHECK(o.max_candidates >= 1, InvalidArgument, "max_candidates must be >= 1, got {}", o.max_candidates);
  SPATIALEMBED_CHECK(o.delta >= 0, InvalidArgument, "delta must be >= 0, got {}", o.delta);
  const SearchSpace space(X, o.metric, o.num_threads);
  const std::size_t n = space.size(), k = o.k;
  const auto n_trees = o.n_trees ? o.n_trees
                                 : std::min<std::size_t>(64, 5 + static_cast<std::size_t>(std::round(std::sqrt(n) / 20.0)));
  const auto leaf_size = o.leaf_size ? o.leaf_size : std::max<std::size_t>(10, k);
  const auto n_iters = o.n_iters ? o.n_iters : std::max<std::size_t>(5, static_cast<std::size_t>(std::round(std::log2(n))));

  NeighborHeaps heaps(n, k);
  for (std::size_t i = 0; i < n; ++i) heaps.push(i, static_cast<std::int32_t>(i), 0.0f, false);
  init_from_trees(space, heaps, o, n_trees, leaf_size);
  for (std::size_t iteration = 0; iteration < n_iters; ++iteration) {
    const auto candidates = sample_candidates(heaps, n, o.max_candidates, o.seed, iteration, o.num_threads);
    const auto changed = local_join(space, heaps, candidates, o.max_candidates, o.num_threads);
    if (static_cast<double>(changed) <= o.delta * static_cast<double>(n * k)) break;
  }

  KnnGraph graph;
  graph.n = n;
  graph.k = k;
  graph.indices.resize(n * k);
  graph.distances.resize(n * k);
  parallel_for(n, o.num_threads, [&](std::size_t i) {
    // Final order and distances from float64 arithmetic.
    std::vector<std::tuple<double, bool, std::int32_t>> row;
    for (std::size_t s = 0; s < k; ++s) {
      const auto j = heaps.index(i, s);
      row.emplace_back(j < 0 ? HUGE_VAL
                             : space.blocked_search_distance(space.point(i), space.point(static_cast<std::size_t>(j))),
                       !(j >= 0 && static_cast<std::size_t>(j) == i), j);
    }
    std::sort(row.begin(), row.end());
    for (std::size_t s = 0; s < k; ++s) {
      const auto [d, not_self, j] = row[s];
      graph.indices[i * k + s] = j;
      graph.distances[i * k + s] = j < 0 ? 0.0f : static_cast<float>(space.distance(d));
    }
  }, 256);
  return graph;
}

}  // namespace spatialembed
