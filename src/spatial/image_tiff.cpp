// TIFF and BigTIFF through libtiff, first image (IFD 0; the full resolution of a pyramid).
//
// Two paths: plain 8- or 16-bit RGB/RGBA or greyscale, and JPEG-compressed YCbCr (decoded to RGB by
// libtiff's JPEGCOLORMODE_RGB), are read directly — tiles with TIFFReadEncodedTile, strips
// row by row with TIFFReadScanline. Everything else (palette, CMYK, Lab, min-is-white, separate
// planes, 1-bit, ...) goes through TIFFRGBAImage, which converts any photometric to RGBA and
// reads only the tiles or strips of the rectangle asked for.
//
// Errors: every handle gets its own error handler (TIFFOpenOptions, libtiff >= 4.5) that keeps
// the message; the failing call's return value then raises a FormatError with it.

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed::spatial_detail {

namespace {

struct Handle {
  TIFF* tif = nullptr;
  std::string error;  // the first message of the failing call
  ~Handle() {
    if (tif != nullptr) TIFFClose(tif);
  }
};

int on_error(TIFF*, void* user_data, const char* module, const char* format, va_list args) {
  auto* handle = static_cast<Handle*>(user_data);
  char message[512];
  std::vsnprintf(message, sizeof message, format, args);
  if (handle->error.empty()) handle->error = module != nullptr ? std::string(module) + ": " + message : message;
  return 1;  // handled: libtiff's global handler does not print it
}

int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }  // unknown tags and the like

enum class Mode {
  rgb,   // 8-bit contiguous RGB with `samples` samples per pixel (alpha or extra samples ignored)
  gray,  // 8-bit contiguous greyscale with `samples` samples per pixel
  rgba,  // anything else, through TIFFRGBAImage
};

class TiffSource : public ImageSource {
 public:
  explicit TiffSource(const std::string& path) : path_(path) {
    auto handle = open_handle();
    TIFF* tif = handle->tif;
    std::uint32_t width = 0, height = 0;
    std::uint16_t photometric = 0;
    SPATIALEMBED_CHECK(TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) == 1 &&
                           TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height) == 1,
                       FormatError, "TIFF '{}' has no image width or length tag", path);
    info.width = width;
    info.height = height;
    check_dimensions(path, info.width, info.height);
    std::uint16_t bits = 1, samples = 1, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT, compression = 1;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    const bool has_photometric = TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric) == 1;
    // 8- and 16-bit unsigned contiguous samples are read directly: libtiff 4.5's RGBA
    // conversion of 16-bit images clips partial edge tiles wrongly.
    const bool plain = (bits == 8 || bits == 16) && format == SAMPLEFORMAT_UINT && planar == PLANARCONFIG_CONTIG;
    sample_bytes_ = bits / 8;
    if (has_photometric && photometric == PHOTOMETRIC_YCBCR && compression == COMPRESSION_JPEG &&
        planar == PLANARCONFIG_CONTIG && bits == 8) {
      ycbcr_jpeg_ = true;
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
      mode_ = Mode::rgb;
      samples_ = 3;
    } else if (has_photometric && photometric == PHOTOMETRIC_RGB && plain && samples >= 3) {
      mode_ = Mode::rgb;
      samples_ = samples;
    } else if (has_photometric && photometric == PHOTOMETRIC_MINISBLACK && plain && samples >= 1) {
      mode_ = Mode::gray;
      samples_ = samples;
    } else {
      char message[1024] = {};
      SPATIALEMBED_CHECK(TIFFRGBAImageOK(tif, message) == 1, FormatError,
                         "TIFF '{}' has a pixel layout libtiff cannot convert to RGB: {}", path, message);
      mode_ = Mode::rgba;
    }
    tiled_ = TIFFIsTiled(tif) != 0;
    info.random_access = tiled_;
    if (tiled_) {
      SPATIALEMBED_CHECK(TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tile_width_) == 1 &&
                             TIFFGetField(tif, TIFFTAG_TILELENGTH, &tile_height_) == 1 && tile_width_ > 0 &&
                             tile_height_ > 0,
                         FormatError, "tiled TIFF '{}' has no valid tile width and length", path);
      // A tile larger than the image (rounded up to libtiff's multiple of 16) is a corrupt
      // header; refusing it bounds a tile buffer by the image size.
      auto round16 = [](std::int64_t v) { return (v + 15) / 16 * 16; };
      SPATIALEMBED_CHECK(tile_width_ <= round16(width) && tile_height_ <= round16(height), FormatError,
                         "tiled TIFF '{}': tiles of {} × {} pixels exceed the {} × {} image", path, tile_width_,
                         tile_height_, width, height);
    } else {
      std::uint32_t rows = 0;
      TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows);
      rows_per_strip_ = std::max<std::uint32_t>(1, std::min(rows, height));
    }
    if (mode_ != Mode::rgba) {
      // The direct paths rely on libtiff's buffer sizes matching our pixel layout.
      const auto expected = static_cast<tmsize_t>(samples_ * sample_bytes_) *
                            (tiled_ ? static_cast<tmsize_t>(tile_width_) * tile_height_ : static_cast<tmsize_t>(width));
      const tmsize_t actual = tiled_ ? TIFFTileSize(tif) : TIFFScanlineSize(tif);
      SPATIALEMBED_CHECK(actual == expected, FormatError, "TIFF '{}': decoded {} is {} bytes, expected {}", path,
                         tiled_ ? "tile" : "row", actual, expected);
    }
    release(std::move(handle));
  }

  void read_rows(std::int64_t x_begin, std::int64_t x_end, const std::vector<RowRun>& runs,
                 const RowSink& sink) const override {
    Lease lease(*this);
    TIFF* tif = lease.handle->tif;
    const std::size_t n = static_cast<std::size_t>(x_end - x_begin);
    std::vector<std::uint8_t> rgb(n * 3);
    if (mode_ != Mode::rgba) {
      // Most codecs cannot seek inside a strip, so rows are read in order from the start of
      // the strip holding the next needed row (strips no run touches are never read).
      std::vector<std::uint8_t> row(static_cast<std::size_t>(TIFFScanlineSize(tif)));
      std::int64_t next = -1;  // the row this handle reads next without restarting a strip
      for (const RowRun& run : runs) {
        for (std::int64_t y = run.begin; y < run.end; ++y) {
          const std::int64_t strip_start = y / rows_per_strip_ * rows_per_strip_;
          if (next < strip_start || next > y) next = strip_start;
          for (; next <= y; ++next) {
            if (TIFFReadScanline(tif, row.data(), static_cast<std::uint32_t>(next), 0) < 0) fail(lease, "row", next);
          }
          to_rgb(row.data() + static_cast<std::size_t>(x_begin) * samples_ * sample_bytes_, rgb.data(), n);
          sink(y, rgb.data());
        }
      }
      return;
    }
    // TIFFRGBAImage decodes a strip from its start on every call, so each strip is read once,
    // from the first to the last row needed in it, full width (see read_rgba; memory: one
    // strip of RGBA).
    const std::size_t width = static_cast<std::size_t>(info.width);
    std::vector<std::uint32_t> raster;
    std::size_t r = 0;
    std::int64_t y = runs.front().begin;
    while (r < runs.size()) {
      y = std::max(y, runs[r].begin);
      const std::int64_t strip_end = std::min<std::int64_t>((y / rows_per_strip_ + 1) * rows_per_strip_, info.height);
      std::int64_t last = y;  // one past the last needed row of this strip
      for (std::size_t k = r; k < runs.size() && runs[k].begin < strip_end; ++k) last = std::min(runs[k].end, strip_end);
      raster.resize(width * static_cast<std::size_t>(last - y));
      read_rgba(lease, 0, y, info.width, last - y, raster.data());
      for (std::size_t k = r; k < runs.size() && runs[k].begin < last; ++k) {
        for (std::int64_t row = std::max(runs[k].begin, y); row < std::min(runs[k].end, last); ++row) {
          rgba_to_rgb(raster.data() + static_cast<std::size_t>(row - y) * width + x_begin, rgb.data(), n);
          sink(row, rgb.data());
        }
      }
      y = strip_end;
      while (r < runs.size() && runs[r].end <= y) ++r;
    }
  }

  void read_rects(const std::vector<RectTarget>& targets, int num_threads) const override {
    if (mode_ == Mode::rgba) {
      // TIFFRGBAImage reads just the tiles under each rectangle, widened to whole tile columns (see read_rgba).
      parallel_for(targets.size(), num_threads, [&](std::size_t i) {
        const RectTarget& t = targets[i];
        const std::int64_t x0 = t.x0 / tile_width_ * tile_width_;
        const std::int64_t x1 = std::min(info.width, (t.x0 + t.width + tile_width_ - 1) / tile_width_ * tile_width_);
        const auto w = static_cast<std::size_t>(x1 - x0);
        Lease lease(*this);
        std::vector<std::uint32_t> raster(w * static_cast<std::size_t>(t.height));
        read_rgba(lease, x0, t.y0, x1 - x0, t.height, raster.data());
        for (std::int64_t y = 0; y < t.height; ++y) {
          rgba_to_rgb(raster.data() + static_cast<std::size_t>(y) * w + static_cast<std::size_t>(t.x0 - x0),
                      t.data + static_cast<std::size_t>(y) * t.stride, static_cast<std::size_t>(t.width));
        }
      }, 1);
      return;
    }
    // Each touched tile is decoded once and copied into every rectangle it overlaps; tiles
    // write disjoint pixels, so they can go in parallel.
    std::map<std::uint32_t, std::vector<std::size_t>> users;  // tile index -> targets
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const RectTarget& t = targets[i];
      for (std::int64_t ty = t.y0 / tile_height_; ty <= (t.y0 + t.height - 1) / tile_height_; ++ty) {
        for (std::int64_t tx = t.x0 / tile_width_; tx <= (t.x0 + t.width - 1) / tile_width_; ++tx) {
          users[tile_index(tx, ty)].push_back(i);
        }
      }
    }
    std::vector<std::pair<std::uint32_t, std::vector<std::size_t>>> tiles(users.begin(), users.end());
    const std::int64_t tiles_across = (info.width + tile_width_ - 1) / tile_width_;
    parallel_for(tiles.size(), num_threads, [&](std::size_t k) {
      Lease lease(*this);
      TIFF* tif = lease.handle->tif;
      std::vector<std::uint8_t> buffer(static_cast<std::size_t>(TIFFTileSize(tif)));
      const std::uint32_t tile = tiles[k].first;
      if (TIFFReadEncodedTile(tif, tile, buffer.data(), static_cast<tmsize_t>(buffer.size())) < 0) fail(lease, "tile", tile);
      const std::int64_t ox = (tile % tiles_across) * tile_width_, oy = (tile / tiles_across) * tile_height_;
      for (const std::size_t i : tiles[k].second) {
        const RectTarget& t = targets[i];
        const std::int64_t x0 = std::max(t.x0, ox), x1 = std::min(t.x0 + t.width, ox + tile_width_);
        const std::int64_t y0 = std::max(t.y0, oy), y1 = std::min(t.y0 + t.height, oy + tile_height_);
        for (std::int64_t y = y0; y < y1; ++y) {
          const std::uint8_t* in =
              buffer.data() + (static_cast<std::size_t>(y - oy) * tile_width_ + static_cast<std::size_t>(x0 - ox)) * samples_ * sample_bytes_;
          to_rgb(in, t.data + static_cast<std::size_t>(y - t.y0) * t.stride + static_cast<std::size_t>(x0 - t.x0) * 3,
                 static_cast<std::size_t>(x1 - x0));
        }
      }
    }, 1);
  }

 private:
  // A handle taken from the pool for one read; a handle that saw an error is closed, not reused.
  struct Lease {
    const TiffSource& source;
    std::unique_ptr<Handle> handle;
    explicit Lease(const TiffSource& s) : source(s), handle(s.acquire()) {}
    ~Lease() {
      if (std::uncaught_exceptions() == 0 && handle->error.empty()) source.release(std::move(handle));
    }
  };

  std::unique_ptr<Handle> open_handle() const {
    auto handle = std::make_unique<Handle>();
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, handle.get());
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, nullptr);
    // "m": no memory mapping; mapped pages of a multi-GB slide would count in the resident
    // set of every handle, while read() keeps only the tiles being decoded.
    handle->tif = TIFFOpenExt(path_.c_str(), "rm", options);
    TIFFOpenOptionsFree(options);
    SPATIALEMBED_CHECK(handle->tif != nullptr, FormatError, "cannot read TIFF '{}': {}", path_,
                       handle->error.empty() ? "not a TIFF file" : handle->error);
    if (ycbcr_jpeg_) TIFFSetField(handle->tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    return handle;
  }

  std::unique_ptr<Handle> acquire() const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!pool_.empty()) {
        auto handle = std::move(pool_.back());
        pool_.pop_back();
        return handle;
      }
    }
    return open_handle();
  }

  void release(std::unique_ptr<Handle> handle) const {
    std::lock_guard<std::mutex> lock(mutex_);
    pool_.push_back(std::move(handle));
  }

  [[noreturn]] void fail(const Lease& lease, const char* what, std::int64_t index) const {
    detail::raise<FormatError>("corrupt or truncated TIFF '{}': cannot decode {} {}: {}", path_, what, index,
                               lease.handle->error.empty() ? "read error" : lease.handle->error);
  }

  std::uint32_t tile_index(std::int64_t tx, std::int64_t ty) const {
    const std::int64_t across = (info.width + tile_width_ - 1) / tile_width_;
    return static_cast<std::uint32_t>(ty * across + tx);
  }

  // `n` pixels of the direct layout to RGB; 16-bit samples (native order after libtiff's
  // byte swapping) keep their high byte.
  void to_rgb(const std::uint8_t* in, std::uint8_t* out, std::size_t n) const {
    if (sample_bytes_ == 1 && mode_ == Mode::rgb && samples_ == 3) {
      std::copy(in, in + 3 * n, out);
      return;
    }
    const std::size_t channels = mode_ == Mode::rgb ? 3 : 1;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t c = 0; c < 3; ++c) {
        const std::size_t sample = i * samples_ + (channels == 3 ? c : 0);
        if (sample_bytes_ == 1) {
          out[3 * i + c] = in[sample];
        } else {
          std::uint16_t v;
          std::memcpy(&v, in + 2 * sample, 2);
          out[3 * i + c] = static_cast<std::uint8_t>(v >> 8);
        }
      }
    }
  }

  static void rgba_to_rgb(const std::uint32_t* in, std::uint8_t* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      out[3 * i] = static_cast<std::uint8_t>(TIFFGetR(in[i]));
      out[3 * i + 1] = static_cast<std::uint8_t>(TIFFGetG(in[i]));
      out[3 * i + 2] = static_cast<std::uint8_t>(TIFFGetB(in[i]));
    }
  }

  // The rectangle (inside the image) as packed ABGR, top row first. `x0` must be 0 or, for
  // tiled images, a multiple of the tile width: libtiff 4.5 mis-positions columns for other
  // column offsets with 16-bit samples or separate planes (its offset counts samples as bytes).
  void read_rgba(const Lease& lease, std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h,
                 std::uint32_t* raster) const {
    TIFF* tif = lease.handle->tif;
    char message[1024] = {};
    TIFFRGBAImage image;
    if (TIFFRGBAImageBegin(&image, tif, 1, message) != 1) {
      detail::raise<FormatError>("TIFF '{}' cannot be converted to RGB: {}", path_, message);
    }
    image.req_orientation = ORIENTATION_TOPLEFT;
    image.row_offset = static_cast<int>(y0);
    image.col_offset = static_cast<int>(x0);
    const int ok = TIFFRGBAImageGet(&image, raster, static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h));
    TIFFRGBAImageEnd(&image);
    if (ok != 1) fail(lease, "rows from", y0);
  }

  std::string path_;
  Mode mode_ = Mode::rgba;
  std::size_t samples_ = 3;       // samples per pixel of the direct layout
  std::size_t sample_bytes_ = 1;  // 1 or 2 (16-bit: the high byte is kept)
  bool ycbcr_jpeg_ = false;
  bool tiled_ = false;
  std::uint32_t tile_width_ = 0, tile_height_ = 0, rows_per_strip_ = 1;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Handle>> pool_;
};

}  // namespace

std::unique_ptr<ImageSource> open_tiff(const std::string& path) { return std::make_unique<TiffSource>(path); }

}  // namespace spatialembed::spatial_detail
