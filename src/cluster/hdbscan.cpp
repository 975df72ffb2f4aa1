#include "spatialembed/cluster/hdbscan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cluster/hdbscan_mst.hpp"
#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

ClusterSelectionMethod parse_cluster_selection_method(const std::string& name) {
  if (name == "eom") return ClusterSelectionMethod::eom;
  if (name == "leaf") return ClusterSelectionMethod::leaf;
  detail::raise<InvalidArgument>("cluster_selection_method must be 'eom' or 'leaf', got '{}'", name);
}

const char* to_string(ClusterSelectionMethod method) {
  switch (method) {
    case ClusterSelectionMethod::eom: return "eom";
    case ClusterSelectionMethod::leaf: return "leaf";
  }
  return "unknown";
}

HdbscanAlgorithm parse_hdbscan_algorithm(const std::string& name) {
  if (name == "auto") return HdbscanAlgorithm::automatic;
  if (name == "brute") return HdbscanAlgorithm::brute;
  if (name == "kdtree" || name == "kd_tree") return HdbscanAlgorithm::kdtree;
  detail::raise<InvalidArgument>("algorithm must be one of 'auto', 'brute', 'kdtree', got '{}'", name);
}

const char* to_string(HdbscanAlgorithm algorithm) {
  switch (algorithm) {
    case HdbscanAlgorithm::automatic: return "auto";
    case HdbscanAlgorithm::brute: return "brute";
    case HdbscanAlgorithm::kdtree: return "kdtree";
  }
  return "unknown";
}

void HdbscanOptions::validate() const {
  SPATIALEMBED_CHECK(min_cluster_size >= 2, InvalidArgument, "min_cluster_size must be >= 2, got {}",
                     min_cluster_size);
  SPATIALEMBED_CHECK(min_samples >= 0, InvalidArgument,
                     "min_samples must be >= 1, or 0 for min_cluster_size, got {}", min_samples);
  SPATIALEMBED_CHECK(std::isfinite(cluster_selection_epsilon) && cluster_selection_epsilon >= 0, InvalidArgument,
                     "cluster_selection_epsilon must be finite and >= 0, got {}", cluster_selection_epsilon);
  SPATIALEMBED_CHECK(max_cluster_size >= 0, InvalidArgument,
                     "max_cluster_size must be >= 0 (0 = no limit), got {}", max_cluster_size);
  SPATIALEMBED_CHECK(std::isfinite(alpha) && alpha > 0, InvalidArgument, "alpha must be finite and > 0, got {}",
                     alpha);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}",
                     num_threads);
  SPATIALEMBED_CHECK(effective_min_samples() <= std::numeric_limits<std::int32_t>::max(), InvalidArgument,
                     "min_samples must be < 2^31, got {}", effective_min_samples());
}

namespace {

using hdbscan_detail::MstEdge;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kPhases = 3;

class Phases {
 public:
  explicit Phases(const ProgressCallback& callback) : callback_(callback) {}
  void done(std::size_t phase) const {
    if (callback_ && !callback_(phase, kPhases)) throw Cancelled("HDBSCAN cancelled by its progress callback");
  }

 private:
  const ProgressCallback& callback_;
};

// Single linkage from the spanning tree: edges in the total order (weight, a, b), each
// merging the node of a's side (left) with the node of b's side (right) into node n+i.
SingleLinkageTree single_linkage(std::vector<MstEdge> edges, std::size_t n) {
  std::sort(edges.begin(), edges.end(), [](const MstEdge& x, const MstEdge& y) { return hdbscan_detail::edge_less(x, y); });
  SingleLinkageTree tree;
  const std::size_t m = edges.size();
  tree.left.resize(m);
  tree.right.resize(m);
  tree.distance.resize(m);
  tree.size.resize(m);
  std::vector<std::uint32_t> parent(n);
  std::iota(parent.begin(), parent.end(), 0u);
  std::vector<std::int64_t> node(n), size(n, 1);
  std::iota(node.begin(), node.end(), std::int64_t{0});
  auto find = [&](std::uint32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (std::size_t i = 0; i < m; ++i) {
    const auto ra = find(edges[i].a), rb = find(edges[i].b);
    tree.left[i] = node[ra];
    tree.right[i] = node[rb];
    tree.distance[i] = edges[i].weight;
    tree.size[i] = size[ra] + size[rb];
    const auto root = std::min(ra, rb), other = std::max(ra, rb);
    parent[other] = root;
    size[root] = tree.size[i];
    node[root] = static_cast<std::int64_t>(n + i);
  }
  return tree;
}

// The condensed tree, built top-down over the single-linkage tree in breadth-first order
// (scikit-learn's _condense_tree): a split into two parts of ≥ min_cluster_size points makes
// two new clusters, numbered in that order; a smaller part's points fall out of the cluster.
CondensedTree condense(const SingleLinkageTree& slt, std::size_t n, std::int64_t min_cluster_size) {
  CondensedTree out;
  const std::size_t root = 2 * n - 2, nodes = 2 * n - 1;
  auto count = [&](std::int64_t node) {
    return node < static_cast<std::int64_t>(n) ? std::int64_t{1} : slt.size[static_cast<std::size_t>(node) - n];
  };
  // Breadth-first list of all nodes from the root (children left then right).
  std::vector<std::int64_t> order;
  order.reserve(nodes);
  order.push_back(static_cast<std::int64_t>(root));
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto node = order[i];
    if (node < static_cast<std::int64_t>(n)) continue;
    order.push_back(slt.left[static_cast<std::size_t>(node) - n]);
    order.push_back(slt.right[static_cast<std::size_t>(node) - n]);
  }
  std::vector<std::int64_t> relabel(nodes, 0);
  std::vector<std::uint8_t> ignore(nodes, 0);
  relabel[root] = static_cast<std::int64_t>(n);
  std::int64_t next_label = static_cast<std::int64_t>(n) + 1;
  std::vector<std::int64_t> queue;
  auto emit = [&](std::int64_t parent, std::int64_t child, double lambda, std::int64_t size) {
    out.parent.push_back(parent);
    out.child.push_back(child);
    out.lambda_val.push_back(lambda);
    out.child_size.push_back(size);
  };
  // Every point under `sub` leaves `parent` at `lambda`, in breadth-first order.
  auto fall_out = [&](std::int64_t sub, std::int64_t parent, double lambda) {
    queue.assign(1, sub);
    for (std::size_t i = 0; i < queue.size(); ++i) {
      const auto node = queue[i];
      ignore[static_cast<std::size_t>(node)] = 1;
      if (node < static_cast<std::int64_t>(n)) {
        emit(parent, node, lambda, 1);
      } else {
        queue.push_back(slt.left[static_cast<std::size_t>(node) - n]);
        queue.push_back(slt.right[static_cast<std::size_t>(node) - n]);
      }
    }
  };
  for (const auto node : order) {
    if (node < static_cast<std::int64_t>(n) || ignore[static_cast<std::size_t>(node)]) continue;
    const std::size_t row = static_cast<std::size_t>(node) - n;
    const auto left = slt.left[row], right = slt.right[row];
    const double distance = slt.distance[row];
    const double lambda = distance > 0.0 ? 1.0 / distance : kInf;
    const auto left_count = count(left), right_count = count(right);
    const auto parent = relabel[static_cast<std::size_t>(node)];
    const bool left_big = left_count >= min_cluster_size, right_big = right_count >= min_cluster_size;
    if (left_big && right_big) {
      relabel[static_cast<std::size_t>(left)] = next_label++;
      emit(parent, relabel[static_cast<std::size_t>(left)], lambda, left_count);
      relabel[static_cast<std::size_t>(right)] = next_label++;
      emit(parent, relabel[static_cast<std::size_t>(right)], lambda, right_count);
    } else if (!left_big && !right_big) {
      fall_out(left, parent, lambda);
      fall_out(right, parent, lambda);
    } else if (!left_big) {
      relabel[static_cast<std::size_t>(right)] = parent;
      fall_out(left, parent, lambda);
    } else {
      relabel[static_cast<std::size_t>(left)] = parent;
      fall_out(right, parent, lambda);
    }
  }
  return out;
}

// Flat clustering from the condensed tree (scikit-learn 1.3's _get_clusters, _do_labelling
// and get_probabilities, with the differences noted in the header).
class Selection {
 public:
  Selection(const CondensedTree& tree, std::size_t n, const HdbscanOptions& options)
      : tree_(tree), n_(n), options_(options) {
    std::int64_t largest = static_cast<std::int64_t>(n);
    for (const auto p : tree.parent) largest = std::max(largest, p);
    m_ = static_cast<std::size_t>(largest) - n + 1;
    parent_.assign(m_, -1);
    birth_.assign(m_, 0.0);
    size_.assign(m_, 0);
    children_.assign(m_, {});
    stability_.assign(m_, 0.0);
    death_.assign(m_, 0.0);
    point_row_.assign(n, 0);
    for (std::size_t r = 0; r < tree.size(); ++r) {
      const auto p = cluster(tree.parent[r]);
      death_[p] = std::max(death_[p], tree.lambda_val[r]);
      if (tree.child[r] >= static_cast<std::int64_t>(n)) {
        const auto c = cluster(tree.child[r]);
        parent_[c] = static_cast<std::int64_t>(p);
        birth_[c] = tree.lambda_val[r];
        size_[c] = tree.child_size[r];
        children_[p].push_back(c);
      } else {
        point_row_[static_cast<std::size_t>(tree.child[r])] = r;
      }
    }
    // Stability Σ (λ − λ_birth) × size over each cluster's rows, summed in row order.
    for (std::size_t r = 0; r < tree.size(); ++r) {
      const auto p = cluster(tree.parent[r]);
      stability_[p] += (tree.lambda_val[r] - birth_[p]) * static_cast<double>(tree.child_size[r]);
    }
    // scikit-learn sizes the root by the points of its child clusters.
    size_[0] = 0;
    for (const auto c : children_[0]) size_[0] += size_[c];
  }

  // Selected clusters, as indices (node id − n), ascending.
  std::vector<std::size_t> select() const {
    std::vector<std::uint8_t> is_cluster(m_, 0);
    const bool has_cluster_rows = m_ > 1;
    const double eps = options_.cluster_selection_epsilon;
    if (options_.cluster_selection_method == ClusterSelectionMethod::eom) {
      eom(is_cluster);
      if (eps != 0.0 && has_cluster_rows) {
        std::vector<std::size_t> chosen;
        for (std::size_t c = 0; c < m_; ++c) {
          if (is_cluster[c]) chosen.push_back(c);
        }
        std::vector<std::size_t> selected;
        if (chosen.size() == 1 && chosen[0] == 0) {
          if (options_.allow_single_cluster) selected = chosen;
        } else {
          selected = epsilon_search(chosen);
        }
        keep_only(is_cluster, selected);
      }
    } else {
      std::vector<std::size_t> leaves;
      if (has_cluster_rows) {
        for (std::size_t c = 1; c < m_; ++c) {
          if (children_[c].empty()) leaves.push_back(c);
        }
      }
      keep_only(is_cluster, eps != 0.0 ? epsilon_search(leaves) : leaves);
    }
    std::vector<std::size_t> clusters;
    for (std::size_t c = 0; c < m_; ++c) {
      if (is_cluster[c]) clusters.push_back(c);
    }
    return clusters;
  }

  void label(const std::vector<std::size_t>& clusters, HdbscanResult& result) const {
    result.labels.assign(n_, -1);
    result.probabilities.assign(n_, 0.0);
    result.n_clusters = static_cast<std::int32_t>(clusters.size());
    std::vector<std::int32_t> label_of(m_, -1);
    for (std::size_t i = 0; i < clusters.size(); ++i) {
      label_of[clusters[i]] = static_cast<std::int32_t>(i);
      result.cluster_nodes.push_back(static_cast<std::int64_t>(clusters[i] + n_));
    }
    if (tree_.size() == 0) return;
    // Each cluster's nearest selected ancestor-or-self (0 = the root when none is).
    std::vector<std::size_t> top(m_, 0);
    for (std::size_t c = 1; c < m_; ++c) {
      top[c] = label_of[c] >= 0 ? c : top[static_cast<std::size_t>(parent_[c])];
    }
    const bool single_root = clusters.size() == 1 && clusters[0] == 0 && options_.allow_single_cluster;
    double threshold = 0.0;
    if (single_root) {
      if (options_.cluster_selection_epsilon != 0.0) {
        threshold = 1.0 / options_.cluster_selection_epsilon;
      } else {
        threshold = -kInf;
        for (std::size_t r = 0; r < tree_.size(); ++r) {
          if (tree_.parent[r] == static_cast<std::int64_t>(n_)) threshold = std::max(threshold, tree_.lambda_val[r]);
        }
      }
    }
    for (std::size_t i = 0; i < n_; ++i) {
      const std::size_t r = point_row_[i];
      const double lambda = tree_.lambda_val[r];
      const std::size_t t = top[cluster(tree_.parent[r])];
      std::int32_t label = -1;
      if (t != 0) {
        label = label_of[t];
      } else if (single_root && lambda >= threshold) {
        label = label_of[0];
      }
      result.labels[i] = label;
      if (label < 0) continue;
      const double max_lambda = death_[clusters[static_cast<std::size_t>(label)]];
      if (max_lambda == 0.0 || std::isinf(lambda)) {
        result.probabilities[i] = 1.0;
      } else {
        result.probabilities[i] = std::min(lambda, max_lambda) / max_lambda;
      }
    }
  }

 private:
  std::size_t cluster(std::int64_t node) const { return static_cast<std::size_t>(node) - n_; }

  void eom(std::vector<std::uint8_t>& is_cluster) const {
    const std::int64_t max_size =
        options_.max_cluster_size > 0 ? options_.max_cluster_size : static_cast<std::int64_t>(n_) + 1;
    auto stability = stability_;
    // Bottom-up (children have larger ids): a cluster is chosen over its descendants
    // unless their chosen stabilities add up to more, or it is too large.
    std::vector<std::uint8_t> chosen(m_, 0);
    const std::size_t last = options_.allow_single_cluster ? 0 : 1;
    for (std::size_t c = m_; c-- > last;) {
      double subtree = 0.0;
      for (const auto child : children_[c]) subtree += stability[child];
      if (subtree > stability[c] || size_[c] > max_size) {
        stability[c] = subtree;
      } else {
        chosen[c] = 1;
      }
    }
    // A chosen cluster with a chosen ancestor is dropped (top-down).
    std::vector<std::uint8_t> covered(m_, 0);
    for (std::size_t c = 0; c < m_; ++c) {
      const bool ancestor = c > 0 && (covered[static_cast<std::size_t>(parent_[c])] != 0);
      is_cluster[c] = chosen[c] && !ancestor;
      covered[c] = ancestor || chosen[c];
    }
  }

  // The cluster above `leaf` that exists at distance cluster_selection_epsilon.
  std::size_t traverse_upwards(std::size_t leaf) const {
    const double eps = options_.cluster_selection_epsilon;
    for (;;) {
      const auto parent = static_cast<std::size_t>(parent_[leaf]);
      if (parent == 0) return options_.allow_single_cluster ? parent : leaf;
      if (1.0 / birth_[parent] > eps) return parent;
      leaf = parent;
    }
  }

  std::vector<std::size_t> epsilon_search(const std::vector<std::size_t>& leaves) const {
    const double eps = options_.cluster_selection_epsilon;
    std::vector<std::size_t> selected;
    std::vector<std::uint8_t> processed(m_, 0);
    for (const auto leaf : leaves) {
      if (1.0 / birth_[leaf] < eps) {
        if (processed[leaf]) continue;
        const auto chosen = traverse_upwards(leaf);
        selected.push_back(chosen);
        std::vector<std::size_t> stack(children_[chosen].begin(), children_[chosen].end());
        while (!stack.empty()) {
          const auto c = stack.back();
          stack.pop_back();
          processed[c] = 1;
          stack.insert(stack.end(), children_[c].begin(), children_[c].end());
        }
      } else {
        selected.push_back(leaf);
      }
    }
    return selected;
  }

  // Selection is limited to the candidate clusters (the root only with allow_single_cluster).
  void keep_only(std::vector<std::uint8_t>& is_cluster, const std::vector<std::size_t>& selected) const {
    std::fill(is_cluster.begin(), is_cluster.end(), 0);
    for (const auto c : selected) {
      if (c != 0 || options_.allow_single_cluster) is_cluster[c] = 1;
    }
  }

  const CondensedTree& tree_;
  std::size_t n_;
  const HdbscanOptions& options_;
  std::size_t m_ = 0;                          // clusters, root first
  std::vector<std::int64_t> parent_;           // parent cluster index (−1 for the root)
  std::vector<double> birth_;                  // λ at which each cluster appeared (0 for the root)
  std::vector<double> death_;                  // largest λ among the cluster's rows
  std::vector<std::int64_t> size_;             // points
  std::vector<std::vector<std::size_t>> children_;  // child clusters, ascending
  std::vector<double> stability_;
  std::vector<std::size_t> point_row_;         // the row in which each point leaves its cluster
};

HdbscanAlgorithm choose_algorithm(HdbscanAlgorithm requested, const SearchSpace& space) {
  if (requested != HdbscanAlgorithm::automatic) return requested;
  return space.dim() <= 16 ? HdbscanAlgorithm::kdtree : HdbscanAlgorithm::brute;
}

}  // namespace

HDBSCAN::HDBSCAN(HdbscanOptions options) : options_(std::move(options)) { options_.validate(); }

HdbscanResult HDBSCAN::fit(ConstMatrixF X) const {
  const std::size_t n = X.rows;
  const auto min_samples = options_.effective_min_samples();
  SPATIALEMBED_CHECK(static_cast<std::int64_t>(n) >= min_samples, InvalidArgument,
                     "min_samples ({}) must be at most the number of samples in X ({})", min_samples, n);
  SPATIALEMBED_CHECK(n < std::numeric_limits<std::uint32_t>::max() / 2, InvalidArgument,
                     "HDBSCAN takes fewer than 2^31 samples, got {}", n);
  const SearchSpace space(X, options_.metric, options_.num_threads);
  const Phases phases(options_.progress);
  HdbscanResult result;
  result.algorithm = choose_algorithm(options_.algorithm, space);
  auto core_done = [&] { phases.done(1); };
  const auto k = static_cast<std::size_t>(min_samples);
  auto mst = result.algorithm == HdbscanAlgorithm::kdtree
                 ? hdbscan_detail::kdtree_mst(space, k, options_.alpha, options_.num_threads, core_done)
                 : hdbscan_detail::brute_mst(space, k, options_.alpha, options_.num_threads, core_done);
  phases.done(2);
  result.core_distances = std::move(mst.core);
  if (n < 2) {
    result.labels.assign(n, -1);
    result.probabilities.assign(n, 0.0);
    phases.done(3);
    return result;
  }
  result.single_linkage_tree = single_linkage(std::move(mst.edges), n);
  result.condensed_tree = condense(result.single_linkage_tree, n, options_.min_cluster_size);
  const Selection selection(result.condensed_tree, n, options_);
  selection.label(selection.select(), result);
  phases.done(3);
  return result;
}

}  // namespace spatialembed
