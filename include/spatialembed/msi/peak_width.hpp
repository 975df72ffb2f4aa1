#pragma once
/// @file
/// Peak widths of a spectrum: the median half width at half maximum of picked peaks, in ppm —
/// the automatic m/z tolerance of `spatialembed cluster-ions` (an ion image then integrates
/// each peak over its FWHM).

#include <cstddef>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// Median half width at half maximum (HWHM) of the peaks at `index` of a spectrum, in ppm of
/// each peak's m/z. Per peak i with height y[i] > 0 and half = y[i] / 2, each side walks away
/// from i while the intensity stays above half and does not rise (y[j ± 1] ≤ y[j]); when it
/// falls to half or below, the side's half-maximum m/z is interpolated linearly between the
/// last point above half and the first at or below it; when a valley (the spectrum rising
/// again: a neighbouring peak, or a baseline above half) or the end of the spectrum comes
/// first, the side ends at that point's m/z. HWHM = (right − left) / 2 / mz[i] · 1e6.
/// Peaks with y[i] ≤ 0 are skipped. The median of an even count is the mean of the middle two.
///
/// @param mz           n increasing m/z values (float64)
/// @param intensities  n intensities (float64), finite
/// @param index        peak positions in the spectrum (e.g. `Peaks::index`), each < n
/// @return the median HWHM in ppm; NaN when no peak has a positive height.
/// Throws InvalidArgument when the lengths differ, an index is ≥ n, or a value is not finite.
double peak_half_width_ppm(VectorView<const double> mz, VectorView<const double> intensities,
                           const std::vector<std::size_t>& index);

}  // namespace spatialembed
