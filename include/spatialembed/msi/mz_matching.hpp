#pragma once
/// @file
/// m/z matching: each m/z's nearest reference m/z within a tolerance (ion images to an m/z
/// list, to a reference grouping or to a ground truth).

#include <cstdint>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/msi/ion_images.hpp"

namespace spatialembed {

/// Options of `match_mz`. `validate()` is the one place they are checked.
struct MzMatchOptions {
  double tolerance = 10.0;                  ///< largest |reference − m/z| accepted, in `unit`; finite, > 0
  ToleranceUnit unit = ToleranceUnit::ppm;  ///< ppm (of each matched m/z, not of the reference) or Da

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// For each of `mz`, the index (into `reference_mz`) of the nearest reference m/z when it lies
/// within the tolerance, else −1. Ties in distance go to the smaller reference m/z; equal
/// reference values to the lowest index. Neither array need be sorted; O((n + m) log m).
///
/// @param mz            n m/z values (float64), finite
/// @param reference_mz  m reference m/z values (float64), finite; may be empty (all −1)
/// @return n indices (int64), −1 = no reference within the tolerance.
/// Throws InvalidArgument for invalid options or a non-finite m/z.
std::vector<std::int64_t> match_mz(VectorView<const double> mz, VectorView<const double> reference_mz,
                                   const MzMatchOptions& options = {});

}  // namespace spatialembed
