// PNG through libpng, row by row: palette, low bit depths and tRNS are expanded, 16-bit
// samples keep their high byte (as PIL's "RGB;16B"), alpha is dropped, grey is replicated.
//
// libpng reports errors by calling our error function, which must not return; it longjmps
// back into `guarded` (libpng's documented way), which turns it into a FormatError.

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed::spatial_detail {

namespace {

struct ErrorState {
  char message[256] = {};
};

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}  // benign (e.g. an sRGB profile libpng dislikes)

// The read struct and its file; destroyed (also after a longjmp) by the destructor.
struct Decoder {
  ErrorState error;
  std::FILE* file = nullptr;
  png_structp png = nullptr;
  png_infop info = nullptr;

  explicit Decoder(const std::string& path) {
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) detail::raise<IOError>("cannot open image file '{}': {}", path, std::strerror(errno));
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_error, on_warning);
    if (png != nullptr) info = png_create_info_struct(png);
    if (png == nullptr || info == nullptr) {
      close();
      throw std::bad_alloc();
    }
    png_init_io(png, file);
    // No decompression-bomb limit: libpng's default 1,000,000-pixel width/height cap would
    // refuse legitimate whole-slide PNGs; check_dimensions guards the allocation instead.
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  }
  ~Decoder() { close(); }
  void close() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
    if (file != nullptr) std::fclose(file);
    file = nullptr;
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// Runs `body` (libpng calls, no objects with destructors) and turns a libpng error into a FormatError.
template <class Body>
void guarded(Decoder& d, const std::string& path, const char* stage, Body&& body) {
  if (setjmp(png_jmpbuf(d.png)) != 0) {
    detail::raise<FormatError>("corrupt or truncated PNG '{}' ({}): {}", path, stage, d.error.message);
  }
  body();
}

class PngSource : public ImageSource {
 public:
  explicit PngSource(const std::string& path) {
    Decoder d(path);
    guarded(d, path, "header", [&] { png_read_info(d.png, d.info); });
    info.width = png_get_image_width(d.png, d.info);
    info.height = png_get_image_height(d.png, d.info);
    info.random_access = false;
  }

  // libpng decodes whole rows; the sink reads its columns from x_begin on.
  void read_rows(std::int64_t x_begin, std::int64_t /*x_end*/, const std::vector<RowRun>& runs,
                 const RowSink& sink) const override {
    const std::string& path = info.path;
    Decoder d(path);
    int passes = 1;
    guarded(d, path, "header", [&] {
      png_read_info(d.png, d.info);
      png_set_expand(d.png);
      png_set_strip_16(d.png);
      png_set_strip_alpha(d.png);
      png_set_gray_to_rgb(d.png);
      passes = png_set_interlace_handling(d.png);
      png_read_update_info(d.png, d.info);
    });
    SPATIALEMBED_CHECK(png_get_image_width(d.png, d.info) == static_cast<png_uint_32>(info.width) &&
                           png_get_image_height(d.png, d.info) == static_cast<png_uint_32>(info.height),
                       FormatError, "PNG '{}' changed size since it was opened", path);
    SPATIALEMBED_CHECK(png_get_rowbytes(d.png, d.info) == static_cast<std::size_t>(info.width) * 3, FormatError,
                       "PNG '{}': unexpected row size after conversion to RGB", path);
    const std::size_t row_bytes = static_cast<std::size_t>(info.width) * 3;
    const std::int64_t last = runs.back().end;

    if (passes == 1) {
      std::vector<png_byte> row(row_bytes);
      std::size_t r = 0;  // the run holding or following row y
      guarded(d, path, "pixel data", [&] {
        for (std::int64_t y = 0; y < last; ++y) {
          png_read_row(d.png, row.data(), nullptr);
          while (y >= runs[r].end) ++r;
          if (y >= runs[r].begin) sink(y, row.data() + x_begin * 3);
        }
      });
      return;
    }

    // Interlaced (Adam7): a row is complete only after the last pass, so the needed rows
    // are kept (full width, as libpng writes them) while the passes fill them in.
    std::vector<std::int64_t> slot(static_cast<std::size_t>(last), -1);
    std::int64_t kept = 0;
    for (const RowRun& run : runs) {
      for (std::int64_t y = run.begin; y < run.end; ++y) slot[static_cast<std::size_t>(y)] = kept++;
    }
    std::vector<png_byte> band(static_cast<std::size_t>(kept) * row_bytes);
    guarded(d, path, "pixel data", [&] {
      for (int pass = 0; pass < passes; ++pass) {
        for (std::int64_t y = 0; y < info.height; ++y) {
          const std::int64_t s = y < last ? slot[static_cast<std::size_t>(y)] : -1;
          png_read_row(d.png, s >= 0 ? band.data() + static_cast<std::size_t>(s) * row_bytes : nullptr, nullptr);
        }
      }
    });
    for (const RowRun& run : runs) {
      for (std::int64_t y = run.begin; y < run.end; ++y) {
        sink(y, band.data() + static_cast<std::size_t>(slot[static_cast<std::size_t>(y)]) * row_bytes + x_begin * 3);
      }
    }
  }
};

}  // namespace

std::unique_ptr<ImageSource> open_png(const std::string& path) { return std::make_unique<PngSource>(path); }

}  // namespace spatialembed::spatial_detail
