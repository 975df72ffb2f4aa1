#pragma once
/// @file
/// Exact k nearest neighbours by blocked matrix products (Eigen GEMM), refined in double.

#include <cstddef>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/neighbors/knn_graph.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// The k nearest rows of `X` (row-major float32, n × d) to each row of `X`, itself first.
///
/// Candidates come from float32 GEMM on centred data (‖x‖² + ‖y‖² − 2x·y), a margin of
/// extra candidates is re-ranked with exact float64 distances, so the result is the exact
/// kNN barring float32 rounding beyond that margin. Manhattan is computed directly.
/// Ties are broken by index, after the point itself. O(n² d) time. Memory: O(n·k) plus one
/// centred block of data rows (≤ 256 MB; the matrix itself is never copied: cosine and
/// correlation normalise each row on the fly, to the floats a normalised copy would hold, plus
/// one block of 64 normalised queries per thread).
/// Throws InvalidArgument for k < 1, k > n, NaN/inf, or rows the metric cannot handle.
KnnGraph exact_knn(ConstMatrixF X, std::size_t k, Metric metric, int num_threads = 0);

/// The k nearest rows of `data` to each row of `queries` (both row-major float32 with the
/// same number of columns); k ≤ number of data rows.
KnnGraph exact_knn(ConstMatrixF data, ConstMatrixF queries, std::size_t k, Metric metric, int num_threads = 0);

}  // namespace spatialembed
