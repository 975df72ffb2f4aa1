#pragma once
// The direct loess fit behind seurat_v3 HVG selection (private; implemented in hvg.cpp).

#include <vector>

namespace spatialembed::detail {

/// Direct loess (Cleveland & Devlin 1988) of y on one predictor x, degree 2: at every x_i a
/// quadratic in (x − x_i) fitted by weighted least squares to the q = floor(span · n) nearest
/// points with tricube weights (1 − (d/h)³)³, h the distance to the q-th nearest point, and
/// evaluated at x_i. Returns the n fitted values (in the input order). Windows with fewer than
/// three distinct x get the minimum-norm solution; a window whose q nearest points all share
/// x_i (h = 0) gets the mean of their y. Tied x get one fit (it depends on the value only).
/// Throws InvalidArgument when q < 3. Identical for any num_threads.
std::vector<double> loess_quadratic(const std::vector<double>& x, const std::vector<double>& y, double span,
                                    int num_threads);

}  // namespace spatialembed::detail
