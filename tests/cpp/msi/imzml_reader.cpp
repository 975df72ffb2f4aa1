#include "spatialembed/msi/imzml_reader.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>
#include <set>

#include "msi/imzml_parse.hpp"
#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

const std::string kUuid = "0123456789abcdef0123456789abcdef";

// A valid processed file of two spectra (float32 m/z and intensities) built by hand.
struct HandBuilt {
  std::vector<char> ibd = uuid_bytes(kUuid);
  std::vector<RawSpectrum> spectra;
  HandBuilt() {
    for (int s = 0; s < 2; ++s) {
      RawSpectrum r;
      r.x = s + 1;
      const std::vector<float> mz{100.f + s, 200.f, 300.f}, y{1.f, 2.f + s, 3.f};
      r.mz.offset = std::to_string(append_values<float>(ibd, mz));
      r.intensity.offset = std::to_string(append_values<float>(ibd, y));
      r.mz.length = r.intensity.length = "3";
      r.mz.encoded_length = r.intensity.encoded_length = "12";
      spectra.push_back(r);
    }
  }
  void write(const ScratchDir& dir, const std::string& uuid = kUuid) const {
    write_bytes(dir.file("t.ibd"), ibd);
    write_text(dir.file("t.imzML"), imzml_text(spectra, uuid));
  }
};

void require_format_error(const ScratchDir& dir, const std::vector<std::string>& fragments) {
  try {
    ImzMLReader reader(dir.file("t.imzML"));
    FAIL("no exception");
  } catch (const FormatError& e) {
    INFO(e.what());
    for (const auto& f : fragments) CHECK_THAT(e.what(), Contains(f));
  }
}

}  // namespace

TEST_CASE("the imzML reference examples read as the XML and raw bytes say", "[msi][imzml]") {
  const auto root = data_dir();
  if (root.empty()) return;  // shared data absent
  for (const std::string name : {"Example_Continuous", "Example_Processed"}) {
    INFO(name);
    ImzMLReader reader(root + "/msi/imzml_examples/" + name + ".imzML", {"", true, true});
    CHECK(reader.mode() == (name == "Example_Continuous" ? ImzMLMode::continuous : ImzMLMode::processed));
    REQUIRE(reader.size() == 9);
    CHECK(reader.metadata().max_count_x == 3);
    CHECK(reader.metadata().pixel_size_x == 100.0);
    std::set<std::pair<int, int>> coordinates;
    std::vector<double> mz, y;
    for (std::size_t i = 0; i < reader.size(); ++i) {
      coordinates.insert({reader.coordinate(i).x, reader.coordinate(i).y});
      reader.read_mz(i, mz);
      reader.read_intensities(i, y);
      REQUIRE(mz.size() == 8399);
      CHECK(mz.front() == Approx(100.083336).epsilon(1e-7));
      CHECK(mz.back() == Approx(799.9167).epsilon(1e-7));
      // These files state the TIC as the plain sum of intensities.
      CHECK(reader.tic(i) == Approx(reader.spectrum(i).stored_tic).epsilon(1e-6));
    }
    CHECK(coordinates.size() == 9);
    CHECK(coordinates.begin()->first == 1);
    CHECK(coordinates.rbegin()->first == 3);
  }
}

TEST_CASE("the mouse kidney section reads: 2,222 pixels, MALDIquant's TIC, both modes agree", "[msi][imzml]") {
  const auto root = data_dir();
  if (root.empty()) return;
  ImzMLOptions options;
  options.verify_checksum = true;
  ImzMLReader profile(root + "/msi/mouse_kidney/mouse_kidney_nyakas2013.imzML", options);
  ImzMLReader centroid(root + "/msi/mouse_kidney/mouse_kidney_nyakas2013_centroid.imzML", options);
  REQUIRE(profile.size() == 2222);
  REQUIRE(centroid.size() == 2222);
  CHECK(profile.mode() == ImzMLMode::continuous);
  CHECK(centroid.mode() == ImzMLMode::processed);
  CHECK(profile.spectrum(0).intensity.type == BinaryDataType::float64);
  const auto [lo, hi] = profile.mz_range();
  CHECK(lo == Approx(2400.02971455953));
  CHECK(hi == Approx(10998.9966967606));
  int x0 = 1000, x1 = 0, y0 = 1000, y1 = 0;
  std::vector<double> mz, y;
  profile.read_mz(0, mz);
  REQUIRE(mz.size() == 3627);
  std::size_t peaks = 0;
  for (std::size_t i = 0; i < profile.size(); ++i) {
    const auto c = profile.coordinate(i);
    CHECK(c.x == centroid.coordinate(i).x);
    CHECK(c.y == centroid.coordinate(i).y);
    x0 = std::min(x0, c.x), x1 = std::max(x1, c.x), y0 = std::min(y0, c.y), y1 = std::max(y1, c.y);
    // R MALDIquant's totalIonCurrent (the trapezoid integral over m/z), as stated in the file.
    profile.read_intensities(i, y);
    double trapezoid = 0;
    for (std::size_t k = 1; k < y.size(); ++k) trapezoid += (mz[k] - mz[k - 1]) * (y[k] + y[k - 1]) / 2;
    REQUIRE(trapezoid == Approx(profile.spectrum(i).stored_tic).epsilon(1e-12));
    peaks += centroid.spectrum(i).mz.length;
  }
  CHECK(x0 == 29);
  CHECK(x1 == 101);
  CHECK(y0 == 61);
  CHECK(y1 == 98);
  CHECK(profile.tic(0) == 1370.0);  // intensities are integer counts
  const double per_pixel = static_cast<double>(peaks) / 2222;
  CHECK(per_pixel > 50);
  CHECK(per_pixel < 80);
}

TEST_CASE("hand-built files: reading, UUID, int and float64 types, zlib, empty spectra", "[msi][imzml]") {
  ScratchDir dir("reader_ok");
  HandBuilt file;
  file.write(dir);
  ImzMLReader reader(dir.file("t.imzML"));
  CHECK(reader.mode() == ImzMLMode::processed);
  std::vector<double> y;
  reader.read_intensities(1, y);
  CHECK(y == std::vector<double>{1, 3, 3});
  CHECK(reader.tic(1) == 7.0);
  CHECK(std::isnan(reader.spectrum(0).stored_tic));
  CHECK_THROWS_AS(reader.spectrum(2), InvalidArgument);

  SECTION("int32, int64, float64 and a 64-bit offset past 4 GiB in the XML") {
    HandBuilt f;
    f.spectra[0].intensity.type = "MS:1000519";
    f.spectra[0].intensity.offset = std::to_string(append_values<std::int32_t>(f.ibd, std::vector<int>{-5, 0, 70000}));
    f.spectra[1].intensity.type = "MS:1000522";
    f.spectra[1].intensity.encoded_length = "24";
    f.spectra[1].intensity.offset =
        std::to_string(append_values<std::int64_t>(f.ibd, std::vector<std::int64_t>{1, std::int64_t{1} << 40, 3}));
    f.spectra[1].mz.type = "MS:1000523";
    f.spectra[1].mz.encoded_length = "24";
    f.spectra[1].mz.offset = std::to_string(append_values<double>(f.ibd, std::vector<double>{1.5, 2.25, 1e6}));
    f.write(dir);
    ImzMLReader r(dir.file("t.imzML"));
    r.read_intensities(0, y);
    CHECK(y == std::vector<double>{-5, 0, 70000});
    r.read_intensities(1, y);
    CHECK(y == std::vector<double>{1, 1099511627776.0, 3});
    r.read_mz(1, y);
    CHECK(y == std::vector<double>{1.5, 2.25, 1e6});
    // The index itself keeps 64-bit offsets: a parse of an offset beyond 2^32 survives.
    f.spectra[0].mz.offset = "5000000000";
    const std::string xml = imzml_text(f.spectra, kUuid);
    const auto parsed = msi_detail::parse_imzml_xml(xml.data(), xml.size(), "x");
    CHECK(parsed.spectra[0].mz.offset == 5000000000ull);
  }

  SECTION("zlib-compressed arrays are inflated") {
    HandBuilt f;
    const std::vector<float> values{10.f, 20.f, 30.f};
    std::vector<unsigned char> packed(compressBound(12));
    uLongf packed_size = packed.size();
    REQUIRE(compress(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(values.data()), 12) == Z_OK);
    f.spectra[0].intensity.offset = std::to_string(f.ibd.size());
    f.ibd.insert(f.ibd.end(), packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(packed_size));
    f.spectra[0].intensity.compression = "MS:1000574";
    f.spectra[0].intensity.encoded_length = std::to_string(packed_size);
    f.write(dir);
    ImzMLReader r(dir.file("t.imzML"));
    r.read_intensities(0, y);
    CHECK(y == std::vector<double>{10, 20, 30});
    // Corrupt the stream: a clear error naming the .ibd and the offset.
    f.ibd[std::stoul(f.spectra[0].intensity.offset) + 3] ^= 0x55;
    f.write(dir);
    ImzMLReader corrupt(dir.file("t.imzML"));
    CHECK_THROWS_WITH(corrupt.read_intensities(0, y), Contains("t.ibd") && Contains("byte offset") && Contains("zlib"));
  }

  SECTION("empty spectra read as zero values") {
    HandBuilt f;
    f.spectra[1].mz.length = f.spectra[1].intensity.length = "0";
    f.spectra[1].mz.encoded_length = f.spectra[1].intensity.encoded_length = "0";
    f.write(dir);
    ImzMLReader r(dir.file("t.imzML"));
    r.read_intensities(1, y);
    CHECK(y.empty());
    CHECK(r.tic(1) == 0.0);
  }
}

TEST_CASE("bad imzML input gets a clear error naming the file and offset or element", "[msi][imzml][bad_input]") {
  ScratchDir dir("reader_bad");
  HandBuilt f;

  SECTION("missing .ibd") {
    write_text(dir.file("t.imzML"), imzml_text(f.spectra, kUuid));
    CHECK_THROWS_AS(ImzMLReader(dir.file("t.imzML")), IOError);
    CHECK_THROWS_WITH(ImzMLReader(dir.file("t.imzML")), Contains("t.ibd") && Contains("cannot open"));
  }
  SECTION("missing .imzML") { CHECK_THROWS_AS(ImzMLReader(dir.file("none.imzML")), IOError); }
  SECTION("UUID mismatch") {
    f.write(dir, "{ffffffff-ffff-ffff-ffff-ffffffffffff}");
    require_format_error(dir, {"UUID mismatch", "t.imzML", "t.ibd", kUuid});
    ImzMLOptions options;
    options.check_uuid = false;
    CHECK_NOTHROW(ImzMLReader(dir.file("t.imzML"), options));
  }
  SECTION("truncated .ibd") {
    f.ibd.resize(f.ibd.size() - 5);
    f.write(dir);
    require_format_error(dir, {"t.ibd", "spectrum 1", "byte offset 52", "past the end", "truncated"});
  }
  SECTION("unknown data-type accession") {
    f.spectra[1].intensity.type = "MS:9999999";
    f.write(dir);
    require_format_error(dir, {"t.imzML", "spectrum 1", "intensity", "no known data-type", "MS:9999999", "XML byte offset"});
  }
  SECTION("16-bit float is refused by name") {
    f.spectra[0].mz.type = "MS:1000520";
    f.write(dir);
    require_format_error(dir, {"spectrum 0", "MS:1000520", "not supported"});
  }
  SECTION("negative offset") {
    f.spectra[0].mz.offset = "-16";
    f.write(dir);
    require_format_error(dir, {"t.imzML", "external offset is negative", "-16", "XML byte offset"});
  }
  SECTION("overflowing offset") {
    f.spectra[0].mz.offset = "99999999999999999999999";
    f.write(dir);
    require_format_error(dir, {"overflows a 64-bit"});
  }
  SECTION("offset + length wraps around 2^64") {
    f.spectra[0].mz.offset = "18446744073709551610";
    f.write(dir);
    require_format_error(dir, {"t.ibd", "spectrum 0", "18446744073709551610", "past the end"});
  }
  SECTION("non-integer length") {
    f.spectra[0].mz.length = "3.5";
    f.write(dir);
    require_format_error(dir, {"external array length must be a non-negative integer", "3.5"});
  }
  SECTION("encoded length disagrees with the length") {
    f.spectra[0].mz.encoded_length = "16";
    f.write(dir);
    require_format_error(dir, {"encoded length 16 bytes != 3 values x 4 bytes"});
  }
  SECTION("malformed XML") {
    write_bytes(dir.file("t.ibd"), f.ibd);
    std::string xml = imzml_text(f.spectra, kUuid);
    xml.resize(xml.size() / 2);
    write_text(dir.file("t.imzML"), xml);
    require_format_error(dir, {"t.imzML", "malformed XML at byte offset"});
  }
  SECTION("not mzML") {
    write_bytes(dir.file("t.ibd"), f.ibd);
    write_text(dir.file("t.imzML"), "<html><body/></html>");
    require_format_error(dir, {"no <mzML> root element", "html"});
  }
  SECTION("no spectra") {
    write_bytes(dir.file("t.ibd"), f.ibd);
    write_text(dir.file("t.imzML"), imzml_text({}, kUuid));
    require_format_error(dir, {"holds no <spectrum>"});
  }
  SECTION("duplicate coordinates") {
    f.spectra[1].x = 1;
    f.write(dir);
    require_format_error(dir, {"spectra 0 and 1 share the pixel coordinate (x=1, y=1, z=1)"});
  }
  SECTION("m/z and intensity lengths differ") {
    f.spectra[0].mz.length = "2";
    f.spectra[0].mz.encoded_length = "8";
    f.write(dir);
    require_format_error(dir, {"spectrum 0", "2 m/z values but 3 intensities"});
  }
  SECTION("continuous declared but m/z arrays differ") {
    write_bytes(dir.file("t.ibd"), f.ibd);
    write_text(dir.file("t.imzML"), imzml_text(f.spectra, kUuid, "IMS:1000030"));
    require_format_error(dir, {"declared continuous", "spectrum 1"});
  }
  SECTION("unsupported compression") {
    f.spectra[0].intensity.compression = "MS:1002312";
    f.write(dir);
    require_format_error(dir, {"compression MS:1002312", "not supported"});
  }
  SECTION("checksum mismatch when asked") {
    write_bytes(dir.file("t.ibd"), f.ibd);
    std::string xml = imzml_text(f.spectra, kUuid);
    xml.replace(xml.find("</fileContent>"), 0,
                "<cvParam accession=\"IMS:1000091\" name=\"ibd SHA-1\" value=\"0000000000000000000000000000000000000000\"/>");
    write_text(dir.file("t.imzML"), xml);
    ImzMLOptions options;
    options.verify_checksum = true;
    CHECK_THROWS_WITH(ImzMLReader(dir.file("t.imzML"), options), Contains("SHA-1") && Contains("t.ibd"));
    CHECK_NOTHROW(ImzMLReader(dir.file("t.imzML")));
  }
}

TEST_CASE("a folder given as the .imzML or the .ibd is an IOError naming it", "[msi][imzml][bad_input]") {
  ScratchDir dir("reader_folder");
  std::filesystem::create_directories(dir.file("d.imzML"));
  try {
    ImzMLReader reader(dir.file("d.imzML"));
    FAIL("no exception");
  } catch (const IOError& e) {
    CHECK_THAT(e.what(), Contains(dir.file("d.imzML")) && Contains("is a folder"));
  }
  HandBuilt f;
  f.write(dir);
  std::filesystem::remove(dir.file("t.ibd"));
  std::filesystem::create_directories(dir.file("t.ibd"));
  try {
    ImzMLReader reader(dir.file("t.imzML"));
    FAIL("no exception");
  } catch (const IOError& e) {
    CHECK_THAT(e.what(), Contains(dir.file("t.ibd")) && Contains("folder"));
  }
}

TEST_CASE("NaN or infinite values are rejected at the read, naming the spectrum, its pixel and the offset",
          "[msi][imzml][bad_input]") {
  ScratchDir dir("reader_nan");
  HandBuilt f;
  // Spectrum 1 (pixel x=2, y=1): a NaN intensity as its second value (float32).
  const std::size_t offset = append_values<float>(f.ibd, std::vector<float>{1.f, NAN, 3.f});
  f.spectra[1].intensity.offset = std::to_string(offset);
  // Spectrum 0: an infinite m/z in float64.
  f.spectra[0].mz.type = "MS:1000523";
  f.spectra[0].mz.encoded_length = "24";
  f.spectra[0].mz.offset = std::to_string(append_values<double>(f.ibd, std::vector<double>{100, INFINITY, 300}));
  f.write(dir);
  ImzMLReader reader(dir.file("t.imzML"));  // the index is fine: values are checked when read
  std::vector<double> y;
  reader.read_intensities(0, y);
  CHECK(y == std::vector<double>{1, 2, 3});
  try {
    reader.read_intensities(1, y);
    FAIL("no exception");
  } catch (const FormatError& e) {
    CHECK_THAT(e.what(), Contains("t.imzML") && Contains("t.ibd") && Contains("spectrum 1 (pixel x=2, y=1)") &&
                             Contains("NaN intensity") && Contains(fmt::format("byte offset {}", offset + 4)));
  }
  CHECK_THROWS_WITH(reader.read_mz(0, y), Contains("spectrum 0 (pixel x=1, y=1)") && Contains("infinite m/z value"));
  CHECK_THROWS_AS(reader.tic(1), FormatError);
  std::vector<char> raw(12), scratch;
  CHECK_THROWS_WITH(reader.read_raw(reader.spectrum(1).intensity, raw.data(), scratch), Contains("spectrum 1"));
}
