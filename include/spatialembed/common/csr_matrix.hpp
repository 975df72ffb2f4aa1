#pragma once
/// @file
/// An owned sparse matrix in CSR form, laid out as scipy.sparse.csr_matrix.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spatialembed {

/// `rows × cols` sparse float32 matrix: row i holds `indices[indptr[i] .. indptr[i+1])`
/// (column indices, ascending) with values `data[...]`.
struct CsrMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int64_t> indptr;   ///< rows + 1 offsets
  std::vector<std::int32_t> indices;  ///< nnz column indices
  std::vector<float> data;            ///< nnz values

  std::size_t nnz() const { return data.size(); }
};

/// A read-only view of CSR arrays someone else owns (a CsrMatrix, scipy's arrays), in
/// CsrMatrix's layout: row i holds `indices[indptr[i] .. indptr[i+1])` with values `data[...]`.
/// Column indices within a row need not be sorted.
struct ConstCsrView {
  std::size_t rows = 0;
  std::size_t cols = 0;
  const std::int64_t* indptr = nullptr;   ///< rows + 1 offsets (may be null when rows == 0)
  const std::int32_t* indices = nullptr;  ///< nnz column indices
  const float* data = nullptr;            ///< nnz values

  ConstCsrView() = default;
  ConstCsrView(std::size_t rows_, std::size_t cols_, const std::int64_t* indptr_, const std::int32_t* indices_,
               const float* data_)
      : rows(rows_), cols(cols_), indptr(indptr_), indices(indices_), data(data_) {}
  /// Views a CsrMatrix (which must outlive the view).
  ConstCsrView(const CsrMatrix& m)  // NOLINT(google-explicit-constructor): a matrix is usable as its view
      : rows(m.rows), cols(m.cols), indptr(m.indptr.data()), indices(m.indices.data()), data(m.data.data()) {}

  std::size_t nnz() const { return indptr == nullptr ? 0 : static_cast<std::size_t>(indptr[rows]); }
};

}  // namespace spatialembed
