// Spot tiles: the crop geometry, padding, resampling against hand-computed values, thread
// invariance, TileLoader batches against cut_tiles, cancellation and bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <vector>

#include "spatial/image_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/spatial/image.hpp"
#include "spatialembed/spatial/tiles.hpp"

using namespace spatialembed;
using namespace spatialembed::test;

namespace {

constexpr int W = 257, H = 190;

// Spots spread over the image, some near or past its border.
void random_spots(std::uint64_t seed, std::size_t n, std::vector<double>& x, std::vector<double>& y) {
  Rng rng(seed);
  x.resize(n);
  y.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = -20 + (W + 40) * rng.uniform();
    y[i] = -20 + (H + 40) * rng.uniform();
  }
}

}  // namespace

TEST_CASE("tile_origin centres the crop: floor(c - s/2 + 1/2)", "[tiles]") {
  CHECK(tile_origin(100.0, 224) == -12);     // 100 - 112 = -12
  CHECK(tile_origin(100.49, 224) == -12);
  CHECK(tile_origin(100.5, 224) == -11);     // halves round up
  CHECK(tile_origin(10.0, 5) == 8);          // pixel 10 at index 2, the middle of 5
  CHECK(tile_origin(10.0, 4) == 8);          // pixel 10 at index 2 = s/2
  CHECK(tile_origin(-3.7, 1) == -4);
  CHECK(tile_origin(6930.58, 224) == 6819);  // her2st C2, first spot
  CHECK_THROWS_AS(tile_origin(std::nan(""), 8), InvalidArgument);
  CHECK_THROWS_AS(tile_origin(1e300, 8), InvalidArgument);

  TileOptions o;
  CHECK(tile_crop_size(o, 0.0) == 224);
  o.diameter_multiple = 1.5;
  CHECK(tile_crop_size(o, 145.0) == 218);  // round(217.5)
  CHECK_THROWS_AS(tile_crop_size(o, 0.0), InvalidArgument);
}

TEST_CASE("TileOptions::validate names the field and its range", "[tiles]") {
  auto message = [](TileOptions o) {
    try {
      o.validate();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  TileOptions o;
  CHECK(message(o).empty());
  o.size = 0;
  CHECK(message(o).find("size") != std::string::npos);
  o = {};
  o.fill = 256;
  CHECK(message(o).find("fill") != std::string::npos);
  o = {};
  o.batch_size = 0;
  CHECK(message(o).find("batch_size") != std::string::npos);
  o = {};
  o.diameter_multiple = -1;
  CHECK(message(o).find("diameter_multiple") != std::string::npos);
  CHECK(parse_resample_filter("Lanczos") == ResampleFilter::lanczos);
  CHECK(std::string(to_string(ResampleFilter::box)) == "box");
  CHECK_THROWS_AS(parse_resample_filter("nearest"), InvalidArgument);
}

TEST_CASE("cut_tiles: every tile is the crop at its spot, padded outside, on every format", "[tiles]") {
  ImageScratch dir("tiles_cut");
  const auto rgb = pattern_image(W, H);
  write_png(dir.file("image.png"), W, H, PNG_COLOR_TYPE_RGB, 8, rgb);
  TiffLayout tiled;
  tiled.tile = 32;
  write_tiff(dir.file("tiled.tif"), W, H, rgb, tiled);
  TiffLayout stripped;
  stripped.rows_per_strip = 5;
  write_tiff(dir.file("stripped.tif"), W, H, rgb, stripped);
  std::vector<double> x, y;
  random_spots(7, 60, x, y);
  x.push_back(-1000), y.push_back(50);  // entirely outside
  x.push_back(128), y.push_back(95);    // inside

  for (const char* name : {"image.png", "tiled.tif", "stripped.tif"}) {
    const ImageFile image(dir.file(name));
    TileOptions options;
    options.size = 31;
    options.fill = 7;
    options.batch_size = 16;
    const Tiles tiles = cut_tiles(image, x, y, 0.0, options);
    INFO(name);
    REQUIRE(tiles.n == x.size());
    CHECK(tiles.height == 31);
    CHECK(tiles.width == 31);
    CHECK(tiles.crop_size == 31);
    CHECK(tiles.pixels.size() == x.size() * 31 * 31 * 3);
    std::vector<std::size_t> padded;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::int64_t x0 = tile_origin(x[i], 31), y0 = tile_origin(y[i], 31);
      if (x0 < 0 || y0 < 0 || x0 + 31 > W || y0 + 31 > H) padded.push_back(i);
      const auto expected = crop(rgb, W, H, x0, y0, 31, 31, 7);
      CHECK(std::equal(expected.begin(), expected.end(), tiles.tile(i)));
      CHECK(tiles.spots[i] == i);
    }
    CHECK(tiles.padded == padded);
    CHECK(std::count(tiles.padded.begin(), tiles.padded.end(), x.size() - 2) == 1);
    CHECK(std::count(tiles.padded.begin(), tiles.padded.end(), x.size() - 1) == 0);
  }
}

TEST_CASE("resize_rgb: box halving is the rounded 2 x 2 mean, constants stay constant", "[tiles]") {
  const int w = 10, h = 6;
  const auto rgb = pattern_image(w, h);
  // PIL's two passes, each rounding to 8 bits: horizontal pairs, then vertical pairs.
  const auto box = resize_rgb(rgb.data(), h, w, h / 2, w / 2, ResampleFilter::box);
  for (int y = 0; y < h / 2; ++y) {
    for (int x = 0; x < w / 2; ++x) {
      for (int c = 0; c < 3; ++c) {
        auto at = [&](int xx, int yy) { return rgb[(static_cast<std::size_t>(yy) * w + xx) * 3 + c]; };
        const int top = (at(2 * x, 2 * y) + at(2 * x + 1, 2 * y) + 1) / 2;
        const int bottom = (at(2 * x, 2 * y + 1) + at(2 * x + 1, 2 * y + 1) + 1) / 2;
        CHECK(box[(static_cast<std::size_t>(y) * (w / 2) + x) * 3 + c] == (top + bottom + 1) / 2);
      }
    }
  }
  std::vector<std::uint8_t> flat(40 * 30 * 3, 173);
  for (const auto f : {ResampleFilter::bilinear, ResampleFilter::bicubic, ResampleFilter::lanczos}) {
    for (const auto& [oh, ow] : std::vector<std::pair<int, int>>{{7, 9}, {30, 40}, {64, 50}}) {
      const auto out = resize_rgb(flat.data(), 30, 40, oh, ow, f);
      CHECK(out == std::vector<std::uint8_t>(static_cast<std::size_t>(oh) * ow * 3, 173));
    }
  }
  CHECK_THROWS_AS(resize_rgb(flat.data(), 30, 40, 0, 5, ResampleFilter::box), InvalidArgument);
}

TEST_CASE("cut_tiles with output_size resamples each crop, identically for any thread count", "[tiles]") {
  ImageScratch dir("tiles_resize");
  const auto rgb = smooth_image(W, H);
  write_jpeg(dir.file("image.jpg"), rgb, W, H);
  TiffLayout tiled;
  tiled.tile = 48;
  write_tiff(dir.file("tiled.tif"), W, H, rgb, tiled);
  std::vector<double> x, y;
  random_spots(11, 40, x, y);
  for (const char* name : {"image.jpg", "tiled.tif"}) {
    const ImageFile image(dir.file(name));
    TileOptions options;
    options.diameter_multiple = 2.0;
    options.output_size = 16;
    options.filter = ResampleFilter::lanczos;
    options.batch_size = 7;
    options.num_threads = 1;
    const Tiles one = cut_tiles(image, x, y, 20.4, options);  // crop side round(40.8) = 41
    options.num_threads = 3;
    const Tiles three = cut_tiles(image, x, y, 20.4, options);
    INFO(name);
    CHECK(one.crop_size == 41);
    CHECK(one.height == 16);
    CHECK(one.pixels == three.pixels);
    CHECK(one.padded == three.padded);
    // Each tile is its crop resampled.
    for (std::size_t i = 0; i < x.size(); i += 9) {
      const auto crop_i = image.read_region(tile_origin(x[i], 41), tile_origin(y[i], 41), 41, 41);
      const auto expected = resize_rgb(crop_i.data(), 41, 41, 16, 16, ResampleFilter::lanczos);
      CHECK(std::equal(expected.begin(), expected.end(), one.tile(i)));
    }
  }
}

TEST_CASE("TileLoader hands out cut_tiles in batches, in spot order", "[tiles]") {
  ImageScratch dir("tiles_loader");
  const auto rgb = smooth_image(W, H);
  write_jpeg(dir.file("image.jpg"), rgb, W, H);
  TiffLayout tiled;
  tiled.tile = 32;
  write_tiff(dir.file("tiled.tif"), W, H, rgb, tiled);
  std::vector<double> x, y;
  random_spots(5, 45, x, y);
  for (const char* name : {"image.jpg", "tiled.tif"}) {
    for (const std::int64_t output : {std::int64_t{0}, std::int64_t{12}}) {
      const ImageFile image(dir.file(name));
      TileOptions options;
      options.size = 25;
      options.output_size = output;
      options.batch_size = 10;
      options.prefetch = 1;
      options.num_threads = 2;
      const Tiles all = cut_tiles(image, x, y, 0.0, options);
      TileLoader loader(image, x, y, 0.0, options);
      CHECK(loader.num_spots() == 45);
      REQUIRE(loader.num_batches() == 5);
      std::size_t seen = 0;
      std::vector<std::size_t> padded;
      while (auto batch = loader.next()) {
        INFO(name << " output " << output << " batch from " << seen);
        CHECK(batch->n == std::min<std::size_t>(10, 45 - seen));
        std::vector<std::size_t> spots(batch->n);
        std::iota(spots.begin(), spots.end(), seen);
        CHECK(batch->spots == spots);
        const std::size_t bytes = all.height * all.width * 3;
        CHECK(std::equal(batch->pixels.begin(), batch->pixels.end(), all.pixels.begin() + static_cast<std::ptrdiff_t>(seen * bytes)));
        padded.insert(padded.end(), batch->padded.begin(), batch->padded.end());
        seen += batch->n;
      }
      CHECK(seen == 45);
      CHECK(padded == all.padded);
      CHECK_FALSE(loader.next().has_value());
    }
  }
  // Destroyed before anything is consumed: the background work stops without hanging.
  TileOptions options;
  options.size = 25;
  options.batch_size = 3;
  { TileLoader early(ImageFile(dir.file("image.jpg")), x, y, 0.0, options); }
  { TileLoader early(ImageFile(dir.file("tiled.tif")), x, y, 0.0, options); }
  // No spots: no batches.
  const std::vector<double> no_spots;
  TileLoader none(ImageFile(dir.file("image.jpg")), no_spots, no_spots, 0.0, options);
  CHECK(none.num_batches() == 0);
  CHECK_FALSE(none.next().has_value());
}

TEST_CASE("cut_tiles and TileLoader report bad input and corrupt images", "[tiles]") {
  ImageScratch dir("tiles_bad");
  const auto rgb = smooth_image(W, H);
  write_jpeg(dir.file("image.jpg"), rgb, W, H);
  const ImageFile image(dir.file("image.jpg"));
  std::vector<double> x{10, 20}, y{10};
  CHECK_THROWS_AS(cut_tiles(image, x, y, 0.0), InvalidArgument);
  y = {10, std::nan("")};
  CHECK_THROWS_AS(cut_tiles(image, x, y, 0.0), InvalidArgument);
  CHECK_THROWS_AS(TileLoader(image, x, y, 0.0), InvalidArgument);
  y = {10, 20};
  TileOptions options;
  options.diameter_multiple = 1;
  CHECK_THROWS_AS(cut_tiles(image, x, y, -3.0, options), InvalidArgument);

  options = {};
  options.size = 8;
  options.progress = [](std::size_t, std::size_t) { return false; };
  CHECK_THROWS_AS(cut_tiles(image, x, y, 0.0, options), Cancelled);

  // A truncated JPEG: tiles near the top come out, tiles below the cut raise through next().
  const std::string bytes = read_bytes(dir.file("image.jpg"));
  write_bytes(dir.file("truncated.jpg"), bytes.substr(0, bytes.size() / 2));
  const ImageFile truncated(dir.file("truncated.jpg"));
  x = {30, 40, 50, 60};
  y = {5, 6, H - 5.0, H - 6.0};
  options = {};
  options.size = 8;
  options.batch_size = 2;
  CHECK_THROWS_AS(cut_tiles(truncated, x, y, 0.0, options), FormatError);
  TileLoader loader(truncated, x, y, 0.0, options);
  CHECK(loader.next().has_value());
  CHECK_THROWS_AS(loader.next(), FormatError);
}
