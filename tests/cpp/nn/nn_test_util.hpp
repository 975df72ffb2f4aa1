#pragma once
// Helpers of the nn tests: where the real ResNet-50 weights and the sample photos are, a JPEG
// decoder (libjpeg, independent of the library), softmax.

#include <jpeglib.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "spatialembed/nn/embedder.hpp"

namespace spatialembed::test {

/// The npm ResNet-50 weights that scripts/fetch_weights.sh puts in the cache. The tests that
/// need them fail (not skip) when they are missing: setup fetches them.
inline std::string resnet_weights() { return default_weights_path("resnet50"); }

/// Debian's darknet package ships these photos.
inline std::string photo(const std::string& name) { return "/usr/share/darknet/data/" + name; }

struct RgbImage {
  std::size_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // height × width × 3
};

inline RgbImage read_jpeg(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path + " (install the Debian package darknet)");
  jpeg_decompress_struct info;
  jpeg_error_mgr err;
  info.err = jpeg_std_error(&err);
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  RgbImage image;
  image.height = info.output_height, image.width = info.output_width;
  image.pixels.resize(image.height * image.width * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + info.output_scanline * image.width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  std::fclose(file);
  return image;
}

inline std::vector<double> softmax(const float* logits, std::size_t n) {
  double max = logits[0], sum = 0;
  for (std::size_t i = 1; i < n; ++i) max = std::max<double>(max, logits[i]);
  std::vector<double> p(n);
  for (std::size_t i = 0; i < n; ++i) sum += p[i] = std::exp(logits[i] - max);
  for (auto& v : p) v /= sum;
  return p;
}

}  // namespace spatialembed::test
