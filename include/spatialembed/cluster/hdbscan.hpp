#pragma once
/// @file
/// HDBSCAN* (Campello, Moulavi & Sander, PAKDD 2013; McInnes & Healy, ICDMW 2017) with
/// scikit-learn 1.3's parameters and its flat-clustering rules.

#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// How HDBSCAN picks its flat clustering from the condensed tree.
enum class ClusterSelectionMethod {
  eom,   ///< excess of mass: the set of non-nested clusters of largest total stability
  leaf,  ///< the leaves of the condensed tree: many small, homogeneous clusters
};

/// Parses "eom" or "leaf"; throws InvalidArgument otherwise.
ClusterSelectionMethod parse_cluster_selection_method(const std::string& name);
/// The name `parse_cluster_selection_method` accepts.
const char* to_string(ClusterSelectionMethod method);

/// How HDBSCAN builds the minimum spanning tree of the mutual-reachability graph.
/// Every algorithm finds the same tree, so results do not depend on it.
enum class HdbscanAlgorithm {
  automatic,  ///< kdtree up to 16 features, brute beyond
  brute,      ///< Prim's algorithm over all pairs, distances computed on the fly: O(n²) time, O(n) memory
  kdtree,     ///< Borůvka's algorithm with KD-tree nearest-other-component queries (low dimensions)
};

/// Parses "auto", "brute" or "kdtree" (or "kd_tree"); throws InvalidArgument otherwise.
HdbscanAlgorithm parse_hdbscan_algorithm(const std::string& name);
/// The name `parse_hdbscan_algorithm` accepts ("auto" for automatic).
const char* to_string(HdbscanAlgorithm algorithm);

/// HDBSCAN options, named and defaulted as scikit-learn 1.3's `sklearn.cluster.HDBSCAN`.
/// `validate()` is the one place they are checked.
struct HdbscanOptions {
  /// Smallest number of points that counts as a cluster; smaller splits are points falling
  /// out of their parent. ≥ 2. Default 5.
  std::int64_t min_cluster_size = 5;
  /// Neighbours that define a point's core distance, the point itself counted (the core
  /// distance is the distance to its min_samples-th nearest point, itself the first).
  /// 0 = min_cluster_size (scikit-learn's None). ≥ 0; at most the number of samples.
  std::int64_t min_samples = 0;
  /// Distance (metric units) below which clusters are not split: selected clusters born
  /// below it are replaced by their ancestor that exists at this distance. 0 = off. ≥ 0.
  double cluster_selection_epsilon = 0.0;
  /// Excess of mass only: a cluster with more points than this is never selected (its
  /// children are). 0 = no limit (scikit-learn's None). ≥ 0.
  std::int64_t max_cluster_size = 0;
  /// Distance between rows: euclidean, cosine, correlation or manhattan.
  Metric metric = Metric::euclidean;
  /// Distance scaling of robust single linkage: the mutual reachability of a and b is
  /// max(core(a), core(b), d(a, b) / alpha). > 0. Default 1.
  double alpha = 1.0;
  /// "eom" (excess of mass, default) or "leaf".
  ClusterSelectionMethod cluster_selection_method = ClusterSelectionMethod::eom;
  /// Let the root (all points) be selected as the one cluster; off by default, as in
  /// scikit-learn, so a single dense blob is split or reported as noise.
  bool allow_single_cluster = false;
  /// Minimum-spanning-tree algorithm; results do not depend on it.
  HdbscanAlgorithm algorithm = HdbscanAlgorithm::automatic;
  /// Worker threads; 0 = all cores; ≥ 0. Results do not depend on it.
  int num_threads = 0;
  /// Called after each of the 3 phases (core distances, spanning tree, cluster tree).
  ProgressCallback progress;

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
  /// min_samples, or min_cluster_size when min_samples is 0.
  std::int64_t effective_min_samples() const { return min_samples > 0 ? min_samples : min_cluster_size; }
};

/// The condensed cluster tree, row for row as the hdbscan library's `condensed_tree_`
/// (`to_numpy()`): each row says that `child` left cluster `parent` at density `lambda_val`.
/// Nodes 0..n−1 are the points; clusters are n (the root, all points), n+1, ... numbered
/// top-down in breadth-first order of the single-linkage tree.
struct CondensedTree {
  std::vector<std::int64_t> parent;      ///< cluster node id (≥ n)
  std::vector<std::int64_t> child;       ///< a point (< n) or a cluster node id (≥ n)
  std::vector<double> lambda_val;        ///< 1 / mutual-reachability distance of the split; +inf at distance 0
  std::vector<std::int64_t> child_size;  ///< 1 for a point, the number of points for a cluster

  std::size_t size() const { return parent.size(); }
};

/// The single-linkage tree of the mutual-reachability graph in SciPy's linkage format
/// (scikit-learn's `_single_linkage_tree_`): row i merges nodes `left[i]` and `right[i]`
/// into node n+i at `distance[i]`; nodes < n are points.
struct SingleLinkageTree {
  std::vector<std::int64_t> left;   ///< node holding the merge edge's lower-index endpoint
  std::vector<std::int64_t> right;  ///< node holding the other endpoint
  std::vector<double> distance;     ///< mutual-reachability distance of the merge, metric units, ascending
  std::vector<std::int64_t> size;   ///< points under the new node

  std::size_t size_rows() const { return left.size(); }
};

/// What HDBSCAN found.
struct HdbscanResult {
  std::vector<std::int32_t> labels;  ///< n labels, 0..n_clusters−1, −1 = noise
  /// n membership strengths in [0, 1]: λ of the point, capped at its cluster's largest λ,
  /// over that largest λ (0 for noise; 1 where the cluster or the point has λ = inf).
  std::vector<double> probabilities;
  std::int32_t n_clusters = 0;                ///< number of clusters
  std::vector<std::int64_t> cluster_nodes;    ///< condensed-tree node of each label 0..n_clusters−1 (ascending)
  std::vector<double> core_distances;         ///< n core distances, metric units
  CondensedTree condensed_tree;               ///< the condensed tree
  SingleLinkageTree single_linkage_tree;      ///< n−1 merges
  HdbscanAlgorithm algorithm = HdbscanAlgorithm::automatic;  ///< the spanning-tree algorithm actually used
};

/// Hierarchical density-based clustering.
///
/// The core distance of a point is the distance to its min_samples-th nearest point (itself
/// first); the mutual reachability of a and b is max(core(a), core(b), d(a, b) / alpha).
/// The minimum spanning tree of that complete graph is built with ties broken by the
/// total order (distance, lower index, higher index), which makes it unique, so every
/// algorithm and thread count gives the same tree. Its edges, in that order, merge the
/// single-linkage tree; a merge's left node is the side of the edge's lower-index point.
/// The condensed tree, the cluster stabilities Σ (λ − λ_birth) × size, the excess-of-mass
/// and leaf selections, cluster_selection_epsilon, max_cluster_size, allow_single_cluster,
/// the labels (clusters numbered in increasing condensed-tree node id) and the
/// probabilities follow scikit-learn 1.3 (sklearn/cluster/_hdbscan/_tree.pyx), with two
/// documented differences: a cluster's largest λ (for probabilities) is the maximum over
/// all of its rows (the hdbscan library's rule), and with allow_single_cluster the λ
/// threshold for points of the root applies only when the root is the selected cluster.
class HDBSCAN {
 public:
  /// Throws InvalidArgument if `options` are invalid.
  explicit HDBSCAN(HdbscanOptions options = {});

  const HdbscanOptions& options() const { return options_; }

  /// Clusters the rows of `X` (row-major float32, n × d, d ≥ 1 when n > 0). Distances are
  /// computed in float64. Throws InvalidArgument for NaN/inf in X, fewer rows than
  /// min_samples, an all-zero row under cosine or a constant row under correlation.
  /// One row gives one noise point and empty trees.
  HdbscanResult fit(ConstMatrixF X) const;

 private:
  HdbscanOptions options_;
};

}  // namespace spatialembed
