#include "spatialembed/msi/ion_images.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/memory.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/msi/imzml_writer.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

struct Synthetic {
  std::vector<std::vector<double>> mz, y;
  std::vector<PixelCoordinate> xy;
};

Synthetic write_synthetic(const std::string& path, ImzMLMode mode, std::uint64_t seed) {
  Synthetic s;
  Rng rng(seed);
  ImzMLWriterOptions options;
  options.mode = mode;
  options.pixel_size_x = 20;
  ImzMLWriter writer(path, options);
  std::vector<double> axis;
  for (double m = 400; m < 420; m *= 1.00002) axis.push_back(m);
  for (int y = 3; y <= 9; ++y) {
    for (int x = 2; x <= 12; ++x) {
      if ((x + y) % 7 == 0) continue;
      std::vector<double> mz = axis, v;
      if (mode == ImzMLMode::processed) {
        mz.clear();
        for (double m = 400 + rng.uniform() * 0.01; m < 420; m += 0.005 + 0.05 * rng.uniform()) mz.push_back(m);
      }
      for (double m : mz) v.push_back(static_cast<float>(rng.uniform() * 100 * (1 + std::sin(m)) * x));
      for (auto& m : mz) m = mode == ImzMLMode::processed ? m : m;
      writer.add_spectrum({x, y, 1}, mz, v);
      s.mz.push_back(mz);
      s.y.push_back(v);
      s.xy.push_back({x, y, 1});
    }
  }
  writer.close();
  return s;
}

// Brute force: every pixel, every window, straight from the in-memory spectra.
float reference(const Synthetic& s, std::size_t i, double centre, const IonImageOptions& o) {
  const double h = o.unit == ToleranceUnit::ppm ? centre * o.tolerance * 1e-6 : o.tolerance;
  double value = o.aggregate == WindowAggregate::sum ? 0.0 : -INFINITY, norm = 0;
  for (std::size_t k = 0; k < s.mz[i].size(); ++k) {
    norm += o.normalization == SpectrumNormalization::rms ? s.y[i][k] * s.y[i][k] : s.y[i][k];
    if (s.mz[i][k] >= centre - h && s.mz[i][k] <= centre + h) {
      value = o.aggregate == WindowAggregate::sum ? value + s.y[i][k] : std::max(value, s.y[i][k]);
    }
  }
  if (std::isinf(value)) value = 0;
  if (o.normalization == SpectrumNormalization::tic) value /= norm;
  if (o.normalization == SpectrumNormalization::rms) value /= std::sqrt(norm / static_cast<double>(s.mz[i].size()));
  return static_cast<float>(value);
}

}  // namespace

TEST_CASE("extract_ion_images equals a brute-force window sum, in both modes", "[msi][ion_images]") {
  ScratchDir dir("ion_images");
  for (const auto mode : {ImzMLMode::continuous, ImzMLMode::processed}) {
    const auto s = write_synthetic(dir.file("s.imzML"), mode, 3);
    ImzMLReader reader(dir.file("s.imzML"));
    const std::vector<double> centres{405.0, 401.2345, 419.99, 410.0, 405.0, 412.5};
    for (const auto unit : {ToleranceUnit::ppm, ToleranceUnit::da}) {
      for (const auto aggregate : {WindowAggregate::sum, WindowAggregate::max}) {
        for (const auto normalization : {SpectrumNormalization::none, SpectrumNormalization::tic, SpectrumNormalization::rms}) {
          IonImageOptions o;
          o.unit = unit;
          o.tolerance = unit == ToleranceUnit::ppm ? 25 : 0.02;
          o.aggregate = aggregate;
          o.normalization = normalization;
          o.num_threads = 2;
          const auto stack = extract_ion_images(reader, centres, o);
          REQUIRE(stack.width == 11);
          REQUIRE(stack.height == 7);
          CHECK(stack.origin_x == 2);
          CHECK(stack.origin_y == 3);
          CHECK(stack.pixel_size_x == 20);
          CHECK(stack.n_measured() == s.xy.size());
          for (std::size_t i = 0; i < s.xy.size(); ++i) {
            const std::size_t p = static_cast<std::size_t>(s.xy[i].y - 3) * 11 + static_cast<std::size_t>(s.xy[i].x - 2);
            CHECK(stack.mask[p] == 1);
            for (std::size_t k = 0; k < centres.size(); ++k) {
              INFO("mode " << to_string(mode) << " unit " << int(unit) << " agg " << int(aggregate) << " norm " << int(normalization) << " k " << k << " i " << i);
              REQUIRE(stack.image(k)[p] == Approx(reference(s, i, centres[k], o)).epsilon(1e-5).margin(1e-12));
            }
          }
          for (std::size_t p = 0; p < stack.n_pixels(); ++p) {
            if (!stack.mask[p]) CHECK(stack.image(0)[p] == 0.0f);
          }
        }
      }
    }
    // Same output for every thread count.
    IonImageOptions one, many;
    one.num_threads = 1;
    many.num_threads = 3;
    CHECK(extract_ion_images(reader, centres, one).images == extract_ion_images(reader, centres, many).images);
  }
}

TEST_CASE("extract_ion_images: bad options, and an m/z outside the data warns", "[msi][ion_images][bad_input]") {
  ScratchDir dir("ion_images_bad");
  write_synthetic(dir.file("s.imzML"), ImzMLMode::processed, 5);
  ImzMLReader reader(dir.file("s.imzML"));
  const std::vector<double> one_mz{405}, no_mz, nan_mz{NAN}, two_mz{405, 900};
  IonImageOptions o;
  o.tolerance = 0;
  CHECK_THROWS_WITH(extract_ion_images(reader, one_mz, o), Contains("tolerance must be") && Contains("got 0"));
  o.tolerance = -1;
  CHECK_THROWS_AS(extract_ion_images(reader, one_mz, o), InvalidArgument);
  o = {};
  CHECK_THROWS_WITH(extract_ion_images(reader, no_mz, o), Contains("at least one"));
  CHECK_THROWS_WITH(extract_ion_images(reader, nan_mz, o), Contains("mz[0]"));
  std::vector<std::string> warnings;
  o.warn = [&](const std::string& w) { warnings.push_back(w); };
  const auto stack = extract_ion_images(reader, two_mz, o);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Contains("1 m/z window(s)") && Contains("900"));
  for (std::size_t p = 0; p < stack.n_pixels(); ++p) CHECK(stack.image(1)[p] == 0.0f);
  o.progress = [](std::size_t, std::size_t) { return false; };
  CHECK_THROWS_AS(extract_ion_images(reader, one_mz, o), Cancelled);
}

TEST_CASE("kidney ion images: the section's outline, identical from profile and brute force", "[msi][ion_images]") {
  const auto root = data_dir();
  if (root.empty()) return;
  ImzMLReader reader(root + "/msi/mouse_kidney/mouse_kidney_nyakas2013.imzML");
  const std::vector<double> centres{4963.0, 6225.0, 8565.0};
  IonImageOptions o;
  o.tolerance = 500;
  const auto stack = extract_ion_images(reader, centres, o);
  CHECK(stack.width == 73);
  CHECK(stack.height == 38);
  CHECK(stack.n_measured() == 2222);
  std::vector<double> mz, y;
  reader.read_mz(0, mz);
  for (std::size_t i = 0; i < reader.size(); i += 37) {
    reader.read_intensities(i, y);
    const auto c = reader.coordinate(i);
    const std::size_t p = static_cast<std::size_t>(c.y - 61) * 73 + static_cast<std::size_t>(c.x - 29);
    for (std::size_t k = 0; k < centres.size(); ++k) {
      double sum = 0;
      for (std::size_t j = 0; j < mz.size(); ++j) {
        if (std::abs(mz[j] - centres[k]) <= centres[k] * 500e-6) sum += y[j];
      }
      REQUIRE(stack.image(k)[p] == Approx(sum));
    }
  }
}

TEST_CASE("extract_ion_images: a canvas too large for memory is refused before allocating, with its size",
          "[msi][ion_images][bad_input]") {
  ScratchDir dir("ion_images_canvas");
  const std::vector<double> mz{405, 410}, y{1, 2}, centres{405};
  const auto write = [&](const std::string& name, PixelCoordinate far) {
    ImzMLWriter writer(dir.file(name), {});
    writer.add_spectrum({1, 1, 1}, mz, y);
    writer.add_spectrum(far, mz, y);
    writer.close();
  };
  // Coordinates at the allowed maximum (2^24): a 16,777,216² canvas, petabytes.
  write("max.imzML", {1 << 24, 1 << 24, 1});
  ImzMLReader reader(dir.file("max.imzML"));
  try {
    extract_ion_images(reader, centres, {});
    FAIL("no exception");
  } catch (const InvalidArgument& e) {
    CHECK_THAT(e.what(), Contains(dir.file("max.imzML")) && Contains("16777216 x 16777216 pixels") &&
                             Contains("x 1..16777216") && Contains("PiB") && Contains("more than this machine's"));
  }
  // 1,000,000 x 100,000 pixels: below the old 2^40-value limit, above any test machine's memory.
  write("wide.imzML", {1000000, 100000, 1});
  ImzMLReader wide(dir.file("wide.imzML"));
  const double needed = (4.0 + 8 + 1) * 1e11;
  if (static_cast<double>(physical_memory_bytes()) < needed) {
    CHECK_THROWS_WITH(extract_ion_images(wide, centres, {}),
                      Contains("1000000 x 100000 pixels") && Contains(format_bytes(needed)));
  }
}
