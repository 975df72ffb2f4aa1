#include "spatialembed/msi/ion_image_stack.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

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
