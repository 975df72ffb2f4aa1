// Replays the image fuzzing corpus (tests/fuzz/image_corpus) through the decoders on every
// test run: each input must decode or throw a spatialembed::Error, nothing else.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/image.hpp"

using namespace spatialembed;

TEST_CASE("the image fuzzing corpus decodes or fails with a spatialembed::Error", "[image][fuzz_corpus]") {
  const auto corpus = std::filesystem::path(SPATIALEMBED_SOURCE_DIR) / "tests" / "fuzz" / "image_corpus";
  REQUIRE(std::filesystem::is_directory(corpus));
  std::size_t files = 0, decoded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    ++files;
    try {
      // As tests/fuzz/image_fuzz.cpp: the header, then a few rectangles of small images.
      const ImageFile image(entry.path().string(), detect_image_format(entry.path().string()));
      const std::int64_t w = image.width(), h = image.height();
      if (w <= 4096 && h <= 4096) {
        image.read_region(-3, -3, std::min<std::int64_t>(w, 40) + 6, std::min<std::int64_t>(h, 40) + 6);
        image.read_regions({{w - 20, h / 2, 25, 30}, {w / 3, h / 3, 7, 5}}, 0, 2);
      }
      ++decoded;
    } catch (const Error&) {
    }
  }
  CHECK(files >= 10);
  CHECK(decoded >= 5);
}
