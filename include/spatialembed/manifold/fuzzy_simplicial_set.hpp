#pragma once
/// @file
/// UMAP's fuzzy simplicial set: local metric normalisation of a kNN graph and the fuzzy union
/// of its directed memberships (McInnes, Healy & Melville 2018, section 3; umap-learn 0.5
/// `smooth_knn_dist`, `compute_membership_strengths`, `fuzzy_simplicial_set`), and the
/// intersection of two such sets over the same points (umap-learn's `UMAP.__mul__`).

#include <cstddef>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"
#include "spatialembed/neighbors/knn_graph.hpp"

namespace spatialembed {

/// Per-point distance to the nearest neighbour (ρ) and bandwidth (σ).
struct SmoothKnn {
  std::vector<float> sigmas;  ///< n bandwidths σ_i
  std::vector<float> rhos;    ///< n local connectivity distances ρ_i
};

/// umap-learn's `smooth_knn_dist`: ρ_i is the distance to the `local_connectivity`-th nonzero
/// neighbour (interpolated), and σ_i is found by bisection (`n_iter` steps, tolerance 1e-5)
/// so that Σ_{j≥1} exp(−max(0, d_ij − ρ_i)/σ_i) = log2(k)·bandwidth, floored at 1e-3 times
/// the mean neighbour distance. Column 0 (the point itself) is skipped, as in umap-learn.
SmoothKnn smooth_knn_dist(const KnnGraph& knn, double k, double local_connectivity = 1.0, int n_iter = 64,
                          double bandwidth = 1.0);

/// Directed membership strengths exp(−max(0, d_ij − ρ_i)/σ_i) as an `n × n_data` CSR matrix
/// with zeros removed; a point's edge to itself is 0 unless `bipartite` (queries ≠ data).
/// Neighbours with index −1 are skipped.
CsrMatrix membership_strengths(const KnnGraph& knn, const SmoothKnn& smooth, std::size_t n_data, bool bipartite);

/// The symmetric fuzzy graph of a kNN graph of the data with itself:
/// mix·(A + Aᵀ − A∘Aᵀ) + (1 − mix)·(A∘Aᵀ) with A = membership_strengths(...),
/// mix = `set_op_mix_ratio` in [0, 1]. `n × n`, zeros removed, columns sorted.
CsrMatrix fuzzy_simplicial_set(const KnnGraph& knn, double set_op_mix_ratio = 1.0, double local_connectivity = 1.0);

/// The fuzzy intersection of two symmetric fuzzy graphs of the same n points, as umap-learn
/// 0.5 composes two fitted models (`UMAP.__mul__`: `general_simplicial_set_intersection`, then
/// `reset_local_connectivity(…, True)`), so that an edge is strong only where it is strong in
/// both views:
/// - over the union of the two sparsity patterns, with a missing left value taken as
///   l₀ = max(min(left)/2, 1e-8) and a missing right one as r₀ = min(max(min(right)/2, 1e-8), 1e-4):
///   l·r^(w/(1−w)) for `mix_weight` w < 0.5, l^((1−w)/w)·r otherwise (w = 0.5: l·r);
/// - each row divided by its largest value, then raised to the power p that makes the row sum
///   log2(`k`) (bisection, 32 steps, tolerance 1e-5; umap-learn's `reprocess_row` with its k = 15);
/// - symmetrised by the fuzzy union S + Sᵀ − S∘Sᵀ.
/// Returns an n × n CSR matrix, zeros removed, columns sorted. Throws InvalidArgument when the
/// shapes differ or are not square, a graph has no edges, w is outside [0, 1] or k < 2.
CsrMatrix fuzzy_set_intersection(const CsrMatrix& left, const CsrMatrix& right, double mix_weight = 0.5,
                                 double k = 15.0);

}  // namespace spatialembed
