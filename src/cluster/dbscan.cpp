#include "spatialembed/cluster/dbscan.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cluster/union_find.hpp"
#include "neighbors/grid_index.hpp"
#include "neighbors/kdtree_index.hpp"
#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

DbscanAlgorithm parse_dbscan_algorithm(const std::string& name) {
  if (name == "auto") return DbscanAlgorithm::automatic;
  if (name == "grid") return DbscanAlgorithm::grid;
  if (name == "kdtree" || name == "kd_tree") return DbscanAlgorithm::kdtree;
  if (name == "brute") return DbscanAlgorithm::brute;
  detail::raise<InvalidArgument>("algorithm must be one of 'auto', 'grid', 'kdtree', 'brute', got '{}'", name);
}

const char* to_string(DbscanAlgorithm algorithm) {
  switch (algorithm) {
    case DbscanAlgorithm::automatic: return "auto";
    case DbscanAlgorithm::grid: return "grid";
    case DbscanAlgorithm::kdtree: return "kdtree";
    case DbscanAlgorithm::brute: return "brute";
  }
  return "unknown";
}

void DbscanOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(eps) && eps > 0, InvalidArgument, "eps must be finite and > 0, got {}", eps);
  SPATIALEMBED_CHECK(min_samples >= 1, InvalidArgument, "min_samples must be >= 1, got {}", min_samples);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}",
                     num_threads);
  SPATIALEMBED_CHECK(metric != Metric::manhattan, InvalidArgument,
                     "DBSCAN metric must be 'euclidean', 'cosine' or 'correlation', got '{}'", to_string(metric));
}

namespace {

constexpr std::size_t kPhases = 3;
constexpr std::size_t kMaxKdTreeDim = 16;

// Per-point weights; all ones when the caller gave none.
class Weights {
 public:
  Weights(VectorView<const double> w, std::size_t n) : w_(w) {
    SPATIALEMBED_CHECK(w.empty() || w.size() == n, InvalidArgument,
                       "sample_weight has {} entries but there are {} samples", w.size(), n);
    for (std::size_t i = 0; i < w.size(); ++i) {
      SPATIALEMBED_CHECK(std::isfinite(w[i]), InvalidArgument, "sample_weight[{}] = {} is not finite", i, w[i]);
      any_negative_ = any_negative_ || w[i] < 0;
    }
  }
  double operator[](std::size_t i) const { return w_.empty() ? 1.0 : w_[i]; }
  // With no negative weight a running count that reached min_samples stays there.
  bool can_stop_early() const { return !any_negative_; }

 private:
  VectorView<const double> w_;
  bool any_negative_ = false;
};

class Phases {
 public:
  explicit Phases(const ProgressCallback& callback) : callback_(callback) {}
  void done(std::size_t phase) const {
    if (callback_ && !callback_(phase, kPhases)) throw Cancelled("DBSCAN cancelled by its progress callback");
  }

 private:
  const ProgressCallback& callback_;
};

DbscanResult empty_result(DbscanAlgorithm algorithm) {
  DbscanResult result;
  result.algorithm = algorithm;
  return result;
}

// ------------------------------------------------------------------ grid (low dimension)
//
// Cell-level DBSCAN: all points of a cell are within eps of each other, so a cell whose
// weight reaches min_samples is all core, the core points of a cell form one cluster, and
// two cells join when any pair of their core points is within eps.
class GridDbscan {
 public:
  GridDbscan(const SearchSpace& space, double squared_radius, std::int64_t min_samples, const Weights& w,
             int num_threads)
      : space_(space), r2_(squared_radius), min_samples_(static_cast<double>(min_samples)), w_(w),
        grid_(space, squared_radius, num_threads) {}

  DbscanResult run(int num_threads, const Phases& phases) {
    const std::size_t n = space_.size(), cells = grid_.num_cells();
    DbscanResult result;
    result.algorithm = DbscanAlgorithm::grid;
    result.core_sample_mask.assign(n, 0);
    cell_has_core_.assign(cells, 0);
    cell_weight_.assign(cells, 0.0);
    parallel_for(cells, num_threads, [&](std::size_t c) {
      for (const auto p : grid_.cell_points(c)) cell_weight_[c] += w_[p];
    }, 256);
    for_each_cell(num_threads, [&](std::size_t c, const Cells& neighbors) {
      mark_core(c, neighbors, result.core_sample_mask);
    });
    phases.done(1);

    ConcurrentUnionFind components(cells);
    for_each_cell(num_threads, [&](std::size_t c, const Cells& neighbors) {
      join_cells(c, neighbors, result.core_sample_mask, components);
    });
    phases.done(2);

    result.labels.assign(n, -1);
    std::vector<std::int32_t> cluster_of_root(cells, -1);
    for (std::size_t i = 0; i < n; ++i) {
      if (!result.core_sample_mask[i]) continue;
      auto& cluster = cluster_of_root[components.find(grid_.cell_of(i))];
      if (cluster < 0) cluster = result.n_clusters++;
      result.labels[i] = cluster;
    }
    cell_cluster_.assign(cells, -1);
    for (std::size_t c = 0; c < cells; ++c) {
      if (cell_has_core_[c]) cell_cluster_[c] = cluster_of_root[components.find(static_cast<std::uint32_t>(c))];
    }
    for_each_cell(num_threads, [&](std::size_t c, const Cells& neighbors) { label_border(c, neighbors, result); });
    phases.done(3);
    return result;
  }

 private:
  using Cells = std::vector<std::uint32_t>;

  // Calls fn(cell, its neighbour cells) for every cell, blocks of rows spread over the threads.
  template <class F>
  void for_each_cell(int num_threads, F&& fn) const {
    constexpr std::size_t kRowsPerTask = 16;
    const std::size_t rows = grid_.num_rows(), tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
    parallel_for(tasks, num_threads, [&](std::size_t t) {
      grid_.for_each_cell_in_rows(t * kRowsPerTask, std::min(rows, (t + 1) * kRowsPerTask), fn);
    }, 1);
  }

  void mark_core(std::size_t c, const Cells& neighbors, std::vector<std::uint8_t>& core) {
    const auto points = grid_.cell_points(c);
    const double own = cell_weight_[c];
    if (w_.can_stop_early() && own >= min_samples_) {
      for (const auto p : points) core[p] = 1;
      cell_has_core_[c] = 1;
      return;
    }
    for (const auto p : points) {
      double count = own;  // the whole own cell lies within eps
      for (const auto c2 : neighbors) {
        if (c2 == c) continue;
        if (w_.can_stop_early() && count >= min_samples_) break;
        const auto reach = grid_.reach(space_.point(p), c2);
        if (reach.near > r2_) continue;
        if (reach.far <= r2_) {
          count += cell_weight_[c2];
          continue;
        }
        for (const auto q : grid_.cell_points(c2)) {
          if (squared_distance(space_.point(p), space_.point(q), space_.dim()) <= r2_) count += w_[q];
        }
      }
      if (count >= min_samples_) {
        core[p] = 1;
        cell_has_core_[c] = 1;
      }
    }
  }

  // Whether core point p has a core point of cell c within eps (c must hold core points).
  bool reaches_core_of(std::uint32_t p, std::size_t c, const std::vector<std::uint8_t>& core) const {
    const auto reach = grid_.reach(space_.point(p), c);
    if (reach.near > r2_) return false;
    if (reach.far <= r2_) return true;
    for (const auto q : grid_.cell_points(c)) {
      if (core[q] && squared_distance(space_.point(p), space_.point(q), space_.dim()) <= r2_) return true;
    }
    return false;
  }

  bool core_pair_within_eps(std::size_t a, std::size_t b, const std::vector<std::uint8_t>& core) const {
    for (const auto p : grid_.cell_points(a)) {
      if (core[p] && reaches_core_of(p, b, core)) return true;
    }
    return false;
  }

  void join_cells(std::size_t c, const Cells& neighbors, const std::vector<std::uint8_t>& core,
                  ConcurrentUnionFind& components) const {
    if (!cell_has_core_[c]) return;
    const auto a = static_cast<std::uint32_t>(c);
    for (const auto b : neighbors) {
      if (b <= a || !cell_has_core_[b] || components.find(a) == components.find(b)) continue;
      if (core_pair_within_eps(a, b, core)) components.unite(a, b);
    }
  }

  // A non-core point takes the lowest cluster among core points within eps: try the
  // neighbouring cells in increasing cluster order and stop at the first hit.
  void label_border(std::size_t c, const Cells& neighbor_cells, DbscanResult& result) const {
    const auto points = grid_.cell_points(c);
    const bool has_border = std::any_of(points.begin(), points.end(), [&](std::uint32_t p) {
      return !result.core_sample_mask[p];
    });
    if (!has_border) return;
    auto neighbors = neighbor_cells;
    neighbors.erase(std::remove_if(neighbors.begin(), neighbors.end(),
                                   [&](std::uint32_t c2) { return !cell_has_core_[c2]; }),
                    neighbors.end());
    std::sort(neighbors.begin(), neighbors.end(), [&](std::uint32_t x, std::uint32_t y) {
      return cell_cluster_[x] < cell_cluster_[y];
    });
    for (const auto p : points) {
      if (result.core_sample_mask[p]) continue;
      for (const auto c2 : neighbors) {
        if (c2 == c || reaches_core_of(p, c2, result.core_sample_mask)) {
          result.labels[p] = cell_cluster_[c2];
          break;
        }
      }
    }
  }

  const SearchSpace& space_;
  double r2_;
  double min_samples_;
  const Weights& w_;
  GridIndex grid_;
  std::vector<double> cell_weight_;
  std::vector<std::uint8_t> cell_has_core_;
  std::vector<std::int32_t> cell_cluster_;
};

// ------------------------------------------------------------------ point-level (kdtree, brute)
//
// Neighbour sources visit, for a tile of query points, every (query, neighbour) pair within
// eps: visit(queries, count, f) calls f(slot, j) where queries[slot] is the query. f returns
// false when it needs no more neighbours of that query (a hint; brute force ignores it).
struct KdTreeNeighbors {
  static constexpr std::size_t tile = 16;
  const SearchSpace& space;
  const KdTreeIndex& tree;
  double r2;

  template <class F>
  void visit(const std::uint32_t* queries, std::size_t count, F&& f) const {
    for (std::size_t slot = 0; slot < count; ++slot) {
      tree.radius_visit(space.point(queries[slot]), r2, [&](std::uint32_t j, double) { return f(slot, j); });
    }
  }
};

struct BruteNeighbors {
  static constexpr std::size_t tile = 32;  // query rows kept in cache while all points stream by
  const SearchSpace& space;
  double r2;

  template <class F>
  void visit(const std::uint32_t* queries, std::size_t count, F&& f) const {
    const std::size_t d = space.dim();
    for (std::size_t j = 0; j < space.size(); ++j) {
      const float* pj = space.point(j);
      for (std::size_t slot = 0; slot < count; ++slot) {
        if (squared_distance(space.point(queries[slot]), pj, d) <= r2) f(slot, static_cast<std::uint32_t>(j));
      }
    }
  }
};

// Runs fn(queries + begin, count) over tiles of `queries` in parallel.
template <class Neighbors, class F>
void for_each_tile(const std::vector<std::uint32_t>& queries, int num_threads, F&& fn) {
  const std::size_t tiles = (queries.size() + Neighbors::tile - 1) / Neighbors::tile;
  parallel_for(tiles, num_threads, [&](std::size_t t) {
    const std::size_t begin = t * Neighbors::tile;
    fn(queries.data() + begin, std::min(Neighbors::tile, queries.size() - begin));
  }, 1);
}

template <class Neighbors>
DbscanResult dbscan_points(const Neighbors& neighbors, std::size_t n, std::int64_t min_samples_int,
                           const Weights& w, int num_threads, const Phases& phases, DbscanAlgorithm algorithm) {
  const double min_samples = static_cast<double>(min_samples_int);
  DbscanResult result;
  result.algorithm = algorithm;
  auto& core = result.core_sample_mask;
  core.assign(n, 0);

  std::vector<std::uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0u);
  for_each_tile<Neighbors>(all, num_threads, [&](const std::uint32_t* queries, std::size_t count) {
    std::vector<double> weight(count, 0.0);
    neighbors.visit(queries, count, [&](std::size_t slot, std::uint32_t j) {
      weight[slot] += w[j];
      return !w.can_stop_early() || weight[slot] < min_samples;
    });
    for (std::size_t slot = 0; slot < count; ++slot) core[queries[slot]] = weight[slot] >= min_samples;
  });
  phases.done(1);

  std::vector<std::uint32_t> core_points, border_candidates;
  for (std::uint32_t i = 0; i < n; ++i) (core[i] ? core_points : border_candidates).push_back(i);
  all = {};
  ConcurrentUnionFind components(n);
  for_each_tile<Neighbors>(core_points, num_threads, [&](const std::uint32_t* queries, std::size_t count) {
    neighbors.visit(queries, count, [&](std::size_t slot, std::uint32_t j) {
      if (core[j] && j < queries[slot]) components.unite(queries[slot], j);
      return true;
    });
  });
  phases.done(2);

  // A component's root is its lowest-index core point, so numbering roots in index order
  // numbers clusters as scikit-learn does.
  result.labels.assign(n, -1);
  for (const auto i : core_points) {
    const auto root = components.find(i);
    result.labels[i] = root == i ? result.n_clusters++ : result.labels[root];
  }
  for_each_tile<Neighbors>(border_candidates, num_threads, [&](const std::uint32_t* queries, std::size_t count) {
    std::vector<std::int32_t> best(count, -1);
    neighbors.visit(queries, count, [&](std::size_t slot, std::uint32_t j) {
      if (core[j] && (best[slot] < 0 || result.labels[j] < best[slot])) best[slot] = result.labels[j];
      return true;
    });
    for (std::size_t slot = 0; slot < count; ++slot) result.labels[queries[slot]] = best[slot];
  });
  phases.done(3);
  return result;
}

DbscanAlgorithm choose_algorithm(DbscanAlgorithm requested, const SearchSpace& space, double r2) {
  if (requested != DbscanAlgorithm::automatic) return requested;
  if (space.dim() <= 3 && GridIndex::fits(space, r2)) return DbscanAlgorithm::grid;
  return space.dim() <= kMaxKdTreeDim ? DbscanAlgorithm::kdtree : DbscanAlgorithm::brute;
}

}  // namespace

DBSCAN::DBSCAN(DbscanOptions options) : options_(std::move(options)) { options_.validate(); }

DbscanResult DBSCAN::fit(ConstMatrixF X, VectorView<const double> sample_weight) const {
  const Weights w(sample_weight, X.rows);
  const SearchSpace space(X, options_.metric, options_.num_threads);
  const double r2 = space.squared_radius(options_.eps);
  const auto algorithm = choose_algorithm(options_.algorithm, space, r2);
  if (X.rows == 0) return empty_result(algorithm);
  const Phases phases(options_.progress);
  switch (algorithm) {
    case DbscanAlgorithm::grid: {
      GridDbscan grid(space, r2, options_.min_samples, w, options_.num_threads);
      return grid.run(options_.num_threads, phases);
    }
    case DbscanAlgorithm::kdtree: {
      const KdTreeIndex tree(space);
      return dbscan_points(KdTreeNeighbors{space, tree, r2}, X.rows, options_.min_samples, w, options_.num_threads,
                           phases, algorithm);
    }
    default:
      return dbscan_points(BruteNeighbors{space, r2}, X.rows, options_.min_samples, w, options_.num_threads,
                           phases, DbscanAlgorithm::brute);
  }
}

// scikit-learn's own procedure (sklearn/cluster/_dbscan_inner.pyx): a depth-first
// expansion from each unlabelled core point in index order. It is exact for directed
// graphs too, and the graph itself is the neighbourhood store, so memory stays O(n).
DbscanResult DBSCAN::fit(const CsrGraph& graph, VectorView<const double> sample_weight) const {
  graph.validate();
  const std::size_t n = graph.n;
  const Weights w(sample_weight, n);
  const double eps = options_.eps, min_samples = static_cast<double>(options_.min_samples);
  const Phases phases(options_.progress);
  DbscanResult result;
  result.algorithm = DbscanAlgorithm::brute;
  result.core_sample_mask.assign(n, 0);

  // sklearn stores an explicit zero diagonal where the graph has none, so a point is its
  // own neighbour unless its row stores a self-distance above eps.
  auto for_each_neighbor = [&](std::size_t i, auto&& fn) {
    bool self_stored = false;
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) {
      const auto j = static_cast<std::size_t>(graph.indices[e]);
      self_stored = self_stored || j == i;
      if (graph.distances[e] <= eps) fn(j);
    }
    if (!self_stored) fn(i);
  };
  parallel_for(n, options_.num_threads, [&](std::size_t i) {
    double weight = 0.0;
    for_each_neighbor(i, [&](std::size_t j) { weight += w[j]; });
    result.core_sample_mask[i] = weight >= min_samples;
  }, 256);
  phases.done(1);

  result.labels.assign(n, -1);
  std::vector<std::size_t> stack;
  for (std::size_t start = 0; start < n; ++start) {
    if (result.labels[start] != -1 || !result.core_sample_mask[start]) continue;
    stack.push_back(start);
    while (!stack.empty()) {
      const std::size_t i = stack.back();
      stack.pop_back();
      if (result.labels[i] != -1) continue;
      result.labels[i] = result.n_clusters;
      if (!result.core_sample_mask[i]) continue;
      for_each_neighbor(i, [&](std::size_t j) {
        if (result.labels[j] == -1) stack.push_back(j);
      });
    }
    ++result.n_clusters;
  }
  phases.done(2);
  phases.done(3);
  return result;
}

}  // namespace spatialembed
