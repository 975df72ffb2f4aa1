#pragma once
/// @file
/// Ion-image extraction: every ion image of a list of m/z in one pass over the spectra.

#include <functional>
#include <string>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/msi/imzml_reader.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"

namespace spatialembed {

/// Unit of an m/z tolerance.
enum class ToleranceUnit {
  ppm,  ///< parts per million of the m/z: half-width = m/z · tolerance · 1e-6
  da,   ///< dalton (m/z units): half-width = tolerance
};
/// Parses "ppm" or "da" (any case); throws InvalidArgument otherwise.
ToleranceUnit parse_tolerance_unit(const std::string& name);
/// "ppm" or "da", as `parse_tolerance_unit` accepts.
const char* to_string(ToleranceUnit unit);

/// How the intensities inside an m/z window make one pixel value.
enum class WindowAggregate {
  sum,  ///< sum of the intensities in the window (the usual ion image)
  max,  ///< largest intensity in the window (0 when the window holds no value)
};
/// Parses "sum" or "max"; throws InvalidArgument otherwise.
WindowAggregate parse_window_aggregate(const std::string& name);
/// The name `parse_window_aggregate` accepts.
const char* to_string(WindowAggregate aggregate);

/// Normalisation of each pixel's spectrum before it enters an image.
enum class SpectrumNormalization {
  none,  ///< raw intensities
  tic,   ///< divided by the spectrum's TIC (sum of its intensities); TIC ≤ 0 gives 0
  rms,   ///< divided by the root mean square of its intensities
};
/// Parses "none", "tic" or "rms"; throws InvalidArgument otherwise.
SpectrumNormalization parse_spectrum_normalization(const std::string& name);
/// The name `parse_spectrum_normalization` accepts.
const char* to_string(SpectrumNormalization normalization);

/// Called with a human-readable warning (e.g. an m/z outside the data); empty = stderr.
using WarningCallback = std::function<void(const std::string& message)>;

/// Options of `extract_ion_images`. `validate()` is the one place they are checked.
struct IonImageOptions {
  double tolerance = 10.0;                   ///< half-width of each m/z window, in `unit`; > 0
  ToleranceUnit unit = ToleranceUnit::ppm;   ///< ppm or Da
  WindowAggregate aggregate = WindowAggregate::sum;  ///< sum or max of the window
  SpectrumNormalization normalization = SpectrumNormalization::none;  ///< per pixel, before windowing
  int num_threads = 0;                       ///< worker threads; 0 = all cores; ≥ 0
  ProgressCallback progress;                 ///< (spectra done, spectra total), from the calling thread
  WarningCallback warn;                      ///< warnings; empty = printed to stderr

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Builds the ion image of every m/z in `mz` (float64, any order, duplicates allowed) in one
/// pass over the spectra, multithreaded: pixel (x, y) of image k aggregates the intensities
/// whose m/z lies in the closed window [mz_k − h, mz_k + h] (h from `tolerance` and `unit`).
/// The images cover the bounding box of the measured pixels (origin = smallest x, y); the
/// mask marks the pixels that have a spectrum; pixel size comes from the file.
///
/// An m/z whose window lies outside every spectrum's m/z range gives an all-zero image and a
/// warning (not an error). Throws InvalidArgument for invalid options, an empty or non-finite
/// `mz`, or spectra sharing (x, y) at different z; FormatError/IOError from reading; Cancelled
/// when `progress` returns false. Results do not depend on num_threads. Memory: the output
/// stack plus one spectrum per thread.
IonImageStack extract_ion_images(const ImzMLReader& reader, VectorView<const double> mz,
                                 const IonImageOptions& options = {});

}  // namespace spatialembed
