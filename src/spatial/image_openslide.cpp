// Whole-slide images (Aperio SVS, Hamamatsu NDPI/VMS, MIRAX, Leica SCN, ...) through OpenSlide,
// level 0. Compiled only when CMake finds OpenSlide (SPATIALEMBED_HAS_OPENSLIDE).
//
// OpenSlide objects are thread-safe and cache tiles themselves, so rectangles are read in
// parallel straight from one shared object. It returns premultiplied ARGB: fully transparent
// pixels (outside the scanned area) read as white, partial alpha is un-premultiplied.

#include <openslide.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed::spatial_detail {

namespace {

class OpenSlideSource : public ImageSource {
 public:
  explicit OpenSlideSource(const std::string& path) : owner_(openslide_open(path.c_str()), openslide_close) {
    slide_ = owner_.get();
    SPATIALEMBED_CHECK(slide_ != nullptr, FormatError, "OpenSlide does not recognise '{}' as a whole-slide image", path);
    check(path);
    std::int64_t width = -1, height = -1;
    openslide_get_level0_dimensions(slide_, &width, &height);
    check(path);
    info.width = width;
    info.height = height;
    info.random_access = true;
  }

  void read_rows(std::int64_t x_begin, std::int64_t x_end, const std::vector<RowRun>& runs,
                 const RowSink& sink) const override {
    const std::size_t n = static_cast<std::size_t>(x_end - x_begin);
    std::vector<std::uint8_t> rgb(n * 3);
    for (const RowRun& run : runs) {
      for (std::int64_t y = run.begin; y < run.end; ++y) {
        read(x_begin, y, static_cast<std::int64_t>(n), 1, rgb.data(), n * 3);
        sink(y, rgb.data());
      }
    }
  }

  void read_rects(const std::vector<RectTarget>& targets, int num_threads) const override {
    parallel_for(targets.size(), num_threads, [&](std::size_t i) {
      const RectTarget& t = targets[i];
      read(t.x0, t.y0, t.width, t.height, t.data, t.stride);
    }, 1);
  }

 private:
  void check(const std::string& path) const {
    const char* error = openslide_get_error(slide_);
    SPATIALEMBED_CHECK(error == nullptr, FormatError, "OpenSlide cannot read '{}': {}", path, error);
  }

  void read(std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h, std::uint8_t* out, std::size_t stride) const {
    std::vector<std::uint32_t> argb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
    openslide_read_region(slide_, argb.data(), x0, y0, 0, w, h);
    check(info.path);
    for (std::int64_t y = 0; y < h; ++y) {
      std::uint8_t* row = out + static_cast<std::size_t>(y) * stride;
      for (std::int64_t x = 0; x < w; ++x) {
        const std::uint32_t p = argb[static_cast<std::size_t>(y * w + x)];
        const std::uint32_t a = p >> 24;
        std::uint32_t rgb[3] = {(p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF};
        for (auto& c : rgb) c = a == 255 ? c : a == 0 ? 255 : std::min<std::uint32_t>(255, (c * 255 + a / 2) / a);
        row[3 * x] = static_cast<std::uint8_t>(rgb[0]);
        row[3 * x + 1] = static_cast<std::uint8_t>(rgb[1]);
        row[3 * x + 2] = static_cast<std::uint8_t>(rgb[2]);
      }
    }
  }

  std::unique_ptr<openslide_t, void (*)(openslide_t*)> owner_;
  openslide_t* slide_ = nullptr;
};

}  // namespace

std::unique_ptr<ImageSource> open_openslide(const std::string& path) { return std::make_unique<OpenSlideSource>(path); }

std::string openslide_vendor(const std::string& path) {
  const char* vendor = openslide_detect_vendor(path.c_str());
  return vendor != nullptr ? vendor : "";
}

}  // namespace spatialembed::spatial_detail
