#pragma once
/// @file
/// Isotope co-clustering: the share of isotope pairs among the clustered ion images that fall
/// into one cluster — the criterion by which Zhang et al. (Anal Bioanal Chem 413:2803, 2021)
/// judge an ion-image clustering (isotopes of one molecule share their spatial distribution).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/msi/spectra.hpp"

namespace spatialembed {

/// How well a clustering of ion images keeps isotopes together.
struct IsotopeCoclustering {
  std::vector<IsotopePair> pairs;  ///< every isotope pair among the ion images' m/z
  std::size_t n_clustered = 0;     ///< pairs whose two images both have a cluster (label ≥ 0)
  std::size_t n_together = 0;      ///< of those, pairs in the same cluster
  /// n_together / n_clustered; NaN when no pair is clustered.
  double share() const;
};

/// Finds the isotope pairs among `mz` (`find_isotope_pairs` with `options`) and counts how
/// many of them `labels` (one per m/z, −1 = noise or not clustered) put into one cluster.
/// A pair with a noise image counts in neither n_clustered nor n_together: noise is not a
/// cluster. Throws InvalidArgument when the lengths differ (or as find_isotope_pairs does).
IsotopeCoclustering isotope_coclustering(VectorView<const double> mz, VectorView<const std::int32_t> labels,
                                         const IsotopePairOptions& options = {});

}  // namespace spatialembed
