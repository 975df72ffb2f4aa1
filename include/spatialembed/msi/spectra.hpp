#pragma once
/// @file
/// Spectra processing: mean / max spectrum over the pixels of an imzML dataset, TIC and RMS
/// normalisation, peak picking on a spectrum (local maxima, MAD noise, SNR, top_n) and
/// isotope pairs (peaks 1.00336/z apart).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/msi/imzml_reader.hpp"
#include "spatialembed/msi/ion_images.hpp"

namespace spatialembed {

/// A spectrum: increasing m/z values and their intensities (float64, same length).
struct Spectrum {
  std::vector<double> mz;
  std::vector<double> intensities;
};

/// Mean (or max) over pixels.
enum class SpectrumAggregate { mean, max };
/// Parses "mean" or "max"; throws InvalidArgument otherwise.
SpectrumAggregate parse_spectrum_aggregate(const std::string& name);
/// The name `parse_spectrum_aggregate` accepts.
const char* to_string(SpectrumAggregate aggregate);

/// Options of `mean_spectrum`. `validate()` is the one place they are checked.
struct MeanSpectrumOptions {
  SpectrumAggregate aggregate = SpectrumAggregate::mean;  ///< mean or max over the pixels
  double bin_ppm = 5.0;      ///< processed mode only: width of the common m/z bins, ppm; > 0
  SpectrumNormalization normalization = SpectrumNormalization::none;  ///< of each pixel first
  int num_threads = 0;       ///< worker threads; 0 = all cores; ≥ 0
  ProgressCallback progress; ///< (spectra done, total)

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// The mean (or max) spectrum over all pixels. Continuous mode: on the shared m/z axis.
/// Processed mode: on a common axis of geometric bins from the smallest to the largest m/z,
/// bin b = [lo·r^b, lo·r^(b+1)) with r = 1 + bin_ppm·1e-6, reported at its centre lo·r^(b+½);
/// each pixel's intensities falling into one bin are summed first; every bin is returned,
/// empty ones as 0. The mean divides by the number of pixels (empty spectra included).
/// One pass (two in processed mode: m/z range, then bins), multithreaded; the result does not
/// depend on num_threads (fixed partition into 8 partial sums, added in order).
/// Throws InvalidArgument for invalid options or a processed axis of more than 2^24 bins.
Spectrum mean_spectrum(const ImzMLReader& reader, const MeanSpectrumOptions& options = {});

/// Divides `intensities` in place by their sum (TIC) or root mean square; all-zero stays zero.
void normalize_spectrum(VectorView<double> intensities, SpectrumNormalization normalization);

/// Options of `pick_peaks`. `validate()` is the one place they are checked.
struct PeakPickingOptions {
  double snr = 3.0;              ///< minimum signal-to-noise ratio (intensity / noise); ≥ 0
  std::size_t half_window = 20;  ///< a peak is the maximum of the 2·half_window+1 points around it; ≥ 1
  std::size_t top_n = 0;         ///< keep the n most intense peaks; 0 = all

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Peaks of a spectrum, in increasing m/z.
struct Peaks {
  std::vector<double> mz;           ///< m/z of each peak
  std::vector<double> intensities;  ///< intensity at the peak
  std::vector<double> snr;          ///< intensity / noise
  std::vector<std::size_t> index;   ///< position in the input spectrum
  double noise = 0;                 ///< the noise level used (MAD)
};

/// Peak picking as R MALDIquant's detectPeaks(method = "MAD"): a point is a peak when it is
/// the largest in the window of ±half_window points (the leftmost of equal maxima) and its
/// intensity is ≥ snr × noise, where noise = MAD = 1.4826 · median(|y − median(y)|) over the
/// whole spectrum. When that MAD is 0 (a spectrum mostly of zeros, as a binned centroid mean
/// spectrum is), the MAD of the positive intensities is used instead. Then the `top_n` most
/// intense peaks are kept (ties: lower m/z first). Throws InvalidArgument for invalid options,
/// arrays of different lengths or non-finite values.
Peaks pick_peaks(VectorView<const double> mz, VectorView<const double> intensities,
                 const PeakPickingOptions& options = {});

/// Options of `find_isotope_pairs`. `validate()` is the one place they are checked.
struct IsotopePairOptions {
  double tolerance = 10.0;                  ///< allowed error of the spacing, in `unit`; > 0
  ToleranceUnit unit = ToleranceUnit::ppm;  ///< ppm (of the heavier peak's m/z) or Da
  int max_charge = 1;                       ///< charges 1..max_charge are tried; ≥ 1
  double spacing = 1.00336;                 ///< 13C − 12C mass difference, Da; > 0

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Two peaks one isotope apart.
struct IsotopePair {
  std::size_t light = 0;  ///< index of the lighter peak in the input
  std::size_t heavy = 0;  ///< index of the heavier peak
  int charge = 1;         ///< z with mz[heavy] − mz[light] ≈ spacing / z
  double error = 0;       ///< (mz[heavy] − mz[light]) − spacing / z, Da
};

/// Every pair (i, j) with |mz[j] − mz[i] − spacing/z| ≤ tolerance for some z in
/// 1..max_charge (the smallest such z), ordered by (light, heavy). `mz` need not be sorted.
/// Used to judge ion-image clustering: isotopes of one molecule share an image.
/// Throws InvalidArgument for invalid options or non-finite m/z.
std::vector<IsotopePair> find_isotope_pairs(VectorView<const double> mz, const IsotopePairOptions& options = {});

}  // namespace spatialembed
