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

}  // namespace spatialembed
