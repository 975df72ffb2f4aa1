#include "cluster/hdbscan_mst.hpp"

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed::hdbscan_detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

void atomic_min(std::atomic<double>& target, double value) {
  double current = target.load(std::memory_order_relaxed);
  while (value < current && !target.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
  }
}

// A plain disjoint-set forest (the Borůvka rounds merge sequentially).
class UnionFind {
 public:
  explicit UnionFind(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0u); }
  std::uint32_t find(std::uint32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  bool unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (a > b) std::swap(a, b);
    parent_[b] = a;
    return true;
  }

 private:
  std::vector<std::uint32_t> parent_;
};

// ------------------------------------------------------------------ brute force (Prim)

std::vector<double> brute_core_distances(const SearchSpace& space, std::size_t k, int num_threads) {
  const std::size_t n = space.size();
  std::vector<double> core(n);
  constexpr std::size_t kRowsPerTask = 32;
  const std::size_t tasks = (n + kRowsPerTask - 1) / kRowsPerTask;
  parallel_for(tasks, num_threads, [&](std::size_t t) {
    std::vector<double> row(n);
    for (std::size_t i = t * kRowsPerTask; i < std::min(n, (t + 1) * kRowsPerTask); ++i) {
      for (std::size_t j = 0; j < n; ++j) row[j] = space.search_distance(space.point(i), space.point(j));
      std::nth_element(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k - 1), row.end());
      core[i] = space.distance(row[k - 1]);
    }
  }, 1);
  return core;
}

struct PrimCandidate {
  double w = kInf;
  std::uint32_t a = kNone, b = kNone;
  std::size_t slot = 0;  // position in the list of points outside the tree
};

}  // namespace

CoreAndTree brute_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                      const std::function<void()>& core_done) {
  const std::size_t n = space.size();
  CoreAndTree out;
  out.core = brute_core_distances(space, min_samples, num_threads);
  core_done();
  if (n < 2) return out;
  const auto& core = out.core;

  std::vector<double> best_w(n, kInf);
  std::vector<std::uint32_t> best_src(n, kNone);
  std::vector<std::uint32_t> outside(n - 1);
  std::iota(outside.begin(), outside.end(), 1u);
  out.edges.reserve(n - 1);
  std::uint32_t current = 0;

  // Updates the best edge into each point outside the tree with the edges from `current`,
  // and returns the lightest of them (under the total order) over slots [begin, end).
  auto scan = [&](std::size_t begin, std::size_t end) {
    PrimCandidate local;
    const float* pc = space.point(current);
    const double cc = core[current];
    for (std::size_t s = begin; s < end; ++s) {
      const std::uint32_t j = outside[s];
      double w = std::max(cc, core[j]);
      if (w <= best_w[j]) {
        w = std::max(w, metric_distance(space, pc, space.point(j)) / alpha);
        const std::uint32_t a = std::min(current, j), b = std::max(current, j);
        const std::uint32_t src = best_src[j];
        if (src == kNone || edge_less(w, a, b, best_w[j], std::min(src, j), std::max(src, j))) {
          best_w[j] = w;
          best_src[j] = current;
        }
      }
      const std::uint32_t src = best_src[j];
      if (src == kNone) continue;
      const std::uint32_t a = std::min(src, j), b = std::max(src, j);
      if (local.a == kNone || edge_less(best_w[j], a, b, local.w, local.a, local.b)) local = {best_w[j], a, b, s};
    }
    return local;
  };

  constexpr std::size_t kSlotsPerChunk = 4096;
  constexpr std::size_t kParallelWork = std::size_t{1} << 18;  // slots × features worth starting threads for
  const bool threaded = resolve_num_threads(num_threads) > 1;
  std::vector<PrimCandidate> chunk_best;
  for (std::size_t step = 0; step + 1 < n; ++step) {
    const std::size_t m = outside.size();
    PrimCandidate best;
    if (threaded && m * space.dim() >= kParallelWork) {
      const std::size_t chunks = (m + kSlotsPerChunk - 1) / kSlotsPerChunk;
      chunk_best.assign(chunks, PrimCandidate{});
      parallel_for(chunks, num_threads, [&](std::size_t c) {
        chunk_best[c] = scan(c * kSlotsPerChunk, std::min(m, (c + 1) * kSlotsPerChunk));
      }, 1);
      for (const auto& c : chunk_best) {
        if (c.a != kNone && (best.a == kNone || edge_less(c.w, c.a, c.b, best.w, best.a, best.b))) best = c;
      }
    } else {
      best = scan(0, m);
    }
    out.edges.push_back({best.w, best.a, best.b});
    current = outside[best.slot];
    outside[best.slot] = outside.back();
    outside.pop_back();
  }
  return out;
}

// ------------------------------------------------------------------ KD-tree (Borůvka)

namespace {

class KdTree {
 public:
  struct Node {
    std::uint32_t begin, end;
    std::int32_t left = -1, right = -1;  // children, −1 for a leaf
  };

  KdTree(const SearchSpace& space, std::size_t leaf_size)
      : space_(space), n_(space.size()), d_(space.dim()), leaf_size_(leaf_size), order_(space.size()) {
    std::iota(order_.begin(), order_.end(), 0u);
    if (n_ > 0) build(0, static_cast<std::uint32_t>(n_));
    points_.resize(n_ * d_);
    for (std::size_t pos = 0; pos < n_; ++pos) {
      std::copy_n(space.point(order_[pos]), d_, points_.data() + pos * d_);
    }
  }

  std::size_t size() const { return n_; }
  std::size_t num_nodes() const { return nodes_.size(); }
  const Node& node(std::size_t i) const { return nodes_[i]; }
  const float* point(std::size_t pos) const { return points_.data() + pos * d_; }
  std::uint32_t original(std::size_t pos) const { return order_[pos]; }
  double search_distance(std::size_t a, std::size_t b) const { return space_.search_distance(point(a), point(b)); }

  // Lower bound of the search distance from q to any point of the node's box; computed as
  // the distances are (double, dimension by dimension), so it never exceeds them.
  double box_bound(const float* q, std::size_t node) const {
    const float* lo = lo_.data() + node * d_;
    const float* hi = hi_.data() + node * d_;
    double sum = 0.0;
    const bool squared = space_.is_squared_euclidean();
    for (std::size_t k = 0; k < d_; ++k) {
      double diff = 0.0;
      if (q[k] < lo[k]) diff = static_cast<double>(lo[k]) - static_cast<double>(q[k]);
      else if (q[k] > hi[k]) diff = static_cast<double>(q[k]) - static_cast<double>(hi[k]);
      sum += squared ? diff * diff : diff;
    }
    return sum;
  }

  // The k smallest search distances from q (ascending) and their positions.
  void knn(const float* q, std::size_t k, double* dist, std::uint32_t* pos) const {
    std::size_t count = 0;
    knn_visit(0, q, k, dist, pos, count);
  }

 private:
  void knn_visit(std::size_t node, const float* q, std::size_t k, double* dist, std::uint32_t* pos,
                 std::size_t& count) const {
    const Node& nd = nodes_[node];
    if (nd.left < 0) {
      for (std::uint32_t p = nd.begin; p < nd.end; ++p) {
        const double s = space_.search_distance(q, point(p));
        if (count == k && s >= dist[k - 1]) continue;
        std::size_t i = count < k ? count++ : k - 1;
        while (i > 0 && dist[i - 1] > s) {
          dist[i] = dist[i - 1];
          pos[i] = pos[i - 1];
          --i;
        }
        dist[i] = s;
        pos[i] = p;
      }
      return;
    }
    const double bl = box_bound(q, static_cast<std::size_t>(nd.left));
    const double br = box_bound(q, static_cast<std::size_t>(nd.right));
    const auto first = bl <= br ? nd.left : nd.right, second = bl <= br ? nd.right : nd.left;
    const double b2 = std::max(bl, br);
    knn_visit(static_cast<std::size_t>(first), q, k, dist, pos, count);
    if (count < k || b2 < dist[k - 1]) knn_visit(static_cast<std::size_t>(second), q, k, dist, pos, count);
  }

  std::size_t build(std::uint32_t begin, std::uint32_t end) {
    const std::size_t index = nodes_.size();
    nodes_.push_back(Node{begin, end});
    lo_.resize((index + 1) * d_);
    hi_.resize((index + 1) * d_);
    float* lo = lo_.data() + index * d_;
    float* hi = hi_.data() + index * d_;
    std::copy_n(space_.point(order_[begin]), d_, lo);
    std::copy_n(space_.point(order_[begin]), d_, hi);
    for (std::uint32_t i = begin + 1; i < end; ++i) {
      const float* p = space_.point(order_[i]);
      for (std::size_t k = 0; k < d_; ++k) {
        lo[k] = std::min(lo[k], p[k]);
        hi[k] = std::max(hi[k], p[k]);
      }
    }
    if (end - begin <= leaf_size_) return index;
    std::size_t axis = 0;
    float widest = -1.0f;
    for (std::size_t k = 0; k < d_; ++k) {
      if (hi[k] - lo[k] > widest) {
        widest = hi[k] - lo[k];
        axis = k;
      }
    }
    if (!(widest > 0.0f)) return index;  // all points equal
    const std::uint32_t mid = begin + (end - begin) / 2;
    std::nth_element(order_.begin() + begin, order_.begin() + mid, order_.begin() + end,
                     [&](std::uint32_t a, std::uint32_t b) { return space_.point(a)[axis] < space_.point(b)[axis]; });
    const auto left = build(begin, mid);
    const auto right = build(mid, end);
    nodes_[index].left = static_cast<std::int32_t>(left);
    nodes_[index].right = static_cast<std::int32_t>(right);
    return index;
  }

  const SearchSpace& space_;
  std::size_t n_, d_, leaf_size_;
  std::vector<std::uint32_t> order_;  // tree position -> original row
  std::vector<float> points_;         // rows in tree order
  std::vector<Node> nodes_;           // pre-order: children after their parent
  std::vector<float> lo_, hi_;        // bounding boxes, nodes × d
};

struct Candidate {
  double w = kInf;
  std::uint32_t a = kNone, b = kNone;  // original indices, a < b
  std::uint32_t from = kNone, to = kNone;  // tree positions
};

class Boruvka {
 public:
  Boruvka(const SearchSpace& space, std::size_t k, double alpha, int num_threads)
      : space_(space), tree_(space, 32), n_(space.size()), k_(k), alpha_(alpha), num_threads_(num_threads) {}

  std::vector<double> core_distances() {
    core_.assign(n_, 0.0);
    knn_.assign(n_ * k_, 0);
    constexpr std::size_t kPerTask = 256;
    parallel_for((n_ + kPerTask - 1) / kPerTask, num_threads_, [&](std::size_t t) {
      std::vector<double> dist(k_);
      for (std::size_t q = t * kPerTask; q < std::min(n_, (t + 1) * kPerTask); ++q) {
        tree_.knn(tree_.point(q), k_, dist.data(), knn_.data() + q * k_);
        core_[q] = space_.distance(dist[k_ - 1]);
      }
    }, 1);
    std::vector<double> by_row(n_);
    for (std::size_t pos = 0; pos < n_; ++pos) by_row[tree_.original(pos)] = core_[pos];
    return by_row;
  }

  std::vector<MstEdge> spanning_tree() {
    std::vector<MstEdge> edges;
    if (n_ < 2) return edges;
    edges.reserve(n_ - 1);
    const std::size_t nodes = tree_.num_nodes();
    node_min_core_.assign(nodes, kInf);
    for (std::size_t i = nodes; i-- > 0;) {
      const auto& nd = tree_.node(i);
      if (nd.left < 0) {
        for (auto p = nd.begin; p < nd.end; ++p) node_min_core_[i] = std::min(node_min_core_[i], core_[p]);
      } else {
        node_min_core_[i] = std::min(node_min_core_[static_cast<std::size_t>(nd.left)],
                                     node_min_core_[static_cast<std::size_t>(nd.right)]);
      }
    }
    comp_.assign(n_, 0);
    node_comp_.assign(nodes, kNone);
    best_.assign(n_, Candidate{});
    bound_.reset(new std::atomic<double>[n_]);
    std::vector<Candidate> comp_best(n_);
    UnionFind components(n_);

    while (edges.size() + 1 < n_) {
      for (std::uint32_t q = 0; q < n_; ++q) comp_[q] = components.find(q);
      label_nodes();
      for (std::size_t q = 0; q < n_; ++q) bound_[comp_[q]].store(kInf, std::memory_order_relaxed);
      // Seed each point's best edge (and its component's bound) with the previous round's
      // edge if it still leaves the component, and with its k nearest neighbours.
      parallel_for(n_, num_threads_, [&](std::size_t q) { seed(static_cast<std::uint32_t>(q)); }, 256);
      parallel_for(n_, num_threads_, [&](std::size_t q) { search(static_cast<std::uint32_t>(q)); }, 64);

      for (std::size_t q = 0; q < n_; ++q) comp_best[comp_[q]] = Candidate{};
      for (std::size_t q = 0; q < n_; ++q) {
        const Candidate& c = best_[q];
        Candidate& target = comp_best[comp_[q]];
        if (c.from != kNone && (target.from == kNone || edge_less(c.w, c.a, c.b, target.w, target.a, target.b))) target = c;
      }
      std::vector<Candidate> chosen;
      for (std::size_t q = 0; q < n_; ++q) {
        if (comp_[q] == q && comp_best[q].from != kNone) chosen.push_back(comp_best[q]);
      }
      std::sort(chosen.begin(), chosen.end(),
                [](const Candidate& x, const Candidate& y) { return edge_less(x.w, x.a, x.b, y.w, y.a, y.b); });
      const std::size_t before = edges.size();
      for (const auto& c : chosen) {
        if (components.unite(c.from, c.to)) edges.push_back({c.w, c.a, c.b});
      }
      SPATIALEMBED_CHECK(edges.size() > before, Error, "HDBSCAN: Borůvka round added no edge ({} of {})",
                         edges.size(), n_ - 1);
    }
    return edges;
  }

 private:
  void label_nodes() {
    for (std::size_t i = tree_.num_nodes(); i-- > 0;) {
      const auto& nd = tree_.node(i);
      if (nd.left < 0) {
        std::uint32_t c = comp_[nd.begin];
        for (auto p = nd.begin + 1; p < nd.end && c != kNone; ++p) {
          if (comp_[p] != c) c = kNone;
        }
        node_comp_[i] = c;
      } else {
        const auto l = node_comp_[static_cast<std::size_t>(nd.left)], r = node_comp_[static_cast<std::size_t>(nd.right)];
        node_comp_[i] = l == r ? l : kNone;
      }
    }
  }

  double reachability(std::uint32_t q, std::uint32_t p) const {
    return std::max({core_[q], core_[p], space_.distance(tree_.search_distance(q, p)) / alpha_});
  }

  void consider(Candidate& best, std::uint32_t q, std::uint32_t p, double w) const {
    const std::uint32_t oq = tree_.original(q), op = tree_.original(p);
    const std::uint32_t a = std::min(oq, op), b = std::max(oq, op);
    if (best.from == kNone || edge_less(w, a, b, best.w, best.a, best.b)) best = Candidate{w, a, b, q, p};
  }

  void seed(std::uint32_t q) {
    Candidate& best = best_[q];
    const std::uint32_t c = comp_[q];
    if (best.from != kNone && comp_[best.to] == c) best = Candidate{};
    for (std::size_t j = 0; j < k_; ++j) {
      const std::uint32_t p = knn_[q * k_ + j];
      if (comp_[p] != c) consider(best, q, p, reachability(q, p));
    }
    if (best.from != kNone) atomic_min(bound_[c], best.w);
  }

  void search(std::uint32_t q) {
    const std::uint32_t c = comp_[q];
    if (core_[q] > bound_[c].load(std::memory_order_relaxed)) return;  // every edge of q is heavier
    visit(0, core_[q], q, c, best_[q]);
  }

  double node_bound(std::size_t node, const float* qp, double core_q) const {
    const double lb = std::max(core_q, node_min_core_[node]);
    return std::max(lb, space_.distance(tree_.box_bound(qp, node)) / alpha_);
  }

  void visit(std::size_t node, double lower, std::uint32_t q, std::uint32_t c, Candidate& best) {
    if (node_comp_[node] == c) return;
    std::atomic<double>& bound = bound_[c];
    double limit = std::min(best.w, bound.load(std::memory_order_relaxed));
    if (lower > limit) return;
    const auto& nd = tree_.node(node);
    const float* qp = tree_.point(q);
    const double core_q = core_[q];
    if (nd.left < 0) {
      for (auto p = nd.begin; p < nd.end; ++p) {
        if (comp_[p] == c) continue;
        double w = std::max(core_q, core_[p]);
        if (w > limit) continue;
        w = std::max(w, space_.distance(space_.search_distance(qp, tree_.point(p))) / alpha_);
        if (w > limit) continue;
        consider(best, q, p, w);
        if (best.w < limit) {
          limit = best.w;
          atomic_min(bound, limit);
        }
      }
      return;
    }
    const auto l = static_cast<std::size_t>(nd.left), r = static_cast<std::size_t>(nd.right);
    const double bl = node_comp_[l] == c ? kInf : node_bound(l, qp, core_q);
    const double br = node_comp_[r] == c ? kInf : node_bound(r, qp, core_q);
    if (bl <= br) {
      visit(l, bl, q, c, best);
      visit(r, br, q, c, best);
    } else {
      visit(r, br, q, c, best);
      visit(l, bl, q, c, best);
    }
  }

  const SearchSpace& space_;
  KdTree tree_;
  std::size_t n_, k_;
  double alpha_;
  int num_threads_;
  std::vector<double> core_;               // by tree position
  std::vector<std::uint32_t> knn_;         // k nearest positions of each position
  std::vector<double> node_min_core_;
  std::vector<std::uint32_t> comp_;        // component (root position) of each position
  std::vector<std::uint32_t> node_comp_;   // the component of all points of a node, or kNone
  std::vector<Candidate> best_;            // lightest edge found from each position
  std::unique_ptr<std::atomic<double>[]> bound_;  // per component: weight of some edge leaving it
};

}  // namespace

CoreAndTree kdtree_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                       const std::function<void()>& core_done) {
  Boruvka boruvka(space, min_samples, alpha, num_threads);
  CoreAndTree out;
  out.core = boruvka.core_distances();
  core_done();
  out.edges = boruvka.spanning_tree();
  return out;
}

}  // namespace spatialembed::hdbscan_detail
