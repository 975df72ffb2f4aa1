#pragma once
/// @file
/// Preprocessing of ion-image stacks before clustering: TIC normalisation of pixels, hotspot
/// removal, median filtering, scaling to [0, 1]. Every step uses only measured pixels
/// (mask = 1) and leaves unmeasured pixels at 0.

#include <cstddef>

#include "spatialembed/msi/ion_image_stack.hpp"

namespace spatialembed {

/// Options of `preprocess`. `validate()` is the one place they are checked.
struct PreprocessOptions {
  bool tic_normalize = false;      ///< divide each pixel by its sum over the images (step 1)
  double hotspot_quantile = 0.99;  ///< clip each image at this quantile of its measured pixels (step 2); in (0, 1], 1 = off
  std::size_t median_filter = 0;   ///< side of the square median window (step 3); 0 = off, else odd ≥ 3
  bool scale = true;               ///< min–max scale each image to [0, 1] over measured pixels (step 4)
  int num_threads = 0;             ///< worker threads (images in parallel); 0 = all cores; ≥ 0

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Runs the enabled steps in the order above, in place. Results do not depend on num_threads.
/// Throws InvalidArgument for invalid options or an invalid stack (`IonImageStack::validate`).
void preprocess(IonImageStack& stack, const PreprocessOptions& options = {});

/// Divides each measured pixel's values (one per image) by their sum; all-zero pixels stay 0.
void tic_normalize_pixels(IonImageStack& stack, int num_threads = 0);
/// Clips each image at its `quantile` over measured pixels (linear interpolation between order
/// statistics, as numpy.quantile's default). quantile in (0, 1].
void clip_hotspots(IonImageStack& stack, double quantile = 0.99, int num_threads = 0);
/// Replaces each measured pixel by the median of the measured pixels in the `size × size`
/// window around it (mean of the two middle values for an even count). size odd ≥ 3.
void median_filter(IonImageStack& stack, std::size_t size = 3, int num_threads = 0);
/// Maps each image's measured pixels linearly onto [0, 1] (min → 0, max → 1); a constant
/// image becomes all 0.
void scale_to_unit(IonImageStack& stack, int num_threads = 0);

}  // namespace spatialembed
