#pragma once
// Helpers of the image and tile tests: small images written with libjpeg, libpng and libtiff
// directly (independent of the decoders under test), a plain full JPEG decode as reference,
// and a scratch folder.

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

namespace spatialembed::test {

/// A fresh, empty scratch folder under the system temp folder, removed at destruction.
struct ImageScratch {
  std::filesystem::path path;
  explicit ImageScratch(const std::string& name) {
    path = std::filesystem::temp_directory_path() / fmt::format("spatialembed_{}_{}", name, ::getpid());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ImageScratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// $SPATIALEMBED_DATA, else ../shared/data beside the source tree; empty if absent.
inline std::string image_data_dir() {
  const char* env = std::getenv("SPATIALEMBED_DATA");
  const std::filesystem::path path = env ? std::filesystem::path(env)
                                         : std::filesystem::path(SPATIALEMBED_SOURCE_DIR).parent_path() / "shared" / "data";
  return std::filesystem::is_directory(path) ? path.string() : std::string();
}

/// The test pattern: every pixel's RGB is a function of (x, y), distinct enough to catch any
/// shifted, flipped or swapped row or column.
inline std::uint8_t pattern(std::int64_t x, std::int64_t y, int c) {
  switch (c) {
    case 0: return static_cast<std::uint8_t>((x * 7 + y * 3) % 256);
    case 1: return static_cast<std::uint8_t>((x ^ (y * 5)) & 255);
    default: return static_cast<std::uint8_t>((x * y + 11 * x) % 251);
  }
}

/// width × height × 3 RGB of `pattern`.
inline std::vector<std::uint8_t> pattern_image(int width, int height) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) rgb[(static_cast<std::size_t>(y) * width + x) * 3 + c] = pattern(x, y, c);
  return rgb;
}

/// A smooth image (JPEG-friendly): gradients plus a few discs.
inline std::vector<std::uint8_t> smooth_image(int width, int height) {
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool disc = ((x % 97) - 48) * ((x % 97) - 48) + ((y % 89) - 44) * ((y % 89) - 44) < 400;
      std::uint8_t* p = &rgb[(static_cast<std::size_t>(y) * width + x) * 3];
      p[0] = static_cast<std::uint8_t>(disc ? 200 : x * 255 / width);
      p[1] = static_cast<std::uint8_t>(disc ? 40 : y * 255 / height);
      p[2] = static_cast<std::uint8_t>(disc ? 120 : (x + y) * 255 / (width + height));
    }
  }
  return rgb;
}

/// Writes `pixels` (width × height × components: 1 = grey, 3 = RGB) as a JPEG with libjpeg.
inline void write_jpeg(const std::string& path, const std::vector<std::uint8_t>& pixels, int width, int height,
                       int components = 3, int quality = 92, bool progressive = false, bool h1v1 = false) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  if (h1v1 && components == 3) cinfo.comp_info[0].h_samp_factor = cinfo.comp_info[0].v_samp_factor = 1;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&pixels[static_cast<std::size_t>(cinfo.next_scanline) * width * components]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::fclose(file);
}

/// The whole JPEG decoded to RGB the plain way (all rows, no cropping or skipping).
inline std::vector<std::uint8_t> decode_jpeg(const std::string& path, int& width, int& height) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot read " + path);
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, file);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  width = static_cast<int>(cinfo.output_width);
  height = static_cast<int>(cinfo.output_height);
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &rgb[static_cast<std::size_t>(cinfo.output_scanline) * width * 3];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  std::fclose(file);
  return rgb;
}

/// Writes a PNG with libpng. `rows` holds height rows of packed samples as PNG stores them
/// (16-bit samples big-endian); `palette` (RGB triplets) for PNG_COLOR_TYPE_PALETTE.
inline void write_png(const std::string& path, int width, int height, int color_type, int bit_depth,
                      const std::vector<std::uint8_t>& rows, bool interlaced = false,
                      const std::vector<png_color>& palette = {}) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) throw std::runtime_error("libpng write error");
  png_init_io(png, file);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!palette.empty()) png_set_PLTE(png, info, palette.data(), static_cast<int>(palette.size()));
  png_write_info(png, info);
  const std::size_t row_bytes = rows.size() / height;
  std::vector<png_bytep> pointers(height);
  for (int y = 0; y < height; ++y) pointers[y] = const_cast<png_bytep>(&rows[y * row_bytes]);
  png_write_image(png, pointers.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

/// Layout of a TIFF written by write_tiff.
struct TiffLayout {
  int samples = 3;                       ///< samples per pixel
  int bits = 8;                          ///< 8 or 16
  int photometric = PHOTOMETRIC_RGB;
  int compression = COMPRESSION_NONE;
  int tile = 0;                          ///< > 0: square tiles of this side; 0: strips
  int rows_per_strip = 16;
  bool bigtiff = false;
  bool jpeg_ycbcr = false;               ///< JPEG compression of YCbCr (libtiff converts from RGB)
  std::vector<std::uint16_t> colormap;   ///< palette: 3 × 2^bits entries (R…, G…, B…)
};

/// Writes `samples` (height × width × layout.samples, 8-bit as bytes or 16-bit native) with libtiff.
inline void write_tiff(const std::string& path, int width, int height, const std::vector<std::uint8_t>& data,
                       const TiffLayout& layout) {
  TIFF* tif = TIFFOpen(path.c_str(), layout.bigtiff ? "w8" : "w");
  if (tif == nullptr) throw std::runtime_error("cannot write " + path);
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, layout.samples);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, layout.bits);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  if (layout.samples == 4 || layout.samples == 2) {
    const std::uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  if (layout.jpeg_ycbcr) {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
    TIFFSetField(tif, TIFFTAG_YCBCRSUBSAMPLING, 2, 2);
    TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 90);
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  } else {
    TIFFSetField(tif, TIFFTAG_COMPRESSION, layout.compression);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, layout.photometric);
  }
  if (!layout.colormap.empty()) {
    const std::size_t n = layout.colormap.size() / 3;
    TIFFSetField(tif, TIFFTAG_COLORMAP, layout.colormap.data(), layout.colormap.data() + n, layout.colormap.data() + 2 * n);
  }
  const std::size_t pixel = static_cast<std::size_t>(layout.samples) * layout.bits / 8;
  if (layout.tile > 0) {
    const int t = layout.tile;
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, t);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, t);
    std::vector<std::uint8_t> buffer(static_cast<std::size_t>(t) * t * pixel);
    for (int ty = 0; ty < height; ty += t) {
      for (int tx = 0; tx < width; tx += t) {
        std::fill(buffer.begin(), buffer.end(), 0);
        for (int y = ty; y < std::min(height, ty + t); ++y) {
          const std::size_t n = static_cast<std::size_t>(std::min(width, tx + t) - tx) * pixel;
          std::copy_n(&data[(static_cast<std::size_t>(y) * width + tx) * pixel], n, &buffer[static_cast<std::size_t>(y - ty) * t * pixel]);
        }
        if (TIFFWriteTile(tif, buffer.data(), tx, ty, 0, 0) < 0) throw std::runtime_error("TIFFWriteTile failed");
      }
    }
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, layout.rows_per_strip);
    for (int y = 0; y < height; ++y) {
      auto* row = const_cast<std::uint8_t*>(&data[static_cast<std::size_t>(y) * width * pixel]);
      if (TIFFWriteScanline(tif, row, y, 0) < 0) throw std::runtime_error("TIFFWriteScanline failed");
    }
  }
  TIFFClose(tif);
}

/// The bytes of a file.
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Writes `bytes` to `path`.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Rows [y0, y0+h) × columns [x0, x0+w) of a width × height RGB image, outside = fill.
inline std::vector<std::uint8_t> crop(const std::vector<std::uint8_t>& rgb, int width, int height, std::int64_t x0,
                                      std::int64_t y0, std::int64_t w, std::int64_t h, std::uint8_t fill = 255) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(w * h * 3), fill);
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      const std::int64_t sx = x0 + x, sy = y0 + y;
      if (sx < 0 || sy < 0 || sx >= width || sy >= height) continue;
      for (int c = 0; c < 3; ++c) out[static_cast<std::size_t>((y * w + x) * 3 + c)] = rgb[static_cast<std::size_t>((sy * width + sx) * 3 + c)];
    }
  }
  return out;
}

}  // namespace spatialembed::test
