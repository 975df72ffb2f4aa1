#pragma once
/// @file
/// Preprocessing of ion-image stacks before clustering: TIC normalisation of pixels, spike and
/// hotspot removal, median filtering, scaling to [0, 1]. Every step uses only measured pixels
/// (mask = 1) and leaves unmeasured pixels at 0.

#include <cstddef>
#include <string>

#include "spatialembed/msi/ion_image_stack.hpp"

namespace spatialembed {

/// Options of `preprocess`. `validate()` is the one place they are checked.
struct PreprocessOptions {
  bool tic_normalize = false;      ///< divide each pixel by its sum over the images (step 1)
  /// Clip each measured pixel to the largest of its measured 8-neighbours (step 2): removes
  /// single-pixel hotspots, which a quantile clip misses in images with few non-zero pixels.
  bool remove_spikes = true;
  double hotspot_quantile = 0.99;  ///< clip each image at this quantile of its measured pixels (step 3); in (0, 1], 1 = off
  /// Take the hotspot quantile over the measured pixels with a non-zero value (METASPACE,
  /// pyImagingMSpec) instead of all measured pixels (Zhang et al. 2021), whose 0.99 quantile
  /// is 0 for an ion present in under 1 % of them: clipped to 0, its image would be dropped.
  bool hotspot_ignore_zeros = true;
  std::size_t median_filter = 0;   ///< side of the square median window (step 4); 0 = off, else odd ≥ 3
  bool scale = true;               ///< min–max scale each image to [0, 1] over measured pixels (step 5)
  int num_threads = 0;             ///< worker threads (images in parallel); 0 = all cores; ≥ 0

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;

  /// Calls `visit(name, member pointer, description)` for every field above, in order. The
  /// Python binding (one property per field, with this description), `same_preprocessing`,
  /// `describe` and the Python estimators (one parameter per field) are all written over it,
  /// so a new field needs only its line above, its line here, `validate()` and the table in
  /// docs/msi.md.
  template <class Visitor>
  static void for_each_field(Visitor&& visit) {
    visit("tic_normalize", &PreprocessOptions::tic_normalize,
          "Divide each pixel by its sum over the images (step 1). Default False.");
    visit("remove_spikes", &PreprocessOptions::remove_spikes,
          "Clip each measured pixel to the largest of its measured 8-neighbours (step 2): removes single-pixel "
          "hotspots. Default True.");
    visit("hotspot_quantile", &PreprocessOptions::hotspot_quantile,
          "Clip each image at this quantile of its measured pixels (step 3); in (0, 1], 1 = off. Default 0.99.");
    visit("hotspot_ignore_zeros", &PreprocessOptions::hotspot_ignore_zeros,
          "Take the hotspot quantile over the measured pixels with a non-zero value (METASPACE) instead of all "
          "measured pixels (Zhang et al.), which clips an ion present in under 1 % of them to 0. Default True.");
    visit("median_filter", &PreprocessOptions::median_filter,
          "Side of the square median window (step 4); 0 = off, else odd >= 3. Default 0.");
    visit("scale", &PreprocessOptions::scale,
          "Min-max scale each image to [0, 1] over its measured pixels (step 5). Default True.");
    visit("num_threads", &PreprocessOptions::num_threads,
          "Worker threads (images in parallel); 0 = all cores; >= 0. Results do not depend on it.");
  }
  /// "tic_normalize = false, remove_spikes = true, …": every field but num_threads.
  std::string describe() const;
};

/// True when `a` and `b` preprocess alike: every field equal but num_threads.
bool same_preprocessing(const PreprocessOptions& a, const PreprocessOptions& b);

/// Runs the enabled steps in the order above, in place. Results do not depend on num_threads.
/// Throws InvalidArgument for invalid options or an invalid stack (`IonImageStack::validate`).
void preprocess(IonImageStack& stack, const PreprocessOptions& options = {});

/// Divides each measured pixel's values (one per image) by their sum; all-zero pixels stay 0.
void tic_normalize_pixels(IonImageStack& stack, int num_threads = 0);
/// Clips each measured pixel to the largest value among its measured 8-neighbours (a pixel
/// without measured neighbours is kept): a pixel above all of its neighbours drops to the
/// highest of them, so one-pixel spikes go and every wider structure keeps its shape.
void remove_spikes(IonImageStack& stack, int num_threads = 0);
/// Clips each image at its `quantile` over measured pixels (linear interpolation between order
/// statistics, as numpy.quantile's default) — over those with a value ≠ 0 when `ignore_zeros`
/// (an image without one is left as it is). quantile in (0, 1].
void clip_hotspots(IonImageStack& stack, double quantile = 0.99, int num_threads = 0, bool ignore_zeros = false);
/// Replaces each measured pixel by the median of the measured pixels in the `size × size`
/// window around it (mean of the two middle values for an even count). size odd ≥ 3.
void median_filter(IonImageStack& stack, std::size_t size = 3, int num_threads = 0);
/// Maps each image's measured pixels linearly onto [0, 1] (min → 0, max → 1); a constant
/// image becomes all 0.
void scale_to_unit(IonImageStack& stack, int num_threads = 0);

}  // namespace spatialembed
