#include "spatialembed/msi/spectra.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/msi/imzml_writer.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

TEST_CASE("mean spectrum of the continuous kidney file equals a direct average", "[msi][spectra]") {
  const auto root = data_dir();
  if (root.empty()) return;
  ImzMLReader reader(root + "/msi/mouse_kidney/mouse_kidney_nyakas2013.imzML");
  MeanSpectrumOptions o;
  o.num_threads = 2;
  const auto mean = mean_spectrum(reader, o);
  std::vector<double> sum(3627, 0.0), maximum(3627, 0.0), y;
  for (std::size_t i = 0; i < reader.size(); ++i) {
    reader.read_intensities(i, y);
    for (std::size_t k = 0; k < y.size(); ++k) sum[k] += y[k], maximum[k] = std::max(maximum[k], y[k]);
  }
  REQUIRE(mean.mz.size() == 3627);
  for (std::size_t k = 0; k < 3627; k += 7) REQUIRE(mean.intensities[k] == Approx(sum[k] / 2222));
  o.aggregate = SpectrumAggregate::max;
  o.num_threads = 1;
  CHECK(mean_spectrum(reader, o).intensities == maximum);
  PeakPickingOptions p;
  const auto all = pick_peaks(mean.mz, mean.intensities, p);
  CHECK(all.mz.size() > 10);
  p.top_n = 10;
  const auto peaks = pick_peaks(mean.mz, mean.intensities, p);
  CHECK(peaks.mz.size() == 10);
  for (double m : peaks.mz) CHECK(std::find(all.mz.begin(), all.mz.end(), m) != all.mz.end());
  CHECK(std::is_sorted(peaks.mz.begin(), peaks.mz.end()));
}

TEST_CASE("mean spectrum of processed spectra bins in ppm, independent of threads", "[msi][spectra]") {
  ScratchDir dir("mean_processed");
  Rng rng(11);
  std::vector<std::vector<double>> mzs, ys;
  {
    ImzMLWriter writer(dir.file("p.imzML"));
    for (int x = 1; x <= 30; ++x) {
      std::vector<double> mz, y;
      for (double m = 500 + rng.uniform(); m < 600; m += 0.5 + rng.uniform()) mz.push_back(m), y.push_back(rng.uniform());
      writer.add_spectrum({x, 1, 1}, mz, y);
      for (auto& m : mz) m = static_cast<double>(m);
      mzs.push_back(mz);
      ys.push_back(y);
    }
  }
  ImzMLReader reader(dir.file("p.imzML"));
  MeanSpectrumOptions o;
  o.bin_ppm = 100;
  o.num_threads = 1;
  const auto a = mean_spectrum(reader, o);
  o.num_threads = 2;
  const auto b = mean_spectrum(reader, o);
  CHECK(a.intensities == b.intensities);
  double lo = 1e9;
  for (const auto& mz : mzs) lo = std::min(lo, mz.front());
  std::vector<double> expected(a.mz.size(), 0.0);
  const double r = std::log1p(100e-6);
  for (std::size_t i = 0; i < mzs.size(); ++i) {
    for (std::size_t k = 0; k < mzs[i].size(); ++k) {
      const auto bin = std::min(expected.size() - 1, static_cast<std::size_t>(std::log(mzs[i][k] / lo) / r));
      expected[bin] += ys[i][k] / 30;
    }
  }
  REQUIRE(a.intensities.size() == expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) REQUIRE(a.intensities[k] == Approx(expected[k]).margin(1e-12));
  CHECK(a.mz.front() == Approx(lo * std::exp(0.5 * r)));
  o.bin_ppm = 0;
  CHECK_THROWS_WITH(mean_spectrum(reader, o), Contains("bin_ppm"));
}

TEST_CASE("pick_peaks finds Gaussian peaks above the MAD noise, top_n keeps the strongest", "[msi][spectra]") {
  Rng rng(5);
  std::vector<double> mz, y;
  const std::vector<double> centres{510, 530, 555, 580}, heights{50, 10, 80, 30};
  for (double m = 500; m < 600; m += 0.05) {
    double v = std::abs(rng.normal());
    for (std::size_t c = 0; c < centres.size(); ++c) v += heights[c] * std::exp(-0.5 * std::pow((m - centres[c]) / 0.3, 2));
    mz.push_back(m);
    y.push_back(v);
  }
  PeakPickingOptions o;
  o.snr = 8;
  const auto peaks = pick_peaks(mz, y, o);
  REQUIRE(peaks.mz.size() == 4);
  for (std::size_t c = 0; c < 4; ++c) CHECK(std::abs(peaks.mz[c] - centres[c]) < 0.1);
  CHECK(peaks.noise > 0.5);
  CHECK(peaks.noise < 1.5);
  o.top_n = 2;
  const auto top = pick_peaks(mz, y, o);
  REQUIRE(top.mz.size() == 2);
  CHECK(std::abs(top.mz[0] - 510) < 0.1);
  CHECK(std::abs(top.mz[1] - 555) < 0.1);
  const std::vector<double> short_y{1, 2};
  CHECK_THROWS_AS(pick_peaks(mz, short_y, o), InvalidArgument);
  o.half_window = 0;
  CHECK_THROWS_WITH(pick_peaks(mz, y, o), Contains("half_window"));
}

TEST_CASE("isotope pairs: 1.00336/z spacing within the tolerance", "[msi][spectra]") {
  const std::vector<double> mz{701.5, 500.0, 501.00336, 502.0068, 700.0, 700.50168, 800.0};
  IsotopePairOptions o;
  o.tolerance = 5;
  auto pairs = find_isotope_pairs(mz, o);
  REQUIRE(pairs.size() == 2);
  CHECK((pairs[0].light == 1 && pairs[0].heavy == 2 && pairs[0].charge == 1));
  CHECK((pairs[1].light == 2 && pairs[1].heavy == 3));
  o.max_charge = 2;
  pairs = find_isotope_pairs(mz, o);
  REQUIRE(pairs.size() == 3);
  CHECK((pairs[2].light == 4 && pairs[2].heavy == 5 && pairs[2].charge == 2));
  o.max_charge = 0;
  CHECK_THROWS_WITH(find_isotope_pairs(mz, o), Contains("max_charge"));
}

TEST_CASE("normalize_spectrum: TIC and RMS", "[msi][spectra]") {
  std::vector<double> y{1, 3, 4};
  normalize_spectrum(y, SpectrumNormalization::tic);
  CHECK(y == std::vector<double>{0.125, 0.375, 0.5});
  std::vector<double> z{3, 4, 0};
  normalize_spectrum(z, SpectrumNormalization::rms);
  CHECK(z[0] == Approx(3 / std::sqrt(25.0 / 3)));
}
