// JPEG through libjpeg-turbo's libjpeg API: jpeg_crop_scanline restricts the inverse DCT,
// upsampling and colour conversion to the columns needed, jpeg_skip_scanlines skips them for
// rows no rectangle needs (only the entropy decoding of those rows remains).
//
// libjpeg reports errors through error_exit, which must not return; the default one calls
// exit(). Ours longjmps back into `guarded`, which turns it into a FormatError. Only libjpeg
// frames and frames without destructors lie between setjmp and longjmp.

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

// jpeglib.h needs FILE and size_t declared first; jerror.h needs jpeglib.h's configuration.
#include <jpeglib.h>
#include <jerror.h>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed::spatial_detail {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg sees only this
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings that mean the pixels are damaged (truncated file, corrupt entropy data) are errors:
// libjpeg would go on and fill the rest with grey. Other warnings and trace messages are ignored.
void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
      on_error(cinfo);
    default:
      ++cinfo->err->num_warnings;
  }
}

// The decompressor and its file; destroyed (also after a longjmp) by the destructor.
struct Decoder {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  std::FILE* file = nullptr;

  explicit Decoder(const std::string& path) {
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) detail::raise<IOError>("cannot open image file '{}': {}", path, std::strerror(errno));
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    jpeg_create_decompress(&cinfo);  // cannot fail but for out-of-memory
    jpeg_stdio_src(&cinfo, file);
  }
  ~Decoder() {
    jpeg_destroy_decompress(&cinfo);
    std::fclose(file);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
};

// Runs `body` (libjpeg calls, no objects with destructors) and turns a libjpeg error into a FormatError.
template <class Body>
void guarded(Decoder& d, const std::string& path, const char* stage, Body&& body) {
  if (setjmp(d.err.jump) != 0) {
    detail::raise<FormatError>("corrupt or truncated JPEG '{}' ({}): {}", path, stage, d.err.message);
  }
  body();
}

// libjpeg cannot convert CMYK to RGB. CMYK JPEGs store inverted values (Adobe's convention,
// which PIL assumes too); this is PIL's cmyk2rgb on the true values.
void cmyk_to_rgb(const JSAMPLE* in, std::uint8_t* out, std::size_t n) {
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  auto clip8 = [](int v) { return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); };
  for (std::size_t i = 0; i < n; ++i) {
    const int nk = in[4 * i + 3];  // 255 − K
    for (int c = 0; c < 3; ++c) out[3 * i + c] = clip8(nk - muldiv255(255 - in[4 * i + c], nk));
  }
}

class JpegSource : public ImageSource {
 public:
  explicit JpegSource(const std::string& path) {
    Decoder d(path);
    guarded(d, path, "header", [&] { jpeg_read_header(&d.cinfo, TRUE); });
    info.width = d.cinfo.image_width;
    info.height = d.cinfo.image_height;
    info.random_access = false;
  }

  void read_rows(std::int64_t x_begin, std::int64_t x_end, const std::vector<RowRun>& runs,
                 const RowSink& sink) const override {
    const std::string& path = info.path;
    Decoder d(path);
    j_decompress_ptr cinfo = &d.cinfo;
    guarded(d, path, "header", [&] {
      jpeg_read_header(cinfo, TRUE);
      switch (cinfo->jpeg_color_space) {
        case JCS_GRAYSCALE: cinfo->out_color_space = JCS_GRAYSCALE; break;
        case JCS_CMYK:
        case JCS_YCCK: cinfo->out_color_space = JCS_CMYK; break;
        default: cinfo->out_color_space = JCS_RGB;
      }
      jpeg_start_decompress(cinfo);
    });
    SPATIALEMBED_CHECK(cinfo->output_width == static_cast<JDIMENSION>(info.width) &&
                           cinfo->output_height == static_cast<JDIMENSION>(info.height),
                       FormatError, "JPEG '{}' changed size since it was opened", path);

    // Fancy upsampling of chroma reads one neighbour on each side, and the cropped decode
    // treats the crop's edges as image edges: without a margin the last columns of a crop
    // differ from a full decode (measured on her2st C2.jpg, 4:2:0). Two iMCUs of margin left
    // and right make them identical. jpeg_skip_scanlines in libjpeg-turbo 2.1 already gives
    // identical rows; two iMCU rows of margin above each run guard older versions, whose
    // skipping had bugs with subsampled chroma. The margins cost a few dozen pixels per side.
    const std::int64_t imcu_w = cinfo->max_h_samp_factor * DCTSIZE;
    const std::int64_t imcu_h = cinfo->max_v_samp_factor * DCTSIZE;
    JDIMENSION x_offset = static_cast<JDIMENSION>(std::max<std::int64_t>(0, x_begin - 2 * imcu_w));
    JDIMENSION crop_width =
        static_cast<JDIMENSION>(std::min<std::int64_t>(info.width, x_end + 2 * imcu_w)) - x_offset;
    if (crop_width < cinfo->output_width) {
      guarded(d, path, "crop", [&] { jpeg_crop_scanline(cinfo, &x_offset, &crop_width); });
    } else {
      x_offset = 0;
    }
    const int channels = cinfo->output_components;
    std::vector<JSAMPLE> raw(static_cast<std::size_t>(crop_width) * static_cast<std::size_t>(channels));
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(x_end - x_begin) * 3);
    const std::size_t skip_left = static_cast<std::size_t>(x_begin - x_offset);
    const std::size_t n = static_cast<std::size_t>(x_end - x_begin);

    std::int64_t y = 0;  // next row the decoder returns
    guarded(d, path, "pixel data", [&] {
      for (const RowRun& run : runs) {
        const std::int64_t resume = run.begin - 2 * imcu_h;
        if (resume > y) y += jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(resume - y));
        JSAMPROW row = raw.data();
        for (; y < run.end; ++y) {
          if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            detail::raise<FormatError>("JPEG '{}' ended at row {} of {}", path, y, info.height);
          }
          if (y < run.begin) continue;
          const JSAMPLE* px = raw.data() + skip_left * channels;
          if (channels == 3) {
            sink(y, px);
          } else if (channels == 1) {
            for (std::size_t i = 0; i < n; ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = px[i];
            sink(y, rgb.data());
          } else {
            cmyk_to_rgb(px, rgb.data(), n);
            sink(y, rgb.data());
          }
        }
      }
    });
  }
};

}  // namespace

std::unique_ptr<ImageSource> open_jpeg(const std::string& path) { return std::make_unique<JpegSource>(path); }

}  // namespace spatialembed::spatial_detail
