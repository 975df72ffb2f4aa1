#include "spatialembed/msi/spectra.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "msi/spectrum_kernels.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

SpectrumAggregate parse_spectrum_aggregate(const std::string& name) {
  if (name == "mean") return SpectrumAggregate::mean;
  if (name == "max") return SpectrumAggregate::max;
  detail::raise<InvalidArgument>("aggregate must be \"mean\" or \"max\", got \"{}\"", name);
}

const char* to_string(SpectrumAggregate aggregate) { return aggregate == SpectrumAggregate::mean ? "mean" : "max"; }

void MeanSpectrumOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(bin_ppm) && bin_ppm > 0 && bin_ppm < 1e6, InvalidArgument,
                     "bin_ppm must be in (0, 1e6), got {}", bin_ppm);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}", num_threads);
}

void PeakPickingOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(snr) && snr >= 0, InvalidArgument, "snr must be a finite number >= 0, got {}", snr);
  SPATIALEMBED_CHECK(half_window >= 1, InvalidArgument, "half_window must be >= 1, got {}", half_window);
}

void IsotopePairOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(tolerance) && tolerance > 0, InvalidArgument,
                     "tolerance must be a finite number > 0, got {}", tolerance);
  SPATIALEMBED_CHECK(max_charge >= 1, InvalidArgument, "max_charge must be >= 1, got {}", max_charge);
  SPATIALEMBED_CHECK(std::isfinite(spacing) && spacing > 0, InvalidArgument, "spacing must be a finite number > 0, got {}",
                     spacing);
}

void normalize_spectrum(VectorView<double> y, SpectrumNormalization normalization) {
  if (normalization == SpectrumNormalization::none || y.empty()) return;
  double s = 0;
  for (double v : y) s += normalization == SpectrumNormalization::tic ? v : v * v;
  if (normalization == SpectrumNormalization::rms) s = std::sqrt(s / static_cast<double>(y.size()));
  if (s == 0) return;
  for (double& v : y) v /= s;
}

namespace {

constexpr std::size_t kPartials = 8;       // fixed partition: results independent of num_threads
constexpr std::size_t kBlock = 4096;       // spectra between progress reports
constexpr std::size_t kMaxBins = std::size_t{1} << 24;

// Runs fn(i, partial) over all spectra: block by block; inside a block, partial c handles the
// c-th eighth in increasing i, so every partial sees its spectra in one fixed order.
template <class F>
void partitioned_pass(std::size_t n, int num_threads, const ProgressCallback& progress, std::size_t done_offset,
                      std::size_t total, F&& fn) {
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t stop = std::min(n, start + kBlock);
    parallel_for(kPartials, num_threads, [&](std::size_t c) {
      const std::size_t lo = start + (stop - start) * c / kPartials, hi = start + (stop - start) * (c + 1) / kPartials;
      for (std::size_t i = lo; i < hi; ++i) fn(i, c);
    }, 1);
    if (progress && !progress(done_offset + stop, total)) throw Cancelled("mean spectrum cancelled");
  }
}

void combine(std::vector<std::vector<double>>& partial, SpectrumAggregate aggregate, std::vector<double>& out) {
  out = std::move(partial[0]);
  for (std::size_t c = 1; c < partial.size(); ++c) {
    for (std::size_t b = 0; b < out.size(); ++b) {
      out[b] = aggregate == SpectrumAggregate::mean ? out[b] + partial[c][b] : std::max(out[b], partial[c][b]);
    }
  }
}

}  // namespace

Spectrum mean_spectrum(const ImzMLReader& reader, const MeanSpectrumOptions& options) {
  options.validate();
  const std::size_t n = reader.size();
  const bool mean = options.aggregate == SpectrumAggregate::mean;
  Spectrum result;
  std::vector<std::vector<double>> partial(kPartials);

  if (reader.mode() == ImzMLMode::continuous) {
    reader.read_mz(0, result.mz);
    const std::size_t m = result.mz.size();
    for (auto& p : partial) p.assign(m, 0.0);
    partitioned_pass(n, options.num_threads, options.progress, 0, n, [&](std::size_t i, std::size_t c) {
      thread_local std::vector<double> y;
      thread_local std::vector<char> scratch;
      reader.read_array(reader.spectra()[i].intensity, y, scratch);
      normalize_spectrum(y, options.normalization);
      auto& acc = partial[c];
      if (mean) {
        for (std::size_t b = 0; b < m; ++b) acc[b] += y[b];
      } else {
        for (std::size_t b = 0; b < m; ++b) acc[b] = std::max(acc[b], y[b]);
      }
    });
    combine(partial, options.aggregate, result.intensities);
  } else {
    // Pass 1: the m/z range.
    std::vector<double> first(n, std::numeric_limits<double>::infinity()), last(n, -std::numeric_limits<double>::infinity());
    partitioned_pass(n, options.num_threads, options.progress, 0, 2 * n, [&](std::size_t i, std::size_t) {
      thread_local std::vector<double> mz;
      thread_local std::vector<char> scratch;
      reader.read_array(reader.spectra()[i].mz, mz, scratch);
      msi_detail::check_increasing(mz, i, reader.ibd_path(), reader.spectra()[i].mz.offset);
      if (!mz.empty()) first[i] = mz.front(), last[i] = mz.back();
    });
    const double lo = *std::min_element(first.begin(), first.end());
    const double hi = *std::max_element(last.begin(), last.end());
    if (!(lo <= hi)) return result;  // every spectrum empty
    SPATIALEMBED_CHECK(lo > 0, InvalidArgument, "{}: m/z values must be > 0 for ppm bins, found {}", reader.path(), lo);
    const double log_r = std::log1p(options.bin_ppm * 1e-6);
    const double span = std::log(hi / lo) / log_r;
    SPATIALEMBED_CHECK(span < static_cast<double>(kMaxBins), InvalidArgument,
                       "m/z {}..{} in bins of {} ppm needs {:.0f} bins, more than {}; raise bin_ppm", lo, hi,
                       options.bin_ppm, span + 1, kMaxBins);
    const std::size_t bins = static_cast<std::size_t>(span) + 1;
    for (auto& p : partial) p.assign(bins, 0.0);
    // Pass 2: bin each pixel, sum within a bin, then add (mean) or take the max into the partial.
    partitioned_pass(n, options.num_threads, options.progress, n, 2 * n, [&](std::size_t i, std::size_t c) {
      thread_local std::vector<double> mz, y;
      thread_local std::vector<char> scratch;
      reader.read_array(reader.spectra()[i].mz, mz, scratch);
      reader.read_array(reader.spectra()[i].intensity, y, scratch);
      normalize_spectrum(y, options.normalization);
      auto& acc = partial[c];
      std::size_t current = bins;
      double run = 0;
      auto flush = [&] {
        if (current < bins) acc[current] = mean ? acc[current] + run : std::max(acc[current], run);
      };
      for (std::size_t k = 0; k < mz.size(); ++k) {
        const auto b = std::min(bins - 1, static_cast<std::size_t>(std::max(0.0, std::log(mz[k] / lo) / log_r)));
        if (b != current) {
          flush();
          current = b;
          run = 0;
        }
        run += y[k];
      }
      flush();
    });
    combine(partial, options.aggregate, result.intensities);
    result.mz.resize(bins);
    for (std::size_t b = 0; b < bins; ++b) result.mz[b] = lo * std::exp((static_cast<double>(b) + 0.5) * log_r);
  }
  if (mean) {
    for (double& v : result.intensities) v /= static_cast<double>(n);
  }
  return result;
}

namespace {

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid)));
}

double mad(const std::vector<double>& values) {
  const double center = median_of(values);
  std::vector<double> deviation(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) deviation[i] = std::abs(values[i] - center);
  return 1.4826 * median_of(std::move(deviation));
}

}  // namespace

Peaks pick_peaks(VectorView<const double> mz, VectorView<const double> y, const PeakPickingOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(mz.size() == y.size(), InvalidArgument, "mz and intensities must have the same length, got {} and {}",
                     mz.size(), y.size());
  for (std::size_t i = 0; i < y.size(); ++i) {
    SPATIALEMBED_CHECK(std::isfinite(mz[i]) && std::isfinite(y[i]), InvalidArgument,
                       "mz[{}] = {} and intensities[{}] = {} must be finite", i, mz[i], i, y[i]);
  }
  Peaks peaks;
  const std::size_t n = y.size();
  if (n == 0) return peaks;
  std::vector<double> values(y.begin(), y.end());
  double noise = mad(values);
  if (noise == 0) {
    std::vector<double> positive;
    for (double v : values) {
      if (v > 0) positive.push_back(v);
    }
    noise = mad(positive);
  }
  peaks.noise = noise;
  const std::size_t h = options.half_window;
  std::vector<std::size_t> found;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = y[i];
    if (!(v > 0) || v < options.snr * noise) continue;
    bool is_max = true;
    const std::size_t lo = i >= h ? i - h : 0, hi = std::min(n - 1, i + h);
    for (std::size_t j = lo; j < i && is_max; ++j) is_max = y[j] < v;
    for (std::size_t j = i + 1; j <= hi && is_max; ++j) is_max = y[j] <= v;
    if (is_max) found.push_back(i);
  }
  if (options.top_n > 0 && found.size() > options.top_n) {
    std::stable_sort(found.begin(), found.end(), [&](std::size_t a, std::size_t b) { return y[a] > y[b]; });
    found.resize(options.top_n);
    std::sort(found.begin(), found.end());
  }
  for (std::size_t i : found) {
    peaks.mz.push_back(mz[i]);
    peaks.intensities.push_back(y[i]);
    peaks.snr.push_back(noise > 0 ? y[i] / noise : std::numeric_limits<double>::infinity());
    peaks.index.push_back(i);
  }
  return peaks;
}

std::vector<IsotopePair> find_isotope_pairs(VectorView<const double> mz, const IsotopePairOptions& options) {
  options.validate();
  for (std::size_t i = 0; i < mz.size(); ++i) {
    SPATIALEMBED_CHECK(std::isfinite(mz[i]), InvalidArgument, "mz[{}] must be finite, got {}", i, mz[i]);
  }
  std::vector<std::size_t> order(mz.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return mz[a] < mz[b]; });
  const bool ppm = options.unit == ToleranceUnit::ppm;
  std::vector<IsotopePair> pairs;
  for (std::size_t a = 0; a < order.size(); ++a) {
    const std::size_t first_pair = pairs.size();
    for (int z = 1; z <= options.max_charge; ++z) {
      const double target = mz[order[a]] + options.spacing / z;
      const double reach = ppm ? 2 * std::abs(target) * options.tolerance * 1e-6 + 1e-9 : options.tolerance;
      for (std::size_t b = a + 1; b < order.size() && mz[order[b]] <= target + reach; ++b) {
        const double heavy = mz[order[b]];
        const double error = heavy - mz[order[a]] - options.spacing / z;
        const double allowed = ppm ? std::abs(heavy) * options.tolerance * 1e-6 : options.tolerance;
        if (std::abs(error) > allowed) continue;
        bool seen = false;
        for (std::size_t p = first_pair; p < pairs.size() && !seen; ++p) seen = pairs[p].heavy == order[b];
        if (!seen) pairs.push_back({order[a], order[b], z, error});
      }
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const IsotopePair& p, const IsotopePair& q) {
    return p.light < q.light || (p.light == q.light && p.heavy < q.heavy);
  });
  return pairs;
}

}  // namespace spatialembed
