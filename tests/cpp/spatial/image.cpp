// ImageFile: detection by content, every format's rectangles against an independent
// reference (the pattern written, or a plain full libjpeg decode), padding, only-touched
// tiles, and clear errors for bad files.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "spatial/image_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/spatial/image.hpp"

using namespace spatialembed;
using namespace spatialembed::test;

namespace {

constexpr int W = 301, H = 203;  // not multiples of any block, tile or strip size

// Random rectangles, some reaching outside the image or lying entirely outside.
std::vector<ImageRect> random_rects(std::uint64_t seed, int count, int width = W, int height = H) {
  Rng rng(seed);
  std::vector<ImageRect> rects;
  for (int i = 0; i < count; ++i) {
    const auto w = static_cast<std::int64_t>(1 + rng.below(120)), h = static_cast<std::int64_t>(1 + rng.below(120));
    rects.push_back({static_cast<std::int64_t>(rng.below(width + 80)) - 40, static_cast<std::int64_t>(rng.below(height + 80)) - 40, w, h});
  }
  rects.push_back({-500, -500, 30, 20});         // entirely outside
  rects.push_back({0, 0, width, height});        // the whole image
  rects.push_back({width - 1, height - 1, 1, 1});  // the last pixel
  rects.push_back({5, 7, 0, 9});                 // empty
  return rects;
}

// Every rectangle, alone and all at once, equals the reference crop (outside = fill).
void check_regions(const ImageFile& image, const std::vector<std::uint8_t>& reference, int width, int height,
                   std::uint8_t fill = 255, int num_threads = 2) {
  const auto rects = random_rects(width * 31 + height, 25, width, height);
  const auto all = image.read_regions(rects, fill, num_threads);
  REQUIRE(all.size() == rects.size());
  for (std::size_t i = 0; i < rects.size(); ++i) {
    const ImageRect& r = rects[i];
    INFO("rect " << i << ": x0 " << r.x0 << " y0 " << r.y0 << " " << r.width << " x " << r.height);
    const auto expected = crop(reference, width, height, r.x0, r.y0, r.width, r.height, fill);
    CHECK(all[i] == expected);
    if (i % 5 == 0) CHECK(image.read_region(r.x0, r.y0, r.width, r.height, fill) == expected);
  }
}

}  // namespace

TEST_CASE("image formats parse, print, and are detected by their first bytes", "[image]") {
  for (const auto f : {ImageFormat::jpeg, ImageFormat::png, ImageFormat::tiff, ImageFormat::openslide}) {
    CHECK(parse_image_format(to_string(f)) == f);
  }
  CHECK(parse_image_format("JPG") == ImageFormat::jpeg);
  CHECK_THROWS_AS(parse_image_format("webp"), InvalidArgument);

  ImageScratch dir("image_detect");
  const auto rgb = smooth_image(64, 48);
  write_jpeg(dir.file("jpeg_bytes.png"), rgb, 64, 48);  // STimage-1K4M: ".png" holding JPEG bytes
  write_png(dir.file("png_bytes.tif"), 64, 48, PNG_COLOR_TYPE_RGB, 8, rgb);
  write_tiff(dir.file("tiff_bytes.jpg"), 64, 48, rgb, {});
  TiffLayout big;
  big.bigtiff = true;
  write_tiff(dir.file("big.bin"), 64, 48, rgb, big);
  CHECK(detect_image_format(dir.file("jpeg_bytes.png")) == ImageFormat::jpeg);
  CHECK(detect_image_format(dir.file("png_bytes.tif")) == ImageFormat::png);
  CHECK(detect_image_format(dir.file("tiff_bytes.jpg")) == ImageFormat::tiff);
  CHECK(detect_image_format(dir.file("big.bin")) == ImageFormat::tiff);
  CHECK(read_bytes(dir.file("big.bin")).substr(0, 4) == std::string("II+\0", 4));
  CHECK(ImageFile(dir.file("jpeg_bytes.png")).info().format == ImageFormat::jpeg);

  write_bytes(dir.file("text.png"), "GIF89a not really");
  try {
    detect_image_format(dir.file("text.png"));
    FAIL("expected FormatError");
  } catch (const FormatError& e) {
    const std::string what = e.what();
    CHECK(what.find("text.png") != std::string::npos);
    CHECK(what.find("47 49 46 38") != std::string::npos);  // the first bytes, in hex
  }
  write_bytes(dir.file("empty.jpg"), "");
  CHECK_THROWS_AS(ImageFile(dir.file("empty.jpg")), FormatError);
  try {
    ImageFile missing(dir.file("missing.jpg"));
    FAIL("expected IOError");
  } catch (const IOError& e) {
    CHECK(std::string(e.what()).find("missing.jpg") != std::string::npos);
  }
}

TEST_CASE("JPEG rectangles equal a full plain decode, for every sampling and progressive files", "[image]") {
  ImageScratch dir("image_jpeg");
  const auto rgb = smooth_image(W, H);
  struct Case {
    const char* name;
    int components;
    bool progressive, h1v1;
  };
  for (const Case c : {Case{"420", 3, false, false}, Case{"444", 3, false, true}, Case{"progressive", 3, true, false},
                       Case{"grey", 1, false, false}}) {
    SECTION(c.name) {
      std::vector<std::uint8_t> pixels = rgb;
      if (c.components == 1) {
        pixels.resize(static_cast<std::size_t>(W) * H);
        for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = rgb[3 * i + 1];
      }
      const auto path = dir.file(std::string(c.name) + ".jpg");
      write_jpeg(path, pixels, W, H, c.components, 92, c.progressive, c.h1v1);
      int w = 0, h = 0;
      const auto reference = decode_jpeg(path, w, h);  // libjpeg's own full decode, grey replicated to RGB
      REQUIRE((w == W && h == H));
      const ImageFile image(path);
      CHECK(image.info().format == ImageFormat::jpeg);
      CHECK(image.width() == W);
      CHECK(image.height() == H);
      CHECK_FALSE(image.info().random_access);
      check_regions(image, reference, W, H, 255);
      check_regions(image, reference, W, H, 0);
    }
  }
}

TEST_CASE("PNG rectangles: RGB, RGBA, grey, palette, 16-bit and interlaced become RGB uint8", "[image]") {
  ImageScratch dir("image_png");
  const auto rgb = pattern_image(W, H);
  const auto n = static_cast<std::size_t>(W) * H;

  SECTION("RGB, plain and interlaced") {
    for (const bool interlaced : {false, true}) {
      write_png(dir.file("rgb.png"), W, H, PNG_COLOR_TYPE_RGB, 8, rgb, interlaced);
      check_regions(ImageFile(dir.file("rgb.png")), rgb, W, H);
    }
  }
  SECTION("RGBA drops alpha") {
    std::vector<std::uint8_t> rgba(n * 4);
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(&rgb[3 * i], 3, &rgba[4 * i]);
      rgba[4 * i + 3] = static_cast<std::uint8_t>(i % 256);
    }
    write_png(dir.file("rgba.png"), W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba);
    check_regions(ImageFile(dir.file("rgba.png")), rgb, W, H);
  }
  SECTION("grey 8-bit and 16-bit (high byte), replicated to RGB") {
    std::vector<std::uint8_t> grey(n), grey16(2 * n), expected(3 * n);
    for (std::size_t i = 0; i < n; ++i) {
      grey[i] = rgb[3 * i];
      const std::uint16_t v = static_cast<std::uint16_t>(rgb[3 * i] * 257 + (i % 200));
      grey16[2 * i] = static_cast<std::uint8_t>(v >> 8);  // PNG stores big-endian
      grey16[2 * i + 1] = static_cast<std::uint8_t>(v & 255);
      expected[3 * i] = expected[3 * i + 1] = expected[3 * i + 2] = static_cast<std::uint8_t>(v >> 8);
    }
    write_png(dir.file("grey.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, grey);
    write_png(dir.file("grey16.png"), W, H, PNG_COLOR_TYPE_GRAY, 16, grey16, true);
    std::vector<std::uint8_t> grey_rgb(3 * n);
    for (std::size_t i = 0; i < n; ++i) grey_rgb[3 * i] = grey_rgb[3 * i + 1] = grey_rgb[3 * i + 2] = grey[i];
    check_regions(ImageFile(dir.file("grey.png")), grey_rgb, W, H);
    check_regions(ImageFile(dir.file("grey16.png")), expected, W, H);
  }
  SECTION("palette") {
    std::vector<png_color> palette(16);
    for (int i = 0; i < 16; ++i) palette[i] = {static_cast<png_byte>(i * 16), static_cast<png_byte>(255 - i * 9), static_cast<png_byte>(i * i)};
    std::vector<std::uint8_t> index(n), expected(3 * n);
    for (std::size_t i = 0; i < n; ++i) {
      index[i] = static_cast<std::uint8_t>(rgb[3 * i + 1] % 16);
      expected[3 * i] = palette[index[i]].red, expected[3 * i + 1] = palette[index[i]].green, expected[3 * i + 2] = palette[index[i]].blue;
    }
    write_png(dir.file("palette.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, index, false, palette);
    check_regions(ImageFile(dir.file("palette.png")), expected, W, H);
  }
}

TEST_CASE("TIFF rectangles: tiled and stripped, BigTIFF, 16-bit, grey, palette, JPEG-compressed YCbCr", "[image]") {
  ImageScratch dir("image_tiff");
  const auto rgb = pattern_image(W, H);
  const auto n = static_cast<std::size_t>(W) * H;

  SECTION("8-bit RGB: tiled (partial edge tiles) BigTIFF, stripped, deflate") {
    TiffLayout tiled;
    tiled.tile = 64;
    tiled.bigtiff = true;
    tiled.compression = COMPRESSION_ADOBE_DEFLATE;
    write_tiff(dir.file("tiled.tif"), W, H, rgb, tiled);
    const ImageFile image(dir.file("tiled.tif"));
    CHECK(image.info().random_access);
    check_regions(image, rgb, W, H, 255, 1);
    check_regions(image, rgb, W, H, 9, 4);
    TiffLayout stripped;
    stripped.rows_per_strip = 7;
    stripped.compression = COMPRESSION_ADOBE_DEFLATE;
    write_tiff(dir.file("stripped.tif"), W, H, rgb, stripped);
    CHECK_FALSE(ImageFile(dir.file("stripped.tif")).info().random_access);
    check_regions(ImageFile(dir.file("stripped.tif")), rgb, W, H);
  }
  SECTION("RGBA and 16-bit RGB (high byte), tiled and stripped") {
    std::vector<std::uint8_t> rgba(n * 4), rgb16(n * 6);
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(&rgb[3 * i], 3, &rgba[4 * i]);
      rgba[4 * i + 3] = 17;
      for (int c = 0; c < 3; ++c) {
        const std::uint16_t v = static_cast<std::uint16_t>(rgb[3 * i + c] * 256 + (i % 256));
        std::memcpy(&rgb16[6 * i + 2 * c], &v, 2);  // native order, as libtiff takes it
      }
    }
    for (const int tile : {0, 48}) {
      TiffLayout four;
      four.samples = 4;
      four.tile = tile;
      write_tiff(dir.file("rgba.tif"), W, H, rgba, four);
      check_regions(ImageFile(dir.file("rgba.tif")), rgb, W, H);
      TiffLayout wide;
      wide.bits = 16;
      wide.tile = tile;
      write_tiff(dir.file("rgb16.tif"), W, H, rgb16, wide);
      check_regions(ImageFile(dir.file("rgb16.tif")), rgb, W, H);
    }
  }
  SECTION("grey and palette (through libtiff's RGBA conversion)") {
    std::vector<std::uint8_t> grey(n), grey_rgb(3 * n), palette_rgb(3 * n);
    TiffLayout pal;
    pal.samples = 1;
    pal.photometric = PHOTOMETRIC_PALETTE;
    pal.colormap.resize(3 * 256);
    for (int i = 0; i < 256; ++i) {
      pal.colormap[i] = static_cast<std::uint16_t>((255 - i) * 257);
      pal.colormap[256 + i] = static_cast<std::uint16_t>(((i * 3) % 256) * 257);
      pal.colormap[512 + i] = static_cast<std::uint16_t>(i * 257);
    }
    for (std::size_t i = 0; i < n; ++i) {
      grey[i] = rgb[3 * i + 2];
      grey_rgb[3 * i] = grey_rgb[3 * i + 1] = grey_rgb[3 * i + 2] = grey[i];
      palette_rgb[3 * i] = static_cast<std::uint8_t>(255 - grey[i]);
      palette_rgb[3 * i + 1] = static_cast<std::uint8_t>((grey[i] * 3) % 256);
      palette_rgb[3 * i + 2] = grey[i];
    }
    for (const int tile : {0, 32}) {
      TiffLayout g;
      g.samples = 1;
      g.photometric = PHOTOMETRIC_MINISBLACK;
      g.tile = tile;
      write_tiff(dir.file("grey.tif"), W, H, grey, g);
      check_regions(ImageFile(dir.file("grey.tif")), grey_rgb, W, H);
      pal.tile = tile;
      write_tiff(dir.file("palette.tif"), W, H, grey, pal);
      check_regions(ImageFile(dir.file("palette.tif")), palette_rgb, W, H);
    }
  }
  SECTION("JPEG-compressed YCbCr tiles and strips decode as libtiff's own RGBA reader does") {
    const auto smooth = smooth_image(W, H);
    for (const int tile : {64, 0}) {
      TiffLayout jpeg;
      jpeg.tile = tile;
      jpeg.rows_per_strip = 32;
      jpeg.jpeg_ycbcr = true;
      write_tiff(dir.file("jpeg.tif"), W, H, smooth, jpeg);
      std::vector<std::uint32_t> raster(n);
      TIFF* tif = TIFFOpen(dir.file("jpeg.tif").c_str(), "r");
      REQUIRE(tif != nullptr);
      REQUIRE(TIFFReadRGBAImageOriented(tif, W, H, raster.data(), ORIENTATION_TOPLEFT, 1) == 1);
      TIFFClose(tif);
      std::vector<std::uint8_t> reference(3 * n);
      double error = 0;
      for (std::size_t i = 0; i < n; ++i) {
        reference[3 * i] = static_cast<std::uint8_t>(TIFFGetR(raster[i]));
        reference[3 * i + 1] = static_cast<std::uint8_t>(TIFFGetG(raster[i]));
        reference[3 * i + 2] = static_cast<std::uint8_t>(TIFFGetB(raster[i]));
        for (int c = 0; c < 3; ++c) error += std::abs(reference[3 * i + c] - smooth[3 * i + c]);
      }
      INFO("tile " << tile);
      CHECK(error / (3.0 * n) < 3.0);  // a JPEG of the image, not garbage
      CHECK(ImageFile(dir.file("jpeg.tif")).info().random_access == (tile > 0));
      check_regions(ImageFile(dir.file("jpeg.tif")), reference, W, H);
    }
  }
}

TEST_CASE("a tiled TIFF reads only the tiles a rectangle touches", "[image]") {
  ImageScratch dir("image_tiles");
  const auto rgb = pattern_image(256, 256);
  TiffLayout layout;
  layout.tile = 64;
  layout.compression = COMPRESSION_ADOBE_DEFLATE;
  write_tiff(dir.file("tiled.tif"), 256, 256, rgb, layout);
  // Corrupt the last tile's compressed bytes: rectangles elsewhere still read, it does not.
  std::uint64_t offset = 0, count = 0;
  {
    TIFF* tif = TIFFOpen(dir.file("tiled.tif").c_str(), "r");
    REQUIRE(tif != nullptr);
    offset = TIFFGetStrileOffset(tif, 15);
    count = TIFFGetStrileByteCount(tif, 15);
    TIFFClose(tif);
  }
  std::string bytes = read_bytes(dir.file("tiled.tif"));
  REQUIRE(offset + count <= bytes.size());
  for (std::uint64_t i = 0; i < count; ++i) bytes[offset + i] = static_cast<char>(0xA5 ^ i);
  write_bytes(dir.file("tiled.tif"), bytes);
  const ImageFile image(dir.file("tiled.tif"));
  CHECK(image.read_region(0, 0, 192, 256) == crop(rgb, 256, 256, 0, 0, 192, 256));
  CHECK(image.read_region(192, 0, 64, 192) == crop(rgb, 256, 256, 192, 0, 64, 192));
  try {
    image.read_region(200, 200, 10, 10);
    FAIL("expected FormatError");
  } catch (const FormatError& e) {
    CHECK(std::string(e.what()).find("tiled.tif") != std::string::npos);
  }
  // The handle that saw the error is dropped; the file stays readable elsewhere.
  CHECK(image.read_region(10, 10, 5, 5) == crop(rgb, 256, 256, 10, 10, 5, 5));
}

TEST_CASE("corrupt, truncated and zero-size images fail with a FormatError naming the file", "[image]") {
  ImageScratch dir("image_bad");
  const auto rgb = smooth_image(W, H);
  auto expect_format_error = [](const std::string& path, auto&& action) {
    try {
      action();
      FAIL("expected FormatError for " << path);
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()).find(std::filesystem::path(path).filename().string()) != std::string::npos);
    }
  };

  SECTION("JPEG") {
    write_jpeg(dir.file("ok.jpg"), rgb, W, H);
    const std::string bytes = read_bytes(dir.file("ok.jpg"));
    write_bytes(dir.file("truncated.jpg"), bytes.substr(0, bytes.size() * 2 / 3));
    const ImageFile truncated(dir.file("truncated.jpg"));  // the header is intact
    CHECK(truncated.read_region(0, 0, W, 10).size() == static_cast<std::size_t>(W) * 10 * 3);  // rows before the cut
    expect_format_error(dir.file("truncated.jpg"), [&] { truncated.read_region(0, H - 10, W, 10); });
    std::string corrupt = bytes;
    for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 200; ++i) corrupt[i] = static_cast<char>(i * 37);
    write_bytes(dir.file("corrupt.jpg"), corrupt);
    expect_format_error(dir.file("corrupt.jpg"), [&] { ImageFile(dir.file("corrupt.jpg")).read_region(0, 0, W, H); });
    write_bytes(dir.file("header.jpg"), bytes.substr(0, 40));
    expect_format_error(dir.file("header.jpg"), [&] { ImageFile bad(dir.file("header.jpg")); });
  }
  SECTION("PNG") {
    write_png(dir.file("ok.png"), W, H, PNG_COLOR_TYPE_RGB, 8, rgb);
    const std::string bytes = read_bytes(dir.file("ok.png"));
    write_bytes(dir.file("truncated.png"), bytes.substr(0, bytes.size() / 2));
    expect_format_error(dir.file("truncated.png"), [&] { ImageFile(dir.file("truncated.png")).read_region(0, 0, W, H); });
    std::string zero = bytes;  // IHDR width = 0 (bytes 16-19)
    std::memset(&zero[16], 0, 4);
    write_bytes(dir.file("zero.png"), zero);
    expect_format_error(dir.file("zero.png"), [&] { ImageFile bad(dir.file("zero.png")); });
  }
  SECTION("TIFF") {
    TiffLayout layout;
    layout.compression = COMPRESSION_ADOBE_DEFLATE;
    write_tiff(dir.file("ok.tif"), W, H, pattern_image(W, H), layout);
    const std::string bytes = read_bytes(dir.file("ok.tif"));
    write_bytes(dir.file("header.tif"), bytes.substr(0, 6));
    expect_format_error(dir.file("header.tif"), [&] { ImageFile bad(dir.file("header.tif")); });
    // libtiff writes the IFD after the data: cut the data short, keep the IFD where it was.
    std::string hollow = bytes;
    std::memset(&hollow[8], 0x5A, bytes.size() / 2);
    write_bytes(dir.file("hollow.tif"), hollow);
    expect_format_error(dir.file("hollow.tif"), [&] { ImageFile(dir.file("hollow.tif")).read_region(0, 0, W, H); });
  }
  SECTION("bad rectangles") {
    write_png(dir.file("ok.png"), W, H, PNG_COLOR_TYPE_RGB, 8, rgb);
    const ImageFile image(dir.file("ok.png"));
    CHECK_THROWS_AS(image.read_region(0, 0, -1, 5), InvalidArgument);
    CHECK_THROWS_AS(image.read_regions({{0, 0, 5, 5}}, 255, -1), InvalidArgument);
    // Far outside (no overflow): all fill.
    const auto far = image.read_region(std::numeric_limits<std::int64_t>::max() - 3, -7, 4, 2, 3);
    CHECK(far == std::vector<std::uint8_t>(4 * 2 * 3, 3));
  }
}

TEST_CASE("OpenSlide reads a plain tiled TIFF as libtiff does", "[image]") {
  if (!openslide_available()) {
    ImageScratch dir("image_no_openslide");
    write_tiff(dir.file("t.tif"), 32, 32, pattern_image(32, 32), {});
    CHECK_THROWS_AS(ImageFile(dir.file("t.tif"), ImageFormat::openslide), InvalidArgument);
    return;
  }
  ImageScratch dir("image_openslide");
  const auto rgb = pattern_image(W, H);
  TiffLayout layout;
  layout.tile = 64;
  write_tiff(dir.file("generic.tif"), W, H, rgb, layout);
  CHECK(detect_image_format(dir.file("generic.tif")) == ImageFormat::tiff);  // generic TIFFs stay with libtiff
  const ImageFile slide(dir.file("generic.tif"), ImageFormat::openslide);
  CHECK(slide.info().format == ImageFormat::openslide);
  CHECK(slide.info().random_access);
  check_regions(slide, rgb, W, H);
}
