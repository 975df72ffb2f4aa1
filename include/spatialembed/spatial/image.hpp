#pragma once
/// @file
/// Reading rectangles of large histology images (H&E) as RGB uint8, decoding only what the
/// rectangles need: JPEG (libjpeg-turbo, cropped and row-skipping decode), PNG (libpng),
/// TIFF/BigTIFF (libtiff; tiled images read only the tiles a rectangle touches) and, when
/// spatialembed was built with OpenSlide, whole-slide formats (SVS, NDPI, MRXS, ...).
///
/// Coordinates are full-resolution pixels: x = column, y = row, origin at the top-left pixel.
/// Pixel data is row-major RGB uint8, `height × width × 3`. Files are recognised by their
/// first bytes, never by their name (a ".png" holding JPEG bytes decodes as JPEG). There is
/// no decompression-bomb limit: images of 60,000² pixels are fine, since no call holds more
/// than the rectangles it returns plus, for sequential formats, one row (JPEG, stripped
/// TIFF) or one strip (exotic TIFF photometrics) of decoded data.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spatialembed {

/// How an image file is decoded.
enum class ImageFormat {
  jpeg,       ///< JPEG (baseline, progressive, arithmetic; greyscale, YCbCr, RGB, CMYK)
  png,        ///< PNG (any bit depth, palette, alpha, interlaced)
  tiff,       ///< TIFF or BigTIFF, first image (IFD 0), tiled or stripped, any photometric
  openslide,  ///< a whole-slide image read through OpenSlide (level 0)
};
/// Parses "jpeg", "png", "tiff" or "openslide" (any case); throws InvalidArgument otherwise.
ImageFormat parse_image_format(const std::string& name);
/// "jpeg", "png", "tiff" or "openslide".
const char* to_string(ImageFormat format);

/// The format of the file at `path`, from its first bytes: JPEG `FF D8 FF`, PNG
/// `89 50 4E 47 0D 0A 1A 0A`, TIFF `II*\0` / `MM\0*`, BigTIFF `II+\0` / `MM\0+`. When
/// OpenSlide is available, files it recognises as a vendor's whole-slide format (Aperio SVS,
/// Hamamatsu, MIRAX, ...; not a plain tiled TIFF) are `openslide`. Throws IOError when the
/// file cannot be opened, FormatError naming the file and its first bytes otherwise.
ImageFormat detect_image_format(const std::string& path);

/// True when this build reads whole-slide formats through OpenSlide.
bool openslide_available();

/// What the header of an image file says.
struct ImageInfo {
  std::string path;                        ///< the file
  ImageFormat format = ImageFormat::jpeg;  ///< how it is decoded
  std::int64_t width = 0;                  ///< full-resolution columns, > 0
  std::int64_t height = 0;                 ///< full-resolution rows, > 0
  /// True for tiled TIFF and OpenSlide: a rectangle costs only the tiles it touches. False
  /// for JPEG, PNG and stripped TIFF, which decode from the top down to a rectangle's last
  /// row (JPEG skips the inverse DCT and colour conversion of rows and columns not needed).
  bool random_access = false;
};

/// A rectangle of full-resolution pixels: x ∈ [x0, x0 + width), y ∈ [y0, y0 + height).
/// It may reach outside the image (those pixels read as the fill value).
struct ImageRect {
  std::int64_t x0 = 0;      ///< first column
  std::int64_t y0 = 0;      ///< first row
  std::int64_t width = 0;   ///< columns, ≥ 0
  std::int64_t height = 0;  ///< rows, ≥ 0
};

namespace spatial_detail {
class ImageSource;
}

/// An image file opened for reading rectangles. Opening reads and checks the header only.
/// Copies share the open file; every method is const and safe to call from several threads.
class ImageFile {
 public:
  /// Opens `path`, recognising the format by content. Throws IOError when the file cannot be
  /// opened, FormatError (naming the file) for an unknown, corrupt or truncated header or a
  /// zero-size image, InvalidArgument for a whole-slide file in a build without OpenSlide.
  explicit ImageFile(std::string path);
  /// Opens `path` as `format`, whatever its first bytes say (e.g. a plain tiled TIFF through
  /// OpenSlide). Throws as above.
  ImageFile(std::string path, ImageFormat format);

  const ImageInfo& info() const;
  std::int64_t width() const { return info().width; }
  std::int64_t height() const { return info().height; }

  /// The rectangle x ∈ [x0, x0 + w), y ∈ [y0, y0 + h) as RGB uint8, `h × w × 3` row-major;
  /// pixels outside the image are `fill` (all three channels). Greyscale, palette, alpha
  /// (dropped, not composited) and 16-bit (high byte) inputs all come out as RGB uint8.
  /// Throws InvalidArgument for w < 0 or h < 0, FormatError naming the file for corrupt or
  /// truncated data in what was decoded.
  std::vector<std::uint8_t> read_region(std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h,
                                        std::uint8_t fill = 255) const;

  /// Several rectangles at once, each as in `read_region`. Sequential formats decode the
  /// image once, from the top down to the lowest rectangle's last row, only the union of the
  /// rectangles' columns (JPEG skips rows no rectangle needs); random-access formats decode
  /// each touched tile once, on `num_threads` threads (0 = all cores). Memory: the results.
  std::vector<std::vector<std::uint8_t>> read_regions(const std::vector<ImageRect>& rects, std::uint8_t fill = 255,
                                                      int num_threads = 0) const;

  /// The decoder behind this file (for the tile cutter in src/spatial).
  const spatial_detail::ImageSource& source() const { return *source_; }

 private:
  std::shared_ptr<const spatial_detail::ImageSource> source_;
};

}  // namespace spatialembed
