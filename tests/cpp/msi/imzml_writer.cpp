#include "spatialembed/msi/imzml_writer.hpp"

#include <catch2/catch.hpp>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

TEST_CASE("ImzMLWriter round-trips continuous and processed files through ImzMLReader", "[msi][imzml][writer]") {
  ScratchDir dir("writer");
  Rng rng(7);
  for (const auto mode : {ImzMLMode::continuous, ImzMLMode::processed}) {
    for (const auto type : {BinaryDataType::float32, BinaryDataType::float64, BinaryDataType::int32, BinaryDataType::int64}) {
      for (const auto mz_type : {BinaryDataType::float32, BinaryDataType::float64}) {
        INFO(to_string(mode) << " " << to_string(type) << " m/z " << to_string(mz_type));
        ImzMLWriterOptions options;
        options.mode = mode;
        options.intensity_type = type;
        options.mz_type = mz_type;
        options.pixel_size_x = 50;
        const std::string path = dir.file("rt.imzML");
        std::vector<std::vector<double>> mzs, ys;
        std::vector<PixelCoordinate> coordinates;
        {
          ImzMLWriter writer(path, options);
          std::vector<double> axis;
          for (int k = 0; k < 40; ++k) axis.push_back(100.0 + 0.5 * k);
          for (int y = 1; y <= 3; ++y) {
            for (int x = 1; x <= 4; ++x) {
              if (x == 2 && y == 2) continue;  // a hole
              std::vector<double> mz = axis, v;
              if (mode == ImzMLMode::processed) {
                mz.clear();
                const int n = x == 4 && y == 3 ? 0 : 5 + static_cast<int>(rng.below(20));
                double m = 100;
                for (int k = 0; k < n; ++k) mz.push_back(m += 0.1 + rng.uniform());
              }
              for (std::size_t k = 0; k < mz.size(); ++k) v.push_back(std::round(1000 * rng.uniform()));
              writer.add_spectrum({x, y, 1}, mz, v);
              if (mz_type == BinaryDataType::float32) {
                for (auto& m : mz) m = static_cast<float>(m);
              }
              mzs.push_back(mz);
              ys.push_back(v);
              coordinates.push_back({x, y, 1});
            }
          }
          writer.close();
        }
        ImzMLOptions read_options;
        read_options.verify_checksum = true;
        ImzMLReader reader(path, read_options);
        REQUIRE(reader.size() == mzs.size());
        CHECK(reader.mode() == mode);
        CHECK(reader.metadata().pixel_size_x == 50);
        CHECK(reader.metadata().max_count_x == 4);
        std::vector<double> mz, y;
        for (std::size_t i = 0; i < reader.size(); ++i) {
          reader.read_mz(i, mz);
          reader.read_intensities(i, y);
          CHECK(mz == mzs[i]);
          CHECK(y == ys[i]);
          CHECK(reader.coordinate(i).x == coordinates[i].x);
          CHECK(reader.coordinate(i).y == coordinates[i].y);
          CHECK(reader.spectrum(i).intensity.type == type);
          CHECK(reader.spectrum(i).stored_tic == Approx(reader.tic(i)));
        }
      }
    }
  }
}

TEST_CASE("ImzMLWriter rejects bad spectra with the field and value", "[msi][imzml][writer][bad_input]") {
  ScratchDir dir("writer_bad");
  ImzMLWriterOptions options;
  options.mode = ImzMLMode::continuous;
  options.intensity_type = BinaryDataType::int32;
  ImzMLWriter writer(dir.file("w.imzML"), options);
  const std::vector<double> mz{1, 2, 3}, y{1, 2, 3}, other_mz{1, 2, 4}, fraction{1, 2.5, 3}, decreasing{3, 2, 1};
  writer.add_spectrum({1, 1, 1}, mz, y);
  CHECK_THROWS_WITH(writer.add_spectrum({1, 1, 1}, mz, y), Contains("duplicate pixel coordinate"));
  CHECK_THROWS_WITH(writer.add_spectrum({0, 1, 1}, mz, y), Contains("1-based"));
  CHECK_THROWS_WITH(writer.add_spectrum({2, 1, 1}, other_mz, y), Contains("differs from the shared"));
  CHECK_THROWS_WITH(writer.add_spectrum({3, 1, 1}, mz, fraction), Contains("not an int32"));
  CHECK_THROWS_WITH(writer.add_spectrum({4, 1, 1}, decreasing, y), Contains("increasing"));
  CHECK_NOTHROW(writer.add_spectrum({5, 1, 1}, {}, y));  // continuous: m/z may be omitted
  writer.close();
  CHECK_THROWS_WITH(writer.add_spectrum({6, 1, 1}, mz, y), Contains("after close"));
  CHECK_THROWS_AS(ImzMLWriter(dir.file("w.txt")), InvalidArgument);
  ImzMLWriterOptions bad;
  bad.mz_type = BinaryDataType::int32;
  CHECK_THROWS_WITH(ImzMLWriter(dir.file("b.imzML"), bad), Contains("mz_type"));
  bad = {};
  bad.uuid = "xyz";
  CHECK_THROWS_WITH(ImzMLWriter(dir.file("b.imzML"), bad), Contains("uuid"));
  ImzMLWriter empty(dir.file("e.imzML"));
  CHECK_THROWS_WITH(empty.close(), Contains("no spectrum"));
}
