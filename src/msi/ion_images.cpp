#include "spatialembed/msi/ion_images.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <numeric>

#include "msi/spectrum_kernels.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/memory.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

ToleranceUnit parse_tolerance_unit(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "ppm") return ToleranceUnit::ppm;
  if (lower == "da") return ToleranceUnit::da;
  throw InvalidArgument(fmt::format("tolerance unit must be \"ppm\" or \"da\", got \"{}\"", name));
}

WindowAggregate parse_window_aggregate(const std::string& name) {
  if (name == "sum") return WindowAggregate::sum;
  if (name == "max") return WindowAggregate::max;
  throw InvalidArgument(fmt::format("aggregate must be \"sum\" or \"max\", got \"{}\"", name));
}

SpectrumNormalization parse_spectrum_normalization(const std::string& name) {
  if (name == "none") return SpectrumNormalization::none;
  if (name == "tic") return SpectrumNormalization::tic;
  if (name == "rms") return SpectrumNormalization::rms;
  throw InvalidArgument(fmt::format("normalization must be \"none\", \"tic\" or \"rms\", got \"{}\"", name));
}

const char* to_string(ToleranceUnit unit) { return unit == ToleranceUnit::ppm ? "ppm" : "da"; }

const char* to_string(WindowAggregate aggregate) { return aggregate == WindowAggregate::sum ? "sum" : "max"; }

const char* to_string(SpectrumNormalization normalization) {
  switch (normalization) {
    case SpectrumNormalization::none: return "none";
    case SpectrumNormalization::tic: return "tic";
    case SpectrumNormalization::rms: return "rms";
  }
  return "?";
}

void IonImageOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(tolerance) && tolerance > 0, InvalidArgument,
                     "tolerance must be a finite number > 0 ({}), got {}", unit == ToleranceUnit::ppm ? "ppm" : "Da",
                     tolerance);
  SPATIALEMBED_CHECK(unit != ToleranceUnit::ppm || tolerance < 1e6, InvalidArgument,
                     "tolerance must be < 1e6 ppm (a window narrower than the m/z itself), got {}", tolerance);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}", num_threads);
}

namespace {

// One m/z window, by position in the output.
struct Window {
  double lo, hi;
  std::size_t image;
};

template <class T>
double normalization_factor(const T* y, std::size_t m, SpectrumNormalization normalization) {
  if (normalization == SpectrumNormalization::none) return 1.0;
  double s = 0;
  if (normalization == SpectrumNormalization::tic) {
    for (std::size_t i = 0; i < m; ++i) s += static_cast<double>(y[i]);
    return s > 0 ? 1.0 / s : 0.0;
  }
  for (std::size_t i = 0; i < m; ++i) s += static_cast<double>(y[i]) * static_cast<double>(y[i]);
  return s > 0 ? 1.0 / std::sqrt(s / static_cast<double>(m)) : 0.0;
}

// Continuous mode: every window is a fixed channel range [begin, end) of the shared axis.
template <class T>
void continuous_pixel(const T* y, std::size_t m, const std::vector<std::pair<std::size_t, std::size_t>>& ranges,
                      const IonImageOptions& options, float* out, std::size_t stride) {
  const double scale = normalization_factor(y, m, options.normalization);
  for (std::size_t k = 0; k < ranges.size(); ++k) {
    double value = 0;
    if (options.aggregate == WindowAggregate::sum) {
      for (std::size_t c = ranges[k].first; c < ranges[k].second; ++c) value += static_cast<double>(y[c]);
    } else if (ranges[k].first < ranges[k].second) {
      value = static_cast<double>(y[ranges[k].first]);
      for (std::size_t c = ranges[k].first + 1; c < ranges[k].second; ++c) value = std::max(value, static_cast<double>(y[c]));
    }
    out[k * stride] = static_cast<float>(value * scale);
  }
}

// Processed mode: one merge walk of the sorted peaks against the sorted windows.
template <class T>
void processed_pixel(const double* mzs, const T* ys, std::size_t m, const std::vector<Window>& windows,
                     const IonImageOptions& options, float* out, std::size_t stride) {
  const double scale = normalization_factor(ys, m, options.normalization);
  std::size_t begin = 0;
  for (const Window& w : windows) {
    while (begin < m && mzs[begin] < w.lo) ++begin;
    if (begin == m) break;  // this and every later window lie above the spectrum: their pixels stay 0
    double value = 0;
    if (options.aggregate == WindowAggregate::sum) {
      for (std::size_t c = begin; c < m && mzs[c] <= w.hi; ++c) value += static_cast<double>(ys[c]);
    } else if (mzs[begin] <= w.hi) {
      value = static_cast<double>(ys[begin]);
      for (std::size_t c = begin + 1; c < m && mzs[c] <= w.hi; ++c) value = std::max(value, static_cast<double>(ys[c]));
    }
    out[w.image * stride] = static_cast<float>(value * scale);
  }
}

}  // namespace

IonImageStack extract_ion_images(const ImzMLReader& reader, VectorView<const double> mz,
                                 const IonImageOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(!mz.empty(), InvalidArgument, "mz must hold at least one m/z, got none");
  for (std::size_t k = 0; k < mz.size(); ++k) {
    SPATIALEMBED_CHECK(std::isfinite(mz[k]) && mz[k] > 0, InvalidArgument, "mz[{}] must be a finite m/z > 0, got {}",
                       k, mz[k]);
  }
  const auto& spectra = reader.spectra();
  const std::size_t n = spectra.size();

  // Geometry: the bounding box of the measured pixels.
  IonImageStack stack;
  std::int32_t x0 = spectra[0].coordinate.x, x1 = x0, y0 = spectra[0].coordinate.y, y1 = y0;
  for (const auto& s : spectra) {
    x0 = std::min(x0, s.coordinate.x), x1 = std::max(x1, s.coordinate.x);
    y0 = std::min(y0, s.coordinate.y), y1 = std::max(y1, s.coordinate.y);
  }
  stack.width = static_cast<std::size_t>(x1 - x0) + 1;
  stack.height = static_cast<std::size_t>(y1 - y0) + 1;
  stack.origin_x = x0;
  stack.origin_y = y0;
  stack.pixel_size_x = reader.metadata().pixel_size_x;
  stack.pixel_size_y = reader.metadata().pixel_size_y;
  stack.mz.assign(mz.begin(), mz.end());
  const std::size_t P = stack.n_pixels(), K = mz.size();
  // Before any allocation: the images, the pixel owners and the mask, against this machine's
  // memory (a few far-off coordinates make a canvas far larger than the measured pixels).
  const std::string canvas = fmt::format(
      "{}: the pixel coordinates of its {} spectra (x {}..{}, y {}..{}) span a canvas of {} x {} pixels; {} ion "
      "image(s) on it",
      reader.path(), n, x0, x1, y0, y1, stack.width, stack.height, K);
  check_memory((static_cast<double>(K) * sizeof(float) + sizeof(std::int64_t) + 1) * static_cast<double>(P), canvas);
  SPATIALEMBED_CHECK(K <= (std::size_t{1} << 40) / P, InvalidArgument, "{}: too many values to hold ({})", canvas,
                     static_cast<double>(K) * static_cast<double>(P));
  std::vector<std::size_t> pixel(n);
  std::vector<std::int64_t> owner(P, -1);
  stack.mask.assign(P, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = spectra[i].coordinate;
    pixel[i] = static_cast<std::size_t>(c.y - y0) * stack.width + static_cast<std::size_t>(c.x - x0);
    SPATIALEMBED_CHECK(owner[pixel[i]] < 0, InvalidArgument,
                       "{}: spectra {} and {} share the pixel (x={}, y={}) at different z; ion images are 2-D",
                       reader.path(), owner[pixel[i]], i, c.x, c.y);
    owner[pixel[i]] = static_cast<std::int64_t>(i);
    stack.mask[pixel[i]] = 1;
  }
  stack.images.assign(K * P, 0.0f);

  std::vector<Window> windows(K);
  for (std::size_t k = 0; k < K; ++k) {
    const double h = options.unit == ToleranceUnit::ppm ? mz[k] * options.tolerance * 1e-6 : options.tolerance;
    windows[k] = {mz[k] - h, mz[k] + h, k};
  }
  std::sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.lo < b.lo || (a.lo == b.lo && a.image < b.image); });

  // Per-spectrum m/z extent, to warn about windows outside the data.
  std::vector<double> first_mz(n, std::numeric_limits<double>::infinity()), last_mz(n, -std::numeric_limits<double>::infinity());
  const bool continuous = reader.mode() == ImzMLMode::continuous;
  std::vector<std::pair<std::size_t, std::size_t>> ranges;  // continuous: channel range per image
  if (continuous) {
    std::vector<double> axis;
    reader.read_mz(0, axis);
    for (std::size_t c = 1; c < axis.size(); ++c) {
      SPATIALEMBED_CHECK(axis[c] >= axis[c - 1], FormatError,
                         "{}: the shared m/z array is not increasing at element {} ({} after {})", reader.ibd_path(), c,
                         axis[c], axis[c - 1]);
    }
    ranges.resize(K);
    for (std::size_t k = 0; k < K; ++k) {
      const double h = options.unit == ToleranceUnit::ppm ? mz[k] * options.tolerance * 1e-6 : options.tolerance;
      ranges[k].first = static_cast<std::size_t>(std::lower_bound(axis.begin(), axis.end(), mz[k] - h) - axis.begin());
      ranges[k].second = static_cast<std::size_t>(std::upper_bound(axis.begin(), axis.end(), mz[k] + h) - axis.begin());
    }
    if (!axis.empty()) {
      std::fill(first_mz.begin(), first_mz.end(), axis.front());
      std::fill(last_mz.begin(), last_mz.end(), axis.back());
    }
  }

  const std::size_t block = 512;
  for (std::size_t start = 0; start < n; start += block) {
    const std::size_t stop = std::min(n, start + block);
    parallel_for(stop - start, options.num_threads, [&](std::size_t j) {
      const std::size_t i = start + j;
      const SpectrumRef& s = spectra[i];
      float* out = stack.images.data() + pixel[i];
      thread_local std::vector<char> raw, scratch;
      thread_local std::vector<double> mzs;
      if (continuous) {
        raw.resize(static_cast<std::size_t>(s.intensity.length * byte_size(s.intensity.type)));
        reader.read_raw(s.intensity, raw.data(), scratch);
        msi_detail::visit_typed(raw.data(), s.intensity.type, [&](const auto* y) {
          continuous_pixel(y, static_cast<std::size_t>(s.intensity.length), ranges, options, out, P);
        });
        return;
      }
      reader.read_array(s.mz, mzs, scratch);
      const std::size_t m = mzs.size();
      if (m == 0) return;
      msi_detail::check_increasing(mzs, i, reader.ibd_path(), s.mz.offset);
      first_mz[i] = mzs.front();
      last_mz[i] = mzs.back();
      // Intensities stay in their stored type: no decoding pass.
      raw.resize(static_cast<std::size_t>(s.intensity.length * byte_size(s.intensity.type)));
      reader.read_raw(s.intensity, raw.data(), scratch);
      msi_detail::visit_typed(raw.data(), s.intensity.type, [&](const auto* ys) {
        processed_pixel(mzs.data(), ys, m, windows, options, out, P);
      });
    }, 64);
    if (options.progress && !options.progress(stop, n)) throw Cancelled("ion-image extraction cancelled");
  }

  const double lo = *std::min_element(first_mz.begin(), first_mz.end());
  const double hi = *std::max_element(last_mz.begin(), last_mz.end());
  std::size_t outside = 0;
  std::string listed;
  for (const Window& w : windows) {
    if (!(w.hi >= lo && w.lo <= hi)) {
      if (outside < 10) listed += fmt::format("{}{}", outside ? ", " : "", mz[w.image]);
      ++outside;
    }
  }
  if (outside > 0) {
    const std::string message = fmt::format(
        "{}: {} m/z window(s) lie outside the data's m/z range [{}, {}]; their ion images are all zero: {}{}",
        reader.path(), outside, lo, hi, listed, outside > 10 ? ", ..." : "");
    if (options.warn) {
      options.warn(message);
    } else {
      std::cerr << "spatialembed warning: " << message << '\n';
    }
  }
  return stack;
}

}  // namespace spatialembed
