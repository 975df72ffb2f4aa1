#include "spatialembed/neighbors/csr_graph.hpp"

#include <cmath>
#include <vector>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

void CsrGraph::validate() const {
  SPATIALEMBED_CHECK(indptr.size() == n + 1, InvalidArgument,
                     "graph indptr must have n + 1 = {} entries, got {}", n + 1, indptr.size());
  SPATIALEMBED_CHECK(indptr[0] == 0, InvalidArgument, "graph indptr[0] must be 0, got {}", indptr[0]);
  for (std::size_t i = 0; i < n; ++i) {
    SPATIALEMBED_CHECK(indptr[i + 1] >= indptr[i], InvalidArgument,
                       "graph indptr must be non-decreasing, but indptr[{}] = {} > indptr[{}] = {}", i,
                       indptr[i], i + 1, indptr[i + 1]);
  }
  const auto nnz = static_cast<std::size_t>(indptr[n]);
  SPATIALEMBED_CHECK(indices.size() == nnz && distances.size() == nnz, InvalidArgument,
                     "graph indptr[n] = {} but indices has {} and distances {} entries", nnz,
                     indices.size(), distances.size());
  std::vector<std::size_t> last_row(n, n);  // row in which each column was last seen
  for (std::size_t i = 0; i < n; ++i) {
    for (auto e = indptr[i]; e < indptr[i + 1]; ++e) {
      const std::int64_t j = indices[e];
      SPATIALEMBED_CHECK(j >= 0 && static_cast<std::size_t>(j) < n, InvalidArgument,
                         "graph indices[{}] = {} in row {} is outside [0, {})", e, j, i, n);
      SPATIALEMBED_CHECK(last_row[j] != i, InvalidArgument,
                         "graph row {} stores column {} twice", i, j);
      last_row[j] = i;
      SPATIALEMBED_CHECK(std::isfinite(distances[e]) && distances[e] >= 0, InvalidArgument,
                         "graph distances[{}] = {} (row {}, column {}) must be finite and >= 0", e,
                         distances[e], i, j);
    }
  }
}

}  // namespace spatialembed
