#include "spatialembed/msi/ion_image_stack.hpp"

#include <png.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/memory.hpp"

namespace spatialembed {

namespace fs = std::filesystem;

std::size_t IonImageStack::n_measured() const {
  return static_cast<std::size_t>(std::count(mask.begin(), mask.end(), std::uint8_t{1}));
}

void IonImageStack::validate() const {
  SPATIALEMBED_CHECK(mask.size() == height * width, InvalidArgument,
                     "ion-image stack: mask has {} pixels, expected height x width = {} x {}", mask.size(), height, width);
  SPATIALEMBED_CHECK(images.size() == mz.size() * height * width, InvalidArgument,
                     "ion-image stack: {} values, expected n_images x height x width = {} x {} x {}", images.size(),
                     mz.size(), height, width);
}

void PngStackOptions::validate() const {
  SPATIALEMBED_CHECK(max_image_pixels >= 1 && max_image_pixels <= (std::uint64_t{1} << 40), InvalidArgument,
                     "max_image_pixels must be in 1 .. 2^40 (pixels per image), got {}", max_image_pixels);
}

namespace {

struct PngImage {
  png_image image{};
  PngImage() { image.version = PNG_IMAGE_VERSION; }
  ~PngImage() { png_image_free(&image); }
};

// Decodes an RGBA PNG of 8- or 16-bit samples (T) into grey values in [0, 1]; opaque pixels
// (alpha at full scale) are measured, others read as 0.
template <class T>
void decode_rgba(PngImage& png, const std::string& name, std::vector<T>& pixels, float* image,
                 std::vector<std::uint8_t>& mask) {
  const std::size_t n = static_cast<std::size_t>(png.image.height) * png.image.width;
  constexpr double maximum = std::numeric_limits<T>::max();
  pixels.resize(n * 4);
  SPATIALEMBED_CHECK(png_image_finish_read(&png.image, nullptr, pixels.data(), 0, nullptr) != 0, FormatError,
                     "{}: cannot decode PNG: {}", name, png.image.message);
  for (std::size_t p = 0; p < n; ++p) {
    const T* px = pixels.data() + 4 * p;
    const bool opaque = px[3] == std::numeric_limits<T>::max();
    mask[p] |= opaque;
    image[p] = opaque ? static_cast<float>((px[0] + px[1] + px[2]) / 3.0 / maximum) : 0.0f;
  }
}

}  // namespace

IonImageStack read_png_stack(const std::string& folder, const PngStackOptions& options) {
  options.validate();
  std::error_code ec;
  SPATIALEMBED_CHECK(fs::is_directory(folder, ec), IOError, "{}: not a folder of PNG ion images", folder);
  std::vector<std::pair<double, fs::path>> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const auto& path = entry.path();
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext != ".png" || !entry.is_regular_file()) continue;
    const std::string stem = path.stem().string();
    double mz = 0;
    const auto [end, err] = std::from_chars(stem.data(), stem.data() + stem.size(), mz);
    SPATIALEMBED_CHECK(err == std::errc() && end == stem.data() + stem.size() && std::isfinite(mz), FormatError,
                       "{}: PNG ion images must be named by their m/z (e.g. 409.045.png)", path.string());
    files.emplace_back(mz, path);
  }
  SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot list the folder: {}", folder, ec.message());
  SPATIALEMBED_CHECK(!files.empty(), FormatError, "{}: holds no .png ion images", folder);
  std::sort(files.begin(), files.end());

  IonImageStack stack;
  std::vector<std::uint16_t> pixels16;  // decode buffers, reused across images
  std::vector<std::uint8_t> pixels8;
  for (std::size_t k = 0; k < files.size(); ++k) {
    const std::string name = files[k].second.string();
    PngImage png;
    SPATIALEMBED_CHECK(png_image_begin_read_from_file(&png.image, name.c_str()) != 0, FormatError, "{}: cannot decode PNG: {}",
                       name, png.image.message);
    const bool sixteen = (png.image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
    png.image.format = sixteen ? PNG_FORMAT_LINEAR_RGB_ALPHA : PNG_FORMAT_RGBA;
    const std::size_t H = png.image.height, W = png.image.width;
    // From the header, before anything is decoded or allocated.
    SPATIALEMBED_CHECK(static_cast<std::uint64_t>(H) * W <= options.max_image_pixels, InvalidArgument,
                       "{}: {} x {} pixels (width x height, {} pixels) is larger than max_image_pixels = {}; raise "
                       "max_image_pixels if the image is right",
                       name, W, H, static_cast<std::uint64_t>(H) * W, options.max_image_pixels);
    if (k == 0) {
      check_memory((static_cast<double>(files.size()) * sizeof(float) + 1 + 4 * (sixteen ? 2 : 1)) *
                       static_cast<double>(H) * static_cast<double>(W),
                   fmt::format("{}: {} ion images of {} x {} pixels (the size of {})", folder, files.size(), W, H, name));
      stack.height = H;
      stack.width = W;
      stack.mask.assign(H * W, 0);
      stack.images.assign(files.size() * H * W, 0.0f);
    }
    SPATIALEMBED_CHECK(H == stack.height && W == stack.width, FormatError, "{}: {} x {} pixels, but {} has {} x {}", name,
                       H, W, files[0].second.string(), stack.height, stack.width);
    float* image = stack.image(k);
    if (sixteen) {
      decode_rgba(png, name, pixels16, image, stack.mask);
    } else {
      decode_rgba(png, name, pixels8, image, stack.mask);
    }
    stack.mz.push_back(files[k].first);
  }
  // A pixel opaque in one image only is measured: its value elsewhere stays the decoded 0.
  return stack;
}

std::string png_file_name(double mz) { return fmt::format("{}.png", mz); }

void write_png_image(const std::string& path, const float* image, const std::uint8_t* mask, std::size_t height,
                     std::size_t width, int bit_depth, bool fast) {
  SPATIALEMBED_CHECK(bit_depth == 8 || bit_depth == 16, InvalidArgument, "bit_depth must be 8 or 16, got {}", bit_depth);
  const std::size_t P = height * width;
  const double maximum = bit_depth == 8 ? 255.0 : 65535.0;
  std::vector<std::uint16_t> grey_alpha(2 * P);
  for (std::size_t p = 0; p < P; ++p) {
    const double v = std::isnan(image[p]) ? 0.0 : std::clamp(static_cast<double>(image[p]), 0.0, 1.0);
    grey_alpha[2 * p] = mask[p] ? static_cast<std::uint16_t>(std::lround(v * maximum)) : 0;
    grey_alpha[2 * p + 1] = mask[p] ? static_cast<std::uint16_t>(maximum) : 0;
  }
  PngImage png;
  png.image.width = static_cast<png_uint_32>(width);
  png.image.height = static_cast<png_uint_32>(height);
  if (fast) png.image.flags |= PNG_IMAGE_FLAG_FAST;
  int ok;
  if (bit_depth == 16) {
    png.image.format = PNG_FORMAT_LINEAR_Y_ALPHA;
    ok = png_image_write_to_file(&png.image, path.c_str(), 0, grey_alpha.data(), 0, nullptr);
  } else {
    png.image.format = PNG_FORMAT_GA;
    std::vector<std::uint8_t> bytes(grey_alpha.begin(), grey_alpha.end());
    ok = png_image_write_to_file(&png.image, path.c_str(), 0, bytes.data(), 0, nullptr);
  }
  SPATIALEMBED_CHECK(ok != 0, IOError, "{}: cannot write PNG: {}", path, png.image.message);
}

void write_png_stack(const IonImageStack& stack, const std::string& folder, int bit_depth) {
  stack.validate();
  SPATIALEMBED_CHECK(bit_depth == 8 || bit_depth == 16, InvalidArgument, "bit_depth must be 8 or 16, got {}", bit_depth);
  std::error_code ec;
  fs::create_directories(folder, ec);
  SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot create the folder: {}", folder, ec.message());
  for (std::size_t k = 0; k < stack.n_images(); ++k) {
    const std::string name = (fs::path(folder) / png_file_name(stack.mz[k])).string();
    write_png_image(name, stack.image(k), stack.mask.data(), stack.height, stack.width, bit_depth);
  }
}

}  // namespace spatialembed
