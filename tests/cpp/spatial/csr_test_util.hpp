#pragma once
// Small CSR matrices from dense ones and back, for the expression and HVG tests.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"

namespace spatialembed::test {

/// A CSR matrix from a dense row-major `rows × cols` one (zeros not stored).
inline CsrMatrix csr(std::size_t rows, std::size_t cols, const std::vector<float>& dense) {
  CsrMatrix m;
  m.rows = rows, m.cols = cols;
  m.indptr.push_back(0);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      if (dense[i * cols + j] != 0.0f) {
        m.indices.push_back(static_cast<std::int32_t>(j));
        m.data.push_back(dense[i * cols + j]);
      }
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.data.size()));
  }
  return m;
}

/// The dense row-major form of `m`.
inline std::vector<float> dense(const CsrMatrix& m) {
  std::vector<float> d(m.rows * m.cols, 0.0f);
  for (std::size_t i = 0; i < m.rows; ++i) {
    for (auto k = m.indptr[i]; k < m.indptr[i + 1]; ++k) d[i * m.cols + static_cast<std::size_t>(m.indices[k])] = m.data[k];
  }
  return d;
}

}  // namespace spatialembed::test
