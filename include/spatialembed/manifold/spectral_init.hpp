#pragma once
/// @file
/// UMAP's spectral initialisation (umap-learn 0.5 `spectral_layout`, `multi_component_layout`).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"
#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// Result of `spectral_layout`.
struct SpectralLayout {
  std::vector<float> embedding;  ///< n × dim row-major coordinates
  bool fell_back = false;        ///< the eigensolver failed and random coordinates were used
};

/// Embeds the n vertices of the symmetric weighted `graph` with the eigenvectors 2 … dim+1
/// of its normalised Laplacian I − D^{−1/2} W D^{−1/2} (Spectra's Lanczos solver on the
/// normalised adjacency). A graph with several connected components is laid out as
/// umap-learn does: each component's own spectral layout, scaled to half the distance to
/// the nearest other component and placed at ±e_i (≤ 2·dim components) or at the spectral
/// layout of the components' centroids in `data` (n × d row-major; may be empty, then the
/// placement is random). Components too small for an eigensolver, and any failure of the
/// solver, get uniform random coordinates (`fell_back` is set for the latter).
SpectralLayout spectral_layout(const CsrMatrix& graph, std::size_t dim, ConstMatrixF data, std::uint64_t seed);

}  // namespace spatialembed
