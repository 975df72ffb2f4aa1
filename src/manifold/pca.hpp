#pragma once
// Principal-component scores for UMAP's "pca" initialisation.

#include <cstddef>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// Scores of the rows of X (n × d) on their first `dim` principal components (n × dim,
/// row-major), from the top eigenvectors of the centred Gram or covariance matrix —
/// whichever side is smaller — by Lanczos iterations (Spectra) on the implicit operator, so
/// memory stays O((n + d)·dim). Signs are arbitrary, as in any PCA.
std::vector<float> principal_components(ConstMatrixF X, std::size_t dim);

}  // namespace spatialembed
