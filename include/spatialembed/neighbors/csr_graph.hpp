#pragma once
/// @file
/// A precomputed sparse neighbour graph in CSR form, as scipy.sparse.csr_matrix stores it
/// (e.g. the output of sklearn.neighbors.radius_neighbors_graph(mode="distance")).

#include <cstddef>
#include <cstdint>

#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// Read-only view of an `n × n` sparse distance graph: the stored neighbours of row i are
/// `indices[indptr[i] .. indptr[i+1])` at `distances[...]` (same metric units as eps).
/// An explicitly stored 0 is a neighbour at distance 0; an absent entry is no neighbour.
struct CsrGraph {
  VectorView<const std::int64_t> indptr;   ///< n + 1 offsets, non-decreasing, from 0 to nnz
  VectorView<const std::int64_t> indices;  ///< nnz column indices in [0, n)
  VectorView<const double> distances;      ///< nnz finite distances ≥ 0
  std::size_t n = 0;                        ///< number of rows (= columns)

  /// Throws InvalidArgument naming the array, the position and the value of the first
  /// inconsistency: wrong lengths, indptr not starting at 0 or decreasing, a column index
  /// out of range or repeated within a row, a negative or non-finite distance.
  void validate() const;
};

}  // namespace spatialembed
