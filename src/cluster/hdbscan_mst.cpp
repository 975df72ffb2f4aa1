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

// The search distance (squared euclidean or L1, in double from exact float differences,
// dimension by dimension, as SearchSpace::search_distance computes it) with the number of
// features fixed at compile time when D > 0, so the loops unroll.
template <std::size_t D, bool Squared>
struct Kernel {
  std::size_t d;
  std::size_t dim() const { return D > 0 ? D : d; }
  static double term(double diff) { return Squared ? diff * diff : std::abs(diff); }
  double distance(const float* a, const float* b) const {
    double sum = 0.0;
    for (std::size_t k = 0; k < dim(); ++k) sum += term(static_cast<double>(a[k]) - static_cast<double>(b[k]));
    return sum;
  }
};

template <class K>
class KdTree {
 public:
  struct Node {
    std::uint32_t begin, end;
    std::int32_t left = -1, right = -1;  // children, −1 for a leaf
  };

  KdTree(const SearchSpace& space, std::size_t leaf_size)
      : space_(space), kernel_{space.dim()}, n_(space.size()), d_(space.dim()), leaf_size_(leaf_size),
        order_(space.size()) {
    std::iota(order_.begin(), order_.end(), 0u);
    points_.resize(n_ * d_);
    for (std::size_t i = 0; i < n_; ++i) std::copy_n(space.point(i), d_, points_.data() + i * d_);
    if (n_ > 0) build(0, static_cast<std::uint32_t>(n_));
  }

  std::size_t size() const { return n_; }
  std::size_t num_nodes() const { return nodes_.size(); }
  const Node& node(std::size_t i) const { return nodes_[i]; }
  const float* point(std::size_t pos) const { return points_.data() + pos * d_; }
  std::uint32_t original(std::size_t pos) const { return order_[pos]; }
  double search_distance(std::size_t a, std::size_t b) const { return kernel_.distance(point(a), point(b)); }
  double search_distance(const float* a, std::size_t b) const { return kernel_.distance(a, point(b)); }

  // Lower bound of the search distance from q to any point of the node's box; computed as
  // the distances are (double, dimension by dimension), so it never exceeds them.
  double box_bound(const float* q, std::size_t node) const {
    const float* lo = lo_.data() + node * d_;
    const float* hi = hi_.data() + node * d_;
    double sum = 0.0;
    for (std::size_t k = 0; k < kernel_.dim(); ++k) {
      double diff = 0.0;
      if (q[k] < lo[k]) diff = static_cast<double>(lo[k]) - static_cast<double>(q[k]);
      else if (q[k] > hi[k]) diff = static_cast<double>(q[k]) - static_cast<double>(hi[k]);
      sum += K::term(diff);
    }
    return sum;
  }

  // Lower bound of the search distance between any point of box a and any point of box b.
  double box_box_bound(std::size_t a, std::size_t b) const {
    const float* alo = lo_.data() + a * d_;
    const float* ahi = hi_.data() + a * d_;
    const float* blo = lo_.data() + b * d_;
    const float* bhi = hi_.data() + b * d_;
    double sum = 0.0;
    for (std::size_t k = 0; k < kernel_.dim(); ++k) {
      double diff = 0.0;
      if (bhi[k] < alo[k]) diff = static_cast<double>(alo[k]) - static_cast<double>(bhi[k]);
      else if (ahi[k] < blo[k]) diff = static_cast<double>(blo[k]) - static_cast<double>(ahi[k]);
      sum += K::term(diff);
    }
    return sum;
  }

  // The kk smallest search distances (ascending) and their positions for every point of
  // leaf `leaf`, at dist/pos + (point − begin)·kk: one traversal for the whole leaf,
  // pruned by box-to-box bounds against the leaf's largest kk-th distance so far.
  void leaf_knn(std::size_t leaf, std::size_t kk, double* dist, std::uint32_t* pos) const {
    const Node& nl = nodes_[leaf];
    const std::size_t m = nl.end - nl.begin;
    std::vector<std::size_t> count(m, 0);
    double bound = std::numeric_limits<double>::infinity();
    auto refresh = [&] {
      bound = 0.0;
      for (std::size_t i = 0; i < m; ++i) {
        bound = std::max(bound, count[i] < kk ? std::numeric_limits<double>::infinity() : dist[i * kk + kk - 1]);
      }
    };
    auto scan = [&](std::size_t node) {
      const Node& nd = nodes_[node];
      for (std::size_t i = 0; i < m; ++i) {
        const float* q = point(nl.begin + i);
        double* di = dist + i * kk;
        std::uint32_t* pi = pos + i * kk;
        std::size_t& c = count[i];
        double worst = c == kk ? di[kk - 1] : std::numeric_limits<double>::infinity();
        if (node != leaf && box_bound(q, node) > worst) continue;
        for (std::uint32_t p = nd.begin; p < nd.end; ++p) {
          const double s = kernel_.distance(q, point(p));
          if (s >= worst) continue;
          std::size_t j = c < kk ? c++ : kk - 1;
          while (j > 0 && di[j - 1] > s) {
            di[j] = di[j - 1];
            pi[j] = pi[j - 1];
            --j;
          }
          di[j] = s;
          pi[j] = p;
          if (c == kk) worst = di[kk - 1];
        }
      }
      refresh();
    };
    scan(leaf);
    leaf_knn_visit(0, 0.0, leaf, bound, scan);
  }

 private:
  template <class Scan>
  void leaf_knn_visit(std::size_t node, double lower, std::size_t leaf, const double& bound, Scan& scan) const {
    if (lower > bound) return;
    const Node& nd = nodes_[node];
    if (nd.left < 0) {
      if (node != leaf) scan(node);
      return;
    }
    const auto l = static_cast<std::size_t>(nd.left), r = static_cast<std::size_t>(nd.right);
    const double bl = box_box_bound(leaf, l), br = box_box_bound(leaf, r);
    if (bl <= br) {
      leaf_knn_visit(l, bl, leaf, bound, scan);
      leaf_knn_visit(r, br, leaf, bound, scan);
    } else {
      leaf_knn_visit(r, br, leaf, bound, scan);
      leaf_knn_visit(l, bl, leaf, bound, scan);
    }
  }

  // Builds the subtree over rows [begin, end) of points_, reordering the rows (and order_)
  // in place so that every node's points are contiguous.
  std::size_t build(std::uint32_t begin, std::uint32_t end) {
    const std::size_t index = nodes_.size();
    nodes_.push_back(Node{begin, end});
    lo_.resize((index + 1) * d_);
    hi_.resize((index + 1) * d_);
    float* lo = lo_.data() + index * d_;
    float* hi = hi_.data() + index * d_;
    std::copy_n(point(begin), d_, lo);
    std::copy_n(point(begin), d_, hi);
    for (std::uint32_t i = begin + 1; i < end; ++i) {
      const float* p = point(i);
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
    select(begin, end, mid, axis);
    const auto left = build(begin, mid);
    const auto right = build(mid, end);
    nodes_[index].left = static_cast<std::int32_t>(left);
    nodes_[index].right = static_cast<std::int32_t>(right);
    return index;
  }

  float key(std::size_t row, std::size_t axis) const { return points_[row * d_ + axis]; }
  void swap_rows(std::size_t i, std::size_t j) {
    std::swap_ranges(points_.data() + i * d_, points_.data() + (i + 1) * d_, points_.data() + j * d_);
    std::swap(order_[i], order_[j]);
  }

  // Quickselect with a three-way partition: afterwards every row before `mid` has a key
  // ≤ that of row `mid`, every row after it ≥.
  void select(std::size_t lo, std::size_t hi, std::size_t mid, std::size_t axis) {
    while (hi - lo > 1) {
      const float a = key(lo, axis), b = key(lo + (hi - lo) / 2, axis), c = key(hi - 1, axis);
      const float pivot = std::max(std::min(a, b), std::min(std::max(a, b), c));
      std::size_t lt = lo, i = lo, gt = hi;
      while (i < gt) {
        const float v = key(i, axis);
        if (v < pivot) {
          swap_rows(lt++, i++);
        } else if (v > pivot) {
          swap_rows(i, --gt);
        } else {
          ++i;
        }
      }
      if (mid < lt) {
        hi = lt;
      } else if (mid >= gt) {
        lo = gt;
      } else {
        return;
      }
    }
  }

  const SearchSpace& space_;
  K kernel_;
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

template <class K>
class Boruvka {
 public:
  Boruvka(const SearchSpace& space, std::size_t k, double alpha, int num_threads)
      : space_(space), tree_(space, 16), n_(space.size()), k_(k), alpha_(alpha), num_threads_(num_threads),
        euclidean_(space.metric() == Metric::euclidean) {}

  // Core distances from the k nearest points; one more neighbour (kk = k + 1) tells
  // whether the k-th distance is tied with a point outside the list.
  std::vector<double> core_distances() {
    core_.assign(n_, 0.0);
    next_.assign(n_, kInf);
    kk_ = std::min(n_, k_ + 1);
    knn_.assign(n_ * kk_, 0);
    std::vector<std::size_t> leaves;
    for (std::size_t i = 0; i < tree_.num_nodes(); ++i) {
      if (tree_.node(i).left < 0) leaves.push_back(i);
    }
    parallel_for(leaves.size(), num_threads_, [&](std::size_t t) {
      const auto& nd = tree_.node(leaves[t]);
      std::vector<double> dist((nd.end - nd.begin) * kk_);
      tree_.leaf_knn(leaves[t], kk_, dist.data(), knn_.data() + std::size_t{nd.begin} * kk_);
      for (auto q = nd.begin; q < nd.end; ++q) {
        const double* dq = dist.data() + (q - nd.begin) * kk_;
        core_[q] = space_.distance(dq[k_ - 1]);
        if (kk_ > k_) next_[q] = space_.distance(dq[k_]);
      }
    }, 4);
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
    inside_.assign(n_, 0);
    settled_.assign(n_, 0);
    bound_.reset(new std::atomic<double>[n_]);
    std::vector<Candidate> comp_best(n_);
    UnionFind components(n_);

    std::vector<std::uint32_t> comp_size(n_);
    while (edges.size() + 1 < n_) {
      for (std::uint32_t q = 0; q < n_; ++q) comp_[q] = components.find(q);
      // Any component's lightest edge belongs to the tree (cut property), so the largest
      // component need not look for its own: every other one still joins some component,
      // and in the last rounds that skips nearly all points.
      std::fill(comp_size.begin(), comp_size.end(), 0u);
      for (std::uint32_t q = 0; q < n_; ++q) ++comp_size[comp_[q]];
      largest_ = static_cast<std::uint32_t>(std::max_element(comp_size.begin(), comp_size.end()) - comp_size.begin());
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
        if (comp_[q] == q && q != largest_ && comp_best[q].from != kNone) chosen.push_back(comp_best[q]);
      }
      // Lightest edges of different components never close a cycle (the order is strict),
      // so they join in any order; an edge chosen by both of its components joins once.
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

  // Metric distance from a search distance (sqrt inlined for the euclidean metric).
  double to_metric(double search) const { return euclidean_ ? std::sqrt(search) : space_.distance(search); }

  double reachability(std::uint32_t q, std::uint32_t p) const {
    return std::max({core_[q], core_[p], to_metric(tree_.search_distance(q, p)) / alpha_});
  }

  void consider(Candidate& best, std::uint32_t q, std::uint32_t p, double w) const {
    const std::uint32_t oq = tree_.original(q), op = tree_.original(p);
    const std::uint32_t a = std::min(oq, op), b = std::max(oq, op);
    if (best.from == kNone || edge_less(w, a, b, best.w, best.a, best.b)) best = Candidate{w, a, b, q, p};
  }

  // Seeds q's best edge with the previous round's (if it still leaves the component) and
  // with its nearest neighbours in other components. The best edge is then final when it
  // weighs core(q), the least any edge of q can, and every point that could tie lies in
  // the neighbour list: with alpha <= 1 such a point is within core(q) of q, and the next
  // neighbour beyond the list is farther.
  void seed(std::uint32_t q) {
    Candidate& best = best_[q];
    const std::uint32_t c = comp_[q];
    settled_[q] = 0;
    if (best.from != kNone && comp_[best.to] == c) best = Candidate{};
    if (!inside_[q]) {
      bool inside = true;
      for (std::size_t j = 0; j < kk_; ++j) {
        const std::uint32_t p = knn_[q * kk_ + j];
        if (comp_[p] == c) continue;
        inside = false;
        // Among the k nearest, d(q, p) <= core(q), so with alpha >= 1 the distance term
        // cannot exceed core(q) (rounding is monotone) and need not be computed.
        const double w = j < k_ && alpha_ >= 1.0 ? std::max(core_[q], core_[p]) : reachability(q, p);
        consider(best, q, p, w);
      }
      inside_[q] = inside;  // components only grow: once all neighbours are inside, they stay
    }
    if (best.from == kNone) return;
    atomic_min(bound_[c], best.w);
    settled_[q] = alpha_ <= 1.0 && best.w == core_[q] && next_[q] > core_[q];
  }

  void search(std::uint32_t q) {
    const std::uint32_t c = comp_[q];
    if (settled_[q] || c == largest_) return;
    if (core_[q] > bound_[c].load(std::memory_order_relaxed)) return;  // every edge of q is heavier
    visit(0, core_[q], q, c, best_[q]);
  }

  double node_bound(std::size_t node, const float* qp, double core_q) const {
    const double lb = std::max(core_q, node_min_core_[node]);
    return std::max(lb, to_metric(tree_.box_bound(qp, node)) / alpha_);
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
        w = std::max(w, to_metric(tree_.search_distance(qp, p)) / alpha_);
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
  KdTree<K> tree_;
  std::size_t n_, k_;
  double alpha_;
  int num_threads_;
  bool euclidean_;
  std::vector<double> core_;               // by tree position
  std::size_t kk_ = 0;                     // neighbours stored per point (k + 1, or n)
  std::vector<std::uint32_t> knn_;         // kk nearest positions of each position, nearest first
  std::vector<double> next_;               // distance to the (k+1)-th nearest point (inf if none)
  std::vector<std::uint8_t> inside_;       // all kk neighbours are in the point's component
  std::vector<std::uint8_t> settled_;      // this round's best edge is already final
  std::uint32_t largest_ = kNone;          // this round's largest component, which adds no edge
  std::vector<double> node_min_core_;
  std::vector<std::uint32_t> comp_;        // component (root position) of each position
  std::vector<std::uint32_t> node_comp_;   // the component of all points of a node, or kNone
  std::vector<Candidate> best_;            // lightest edge found from each position
  std::unique_ptr<std::atomic<double>[]> bound_;  // per component: weight of some edge leaving it
};

template <class K>
CoreAndTree boruvka_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                        const std::function<void()>& core_done) {
  Boruvka<K> boruvka(space, min_samples, alpha, num_threads);
  CoreAndTree out;
  out.core = boruvka.core_distances();
  core_done();
  out.edges = boruvka.spanning_tree();
  return out;
}

}  // namespace

CoreAndTree kdtree_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                       const std::function<void()>& core_done) {
  if (space.is_squared_euclidean()) {
    switch (space.dim()) {
      case 2: return boruvka_mst<Kernel<2, true>>(space, min_samples, alpha, num_threads, core_done);
      case 3: return boruvka_mst<Kernel<3, true>>(space, min_samples, alpha, num_threads, core_done);
      default: return boruvka_mst<Kernel<0, true>>(space, min_samples, alpha, num_threads, core_done);
    }
  }
  return boruvka_mst<Kernel<0, false>>(space, min_samples, alpha, num_threads, core_done);
}

}  // namespace spatialembed::hdbscan_detail
