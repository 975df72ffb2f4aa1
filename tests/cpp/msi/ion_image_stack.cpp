#include "spatialembed/msi/ion_image_stack.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

// A PNG whose header states `width` x `height` 8-bit grey pixels, with one tiny IDAT: enough
// for a reader that checks the header; decoding it would need the whole image.
std::vector<char> png_header_only(std::uint32_t width, std::uint32_t height) {
  std::vector<char> out{'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  const auto chunk = [&](const char* type, std::vector<unsigned char> data) {
    const auto be32 = [&](std::uint32_t v) {
      for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
    };
    be32(static_cast<std::uint32_t>(data.size()));
    std::vector<unsigned char> typed(type, type + 4);
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    be32(static_cast<std::uint32_t>(crc32(0, typed.data(), static_cast<uInt>(typed.size()))));
  };
  std::vector<unsigned char> ihdr;
  for (std::uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<unsigned char>((v >> s) & 0xff));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit grey, deflate, no filter method, no interlace
  chunk("IHDR", ihdr);
  chunk("IDAT", {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
  chunk("IEND", {});
  return out;
}

}  // namespace

TEST_CASE("PNG folders of the shared data read with their masks", "[msi][png]") {
  const auto root = data_dir();
  if (root.empty()) return;
  const auto barley = read_png_stack(root + "/msi/barley_png");
  CHECK(barley.n_images() == 101);
  CHECK(barley.n_measured() == 3422);
  CHECK(std::is_sorted(barley.mz.begin(), barley.mz.end()));
  CHECK(barley.mz.front() == 74.651);
  const auto bladder = read_png_stack(root + "/msi/mouse_bladder_png");
  CHECK(bladder.n_images() == 150);
  CHECK(bladder.width == 261);
  CHECK(bladder.height == 135);
  CHECK(bladder.n_measured() == 34840);
  CHECK(bladder.mz.front() == 409.045);
  CHECK(bladder.mz.back() == 993.114);
  std::size_t black = 0;
  for (std::size_t k = 0; k < bladder.n_images(); ++k) {
    const float* image = bladder.image(k);
    black += std::all_of(image, image + bladder.n_pixels(), [](float v) { return v == 0.0f; });
  }
  CHECK(black == 15);
}

TEST_CASE("write_png_stack / read_png_stack round trip at 8 and 16 bits", "[msi][png]") {
  ScratchDir dir("png");
  Rng rng(9);
  IonImageStack s;
  s.height = 7, s.width = 5;
  s.mz = {300.5, 100.25, 1234.5678};
  s.mask.resize(35);
  for (auto& m : s.mask) m = rng.uniform() < 0.7;
  s.images.resize(3 * 35);
  for (std::size_t i = 0; i < s.images.size(); ++i) s.images[i] = s.mask[i % 35] ? static_cast<float>(rng.uniform()) : 0.0f;
  for (int bits : {8, 16}) {
    const auto folder = dir.file(std::to_string(bits));
    write_png_stack(s, folder, bits);
    const auto r = read_png_stack(folder);
    REQUIRE(r.n_images() == 3);
    CHECK(r.mz == std::vector<double>{100.25, 300.5, 1234.5678});
    CHECK(r.mask == s.mask);
    const std::size_t order[3] = {1, 0, 2};
    const double step = bits == 8 ? 1 / 255.0 : 1 / 65535.0;
    for (std::size_t k = 0; k < 3; ++k) {
      for (std::size_t p = 0; p < 35; ++p) REQUIRE(std::abs(r.image(k)[p] - s.image(order[k])[p]) <= 0.5 * step + 1e-6);
    }
  }
  CHECK_THROWS_AS(write_png_stack(s, dir.file("x"), 12), InvalidArgument);
  write_text(dir.file("8/notes.png"), "not a png");
  CHECK_THROWS_WITH(read_png_stack(dir.file("8")), Contains("notes.png") && Contains("named by their m/z"));
  write_text(dir.file("bad/1.5.png"), "");
  std::filesystem::create_directories(dir.file("bad"));
  write_text(dir.file("bad/1.5.png"), "not a png");
  CHECK_THROWS_WITH(read_png_stack(dir.file("bad")), Contains("1.5.png") && Contains("cannot decode"));
  std::filesystem::create_directories(dir.file("empty"));
  CHECK_THROWS_WITH(read_png_stack(dir.file("empty")), Contains("no .png"));
  CHECK_THROWS_AS(read_png_stack(dir.file("missing")), IOError);
}

TEST_CASE("read_png_stack: a PNG larger than max_image_pixels is refused from its header, before decoding",
          "[msi][png][bad_input]") {
  ScratchDir dir("png_huge");
  std::filesystem::create_directories(dir.file("huge"));
  write_bytes(dir.file("huge/500.5.png"), png_header_only(100000, 100000));
  write_text(dir.file("huge/.spatialembed-output"), "other files are ignored");
  try {
    read_png_stack(dir.file("huge"));
    FAIL("no exception");
  } catch (const InvalidArgument& e) {
    CHECK_THAT(e.what(), Contains("500.5.png") && Contains("100000 x 100000 pixels") &&
                             Contains("max_image_pixels = 134217728"));
  }
  // Allowed by the option, a million squared still needs more memory than any machine: said before allocating.
  write_bytes(dir.file("huge/500.5.png"), png_header_only(1000000, 1000000));
  PngStackOptions o;
  o.max_image_pixels = std::uint64_t{1} << 40;
  CHECK_THROWS_WITH(read_png_stack(dir.file("huge"), o),
                    Contains("1 ion images of 1000000 x 1000000 pixels") && Contains("more than this machine's"));
  // A small image under a small limit reads; the limit is inclusive.
  IonImageStack s;
  s.height = 4, s.width = 3, s.mz = {100};
  s.mask.assign(12, 1);
  s.images.assign(12, 0.5f);
  write_png_stack(s, dir.file("small"));
  o.max_image_pixels = 12;
  CHECK(read_png_stack(dir.file("small"), o).n_images() == 1);
  o.max_image_pixels = 11;
  CHECK_THROWS_WITH(read_png_stack(dir.file("small"), o), Contains("3 x 4 pixels") && Contains("max_image_pixels = 11"));
  o.max_image_pixels = 0;
  CHECK_THROWS_WITH(read_png_stack(dir.file("small"), o), Contains("max_image_pixels") && Contains("got 0"));
}
