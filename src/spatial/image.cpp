// ImageFile: format detection by magic bytes, the shared reading logic over the per-format
// decoders (image_jpeg.cpp, image_png.cpp, image_tiff.cpp, image_openslide.cpp).

#include "spatialembed/spatial/image.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace spatial_detail {

void check_dimensions(const std::string& path, std::int64_t width, std::int64_t height) {
  SPATIALEMBED_CHECK(width > 0 && height > 0, FormatError, "image '{}' has size {} × {} pixels; expected both > 0", path,
                     width, height);
  const auto max_bytes = std::numeric_limits<std::size_t>::max();
  SPATIALEMBED_CHECK(static_cast<std::uint64_t>(width) <= max_bytes / 3 / static_cast<std::uint64_t>(height),
                     FormatError, "image '{}' claims {} × {} pixels, more than memory can address", path, width, height);
}

void ImageSource::read_rects(const std::vector<RectTarget>& targets, int num_threads) const {
  (void)num_threads;
  for (const auto& t : targets) {
    read_rows(t.x0, t.x0 + t.width, {RowRun{t.y0, t.y0 + t.height}}, [&](std::int64_t y, const std::uint8_t* rgb) {
      std::memcpy(t.data + static_cast<std::size_t>(y - t.y0) * t.stride, rgb, static_cast<std::size_t>(t.width) * 3);
    });
  }
}

#ifndef SPATIALEMBED_HAS_OPENSLIDE
std::unique_ptr<ImageSource> open_openslide(const std::string& path) {
  detail::raise<InvalidArgument>(
      "'{}' is a whole-slide image (OpenSlide format); this spatialembed was built without OpenSlide "
      "(install libopenslide-dev and rebuild)",
      path);
}
std::string openslide_vendor(const std::string&) { return {}; }
#endif

namespace {

struct Clip {
  std::int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inside the image, half-open
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

std::size_t region_bytes(const ImageRect& r) {
  SPATIALEMBED_CHECK(r.width >= 0 && r.height >= 0, InvalidArgument,
                     "a rectangle's width and height must be >= 0, got {} × {}", r.width, r.height);
  const auto max_bytes = std::numeric_limits<std::size_t>::max();
  SPATIALEMBED_CHECK(r.height == 0 || static_cast<std::uint64_t>(r.width) <= max_bytes / 3 / static_cast<std::uint64_t>(r.height),
                     InvalidArgument, "a rectangle of {} × {} pixels does not fit in memory", r.width, r.height);
  return static_cast<std::size_t>(r.width) * static_cast<std::size_t>(r.height) * 3;
}

}  // namespace

void stream_regions(const ImageSource& source, const std::vector<ImageRect>& rects, std::uint8_t fill, int num_threads,
                    const RegionOpen& open, const RegionDone& done, const Poll& poll) {
  const ImageInfo& info = source.info;
  const std::size_t n = rects.size();
  std::vector<Clip> clip(n);
  for (std::size_t i = 0; i < n; ++i) {
    const ImageRect& r = rects[i];
    region_bytes(r);
    // Saturating: a rectangle far outside (|x0| near 2^63) must not overflow x0 + width.
    auto end = [](std::int64_t a, std::int64_t len) {
      return a > std::numeric_limits<std::int64_t>::max() - len ? std::numeric_limits<std::int64_t>::max() : a + len;
    };
    clip[i] = {std::max<std::int64_t>(r.x0, 0), std::max<std::int64_t>(r.y0, 0), std::min(end(r.x0, r.width), info.width),
               std::min(end(r.y0, r.height), info.height)};
  }
  // Opens rectangle i; pads it with `fill` unless the image covers it entirely.
  std::vector<std::uint8_t*> buffer(n, nullptr);
  auto start = [&](std::size_t i) {
    buffer[i] = open(i);
    const ImageRect& r = rects[i];
    const Clip& c = clip[i];
    const bool inside = !c.empty() && c.x0 == r.x0 && c.y0 == r.y0 && c.x1 - c.x0 == r.width && c.y1 - c.y0 == r.height;
    if (!inside) std::fill(buffer[i], buffer[i] + region_bytes(r), fill);
  };
  auto first_pixel = [&](std::size_t i) {
    const ImageRect& r = rects[i];
    return buffer[i] + (static_cast<std::size_t>(clip[i].y0 - r.y0) * static_cast<std::size_t>(r.width) +
                        static_cast<std::size_t>(clip[i].x0 - r.x0)) * 3;
  };

  if (info.random_access) {
    std::vector<RectTarget> targets;
    for (std::size_t i = 0; i < n; ++i) {
      start(i);
      const Clip& c = clip[i];
      if (c.empty()) continue;
      targets.push_back({c.x0, c.y0, c.x1 - c.x0, c.y1 - c.y0, first_pixel(i), static_cast<std::size_t>(rects[i].width) * 3});
    }
    if (poll) poll();
    source.read_rects(targets, num_threads);
    for (std::size_t i = 0; i < n; ++i) done(i);
    return;
  }

  // Sequential: rectangles sorted by first row; a row is copied into every open rectangle.
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < n; ++i) {
    if (clip[i].empty()) {
      start(i);
      done(i);
    } else {
      order.push_back(i);
    }
  }
  if (order.empty()) return;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return clip[a].y0 < clip[b].y0; });
  std::int64_t x_begin = info.width, x_end = 0;
  std::vector<RowRun> runs;
  for (const std::size_t i : order) {
    x_begin = std::min(x_begin, clip[i].x0);
    x_end = std::max(x_end, clip[i].x1);
    if (!runs.empty() && clip[i].y0 <= runs.back().end) {
      runs.back().end = std::max(runs.back().end, clip[i].y1);
    } else {
      runs.push_back({clip[i].y0, clip[i].y1});
    }
  }

  std::size_t next = 0;
  std::vector<std::size_t> active;
  std::int64_t rows = 0;
  source.read_rows(x_begin, x_end, runs, [&](std::int64_t y, const std::uint8_t* rgb) {
    while (next < order.size() && clip[order[next]].y0 <= y) {
      start(order[next]);
      active.push_back(order[next++]);
    }
    for (const std::size_t i : active) {
      const Clip& c = clip[i];
      if (y < c.y0 || y >= c.y1) continue;
      std::memcpy(first_pixel(i) + static_cast<std::size_t>(y - c.y0) * static_cast<std::size_t>(rects[i].width) * 3,
                  rgb + (c.x0 - x_begin) * 3, static_cast<std::size_t>(c.x1 - c.x0) * 3);
    }
    // Report rectangles whose last row this was, in the order they were opened.
    std::size_t kept = 0;
    for (const std::size_t i : active) {
      if (clip[i].y1 - 1 <= y) {
        done(i);
      } else {
        active[kept++] = i;
      }
    }
    active.resize(kept);
    if (poll && ++rows % 64 == 0) poll();
  });
  SPATIALEMBED_CHECK(next == order.size() && active.empty(), FormatError,
                     "'{}': the decoder stopped before the last requested row", info.path);
}

}  // namespace spatial_detail

using spatial_detail::ImageSource;

ImageFormat parse_image_format(const std::string& name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "jpeg" || s == "jpg") return ImageFormat::jpeg;
  if (s == "png") return ImageFormat::png;
  if (s == "tiff" || s == "tif") return ImageFormat::tiff;
  if (s == "openslide") return ImageFormat::openslide;
  detail::raise<InvalidArgument>("image format must be 'jpeg', 'png', 'tiff' or 'openslide', got '{}'", name);
}

const char* to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::tiff: return "tiff";
    case ImageFormat::openslide: return "openslide";
  }
  return "?";
}

bool openslide_available() {
#ifdef SPATIALEMBED_HAS_OPENSLIDE
  return true;
#else
  return false;
#endif
}

ImageFormat detect_image_format(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    detail::raise<IOError>("cannot open image file '{}': {}", path, std::strerror(errno));
  }
  unsigned char magic[8] = {};
  const std::size_t got = std::fread(magic, 1, sizeof magic, file);
  std::fclose(file);
  auto starts = [&](std::initializer_list<unsigned char> bytes) {
    return got >= bytes.size() && std::equal(bytes.begin(), bytes.end(), magic);
  };
  if (starts({0xFF, 0xD8, 0xFF})) return ImageFormat::jpeg;
  if (starts({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A})) return ImageFormat::png;
  const bool tiff = starts({'I', 'I', 42, 0}) || starts({'M', 'M', 0, 42}) || starts({'I', 'I', 43, 0}) ||
                    starts({'M', 'M', 0, 43});
  // Vendors' whole-slide TIFFs (SVS, NDPI, ...) go to OpenSlide; plain tiled TIFFs ("generic-tiff") to libtiff.
  const std::string vendor = spatial_detail::openslide_vendor(path);
  if (tiff) return vendor.empty() || vendor == "generic-tiff" ? ImageFormat::tiff : ImageFormat::openslide;
  if (!vendor.empty()) return ImageFormat::openslide;
  SPATIALEMBED_CHECK(got > 0, FormatError, "image file '{}' is empty", path);
  std::string bytes;
  for (std::size_t i = 0; i < got; ++i) bytes += fmt::format("{}{:02X}", i ? " " : "", magic[i]);
  detail::raise<FormatError>(
      "'{}' is not an image spatialembed can read: it starts with bytes {} (expected JPEG FF D8 FF, PNG 89 50 4E 47, "
      "TIFF 49 49 2A 00 / 4D 4D 00 2A or BigTIFF 49 49 2B 00 / 4D 4D 00 2B{})",
      path, bytes, openslide_available() ? "" : "; whole-slide formats need a build with OpenSlide");
}

ImageFile::ImageFile(std::string path) : ImageFile(path, detect_image_format(path)) {}

ImageFile::ImageFile(std::string path, ImageFormat format) {
  std::unique_ptr<ImageSource> source;
  switch (format) {
    case ImageFormat::jpeg: source = spatial_detail::open_jpeg(path); break;
    case ImageFormat::png: source = spatial_detail::open_png(path); break;
    case ImageFormat::tiff: source = spatial_detail::open_tiff(path); break;
    case ImageFormat::openslide: source = spatial_detail::open_openslide(path); break;
  }
  source->info.path = path;
  source->info.format = format;
  spatial_detail::check_dimensions(path, source->info.width, source->info.height);
  source_ = std::move(source);
}

const ImageInfo& ImageFile::info() const { return source_->info; }

std::vector<std::uint8_t> ImageFile::read_region(std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h,
                                                 std::uint8_t fill) const {
  auto regions = read_regions({ImageRect{x0, y0, w, h}}, fill, 0);
  return std::move(regions.front());
}

std::vector<std::vector<std::uint8_t>> ImageFile::read_regions(const std::vector<ImageRect>& rects, std::uint8_t fill,
                                                               int num_threads) const {
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}", num_threads);
  std::vector<std::vector<std::uint8_t>> out(rects.size());
  spatial_detail::stream_regions(
      *source_, rects, fill, num_threads,
      [&](std::size_t i) {
        out[i].resize(static_cast<std::size_t>(rects[i].width) * static_cast<std::size_t>(rects[i].height) * 3);
        return out[i].data();
      },
      [](std::size_t) {});
  return out;
}

}  // namespace spatialembed
