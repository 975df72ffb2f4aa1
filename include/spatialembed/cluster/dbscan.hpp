#pragma once
/// @file
/// DBSCAN (Ester, Kriegel, Sander & Xu, KDD 1996) with scikit-learn's exact labelling.

#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/neighbors/csr_graph.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// How DBSCAN finds the points within eps.
enum class DbscanAlgorithm {
  automatic,  ///< grid for 1–3 features, kdtree up to 16, brute beyond
  grid,       ///< uniform grid, cells of side eps/√d (Wang, Gu & Shun, SIGMOD 2020); 1–4 features
  kdtree,     ///< nanoflann KD-tree
  brute,      ///< all pairs, tiled for cache reuse
};

/// Parses "auto", "grid", "kdtree" (or "kd_tree") or "brute"; throws InvalidArgument otherwise.
DbscanAlgorithm parse_dbscan_algorithm(const std::string& name);
/// The name `parse_dbscan_algorithm` accepts ("auto" for automatic).
const char* to_string(DbscanAlgorithm algorithm);

/// DBSCAN options. `validate()` is the one place they are checked.
struct DbscanOptions {
  double eps = 0.5;              ///< neighbourhood radius in metric units; inclusive (d ≤ eps), > 0
  std::int64_t min_samples = 5;  ///< neighbours (or their total weight) for a core point, itself counted; ≥ 1
  Metric metric = Metric::euclidean;  ///< euclidean, cosine or correlation (ignored for a precomputed graph)
  DbscanAlgorithm algorithm = DbscanAlgorithm::automatic;  ///< neighbour search
  int num_threads = 0;           ///< worker threads; 0 = all cores; ≥ 0
  ProgressCallback progress;     ///< called after each of the 3 phases (core, clusters, border)

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// What DBSCAN found.
struct DbscanResult {
  std::vector<std::int32_t> labels;           ///< n cluster labels, 0..n_clusters−1, −1 = noise
  std::vector<std::uint8_t> core_sample_mask;  ///< n flags, 1 = core point
  std::int32_t n_clusters = 0;                ///< number of clusters
  DbscanAlgorithm algorithm = DbscanAlgorithm::automatic;  ///< the search actually used
};

/// Density-based clustering, labelled exactly as sklearn.cluster.DBSCAN labels:
/// a point is core when the (weighted) count of points within eps, itself included, is
/// ≥ min_samples; clusters are the connected components of core points, numbered in the
/// order of their lowest-index core point; a non-core point within eps of core points takes
/// the lowest cluster number among them, else it is noise (−1).
///
/// Memory beyond the input is O(n) (plus a normalised copy of X for the cosine metric):
/// neighbourhoods are visited, never stored. Results do not depend on num_threads.
class DBSCAN {
 public:
  /// Throws InvalidArgument if `options` are invalid.
  explicit DBSCAN(DbscanOptions options = {});

  const DbscanOptions& options() const { return options_; }

  /// Clusters the rows of `X` (row-major float32, n × d, d ≥ 1 when n > 0).
  /// `sample_weight`: empty, or n finite weights (float64) with scikit-learn's meaning: a
  /// point counts as `weight` points towards its neighbours' min_samples (negative allowed).
  /// Throws InvalidArgument for NaN/inf in X or weights, a weight count ≠ n, an all-zero row
  /// with the cosine metric, or 'grid' with more than 4 features.
  DbscanResult fit(ConstMatrixF X, VectorView<const double> sample_weight = {}) const;

  /// Clusters from a precomputed sparse distance graph (n × n CSR; entries with distance
  /// ≤ eps are neighbours, each point is its own neighbour), as scikit-learn does with
  /// metric="precomputed" and a sparse matrix, including for non-symmetric graphs.
  DbscanResult fit(const CsrGraph& graph, VectorView<const double> sample_weight = {}) const;

 private:
  DbscanOptions options_;
};

}  // namespace spatialembed
