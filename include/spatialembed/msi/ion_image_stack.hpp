#pragma once
/// @file
/// `IonImageStack`: ion images (one per m/z) of one section, with the pixel mask; and the
/// PNG-folder form such stacks are exchanged in (one image per m/z, file name = m/z).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace spatialembed {

/// `n_images × height × width` float32 ion images, row-major (image k, row y, column x at
/// images[(k·height + y)·width + x]), with the mask of measured pixels (`height × width`,
/// 1 = measured; unmeasured pixels hold 0 in every image) and the m/z of each image.
struct IonImageStack {
  std::vector<float> images;        ///< n_images × height × width, float32
  std::vector<std::uint8_t> mask;   ///< height × width, 1 = measured pixel
  std::vector<double> mz;           ///< n_images m/z centres
  std::size_t height = 0;           ///< rows (y)
  std::size_t width = 0;            ///< columns (x)
  double pixel_size_x = std::numeric_limits<double>::quiet_NaN();  ///< µm; NaN when unknown
  double pixel_size_y = std::numeric_limits<double>::quiet_NaN();  ///< µm; NaN when unknown
  std::int32_t origin_x = 1;        ///< imzML x coordinate of column 0 (1-based)
  std::int32_t origin_y = 1;        ///< imzML y coordinate of row 0 (1-based)

  std::size_t n_images() const { return mz.size(); }
  std::size_t n_pixels() const { return height * width; }
  float* image(std::size_t k) { return images.data() + k * n_pixels(); }
  const float* image(std::size_t k) const { return images.data() + k * n_pixels(); }
  /// Number of measured pixels.
  std::size_t n_measured() const;
  /// Throws InvalidArgument unless the sizes agree (images = n_images·height·width, mask = height·width).
  void validate() const;
};

/// Options of `read_png_stack`. `validate()` is the one place they are checked.
struct PngStackOptions {
  /// Largest image read, in pixels (width × height), checked against each PNG's header
  /// before anything is decoded or allocated. Default 2^27 = 134,217,728 (e.g. 11,585²;
  /// 512 MiB per float32 image); range 1 … 2^40. MSI ion images are rarely above 2,000².
  std::uint64_t max_image_pixels = std::uint64_t{1} << 27;

  /// Throws InvalidArgument naming the field, the value and the allowed range.
  void validate() const;
};

/// Reads a folder of ion images: every `*.png` whose name (less `.png`) is its m/z, e.g.
/// `409.045.png`, sorted by m/z. Grey (or colour: the mean of R, G, B), 8- or 16-bit, decoded
/// with libpng; values are scaled to [0, 1] (v / 255 or v / 65535). The mask is the pixels that
/// are opaque (alpha at its maximum) in any image; without alpha every pixel is measured.
/// Unmeasured pixels are set to 0. Throws IOError when the folder cannot be read, FormatError
/// naming the file for a corrupt PNG, a PNG named otherwise than by a number, images of
/// different sizes, or a folder without PNGs; InvalidArgument naming the file and its size
/// for an image above `options.max_image_pixels`, or for a stack that needs more memory
/// than the machine has (both from the PNG headers, before decoding). Files other than
/// `*.png` (e.g. spatialembed's output marker) are ignored.
IonImageStack read_png_stack(const std::string& folder, const PngStackOptions& options = {});

/// Writes `stack` as PNGs into `folder` (created if missing), one `<m/z>.png` per image
/// (m/z written with the fewest digits that read back to the same double), grey + alpha
/// (alpha 255 / 65535 = measured), `bit_depth` 8 or 16. Values are clipped to [0, 1] and
/// rounded. Throws InvalidArgument for another bit depth or an invalid stack, IOError when a
/// file cannot be written.
void write_png_stack(const IonImageStack& stack, const std::string& folder, int bit_depth = 8);

/// The file name `write_png_stack` gives the image of `mz`: `<m/z>.png`, the m/z with the
/// fewest digits that read back to the same double (e.g. "409.045.png").
std::string png_file_name(double mz);

/// Writes one ion image (`height × width` float32, row-major, values clipped to [0, 1]) as
/// `path` in `write_png_stack`'s format: grey + alpha, alpha at its maximum where `mask` is 1
/// (unmeasured pixels are 0 and transparent), `bit_depth` 8 or 16. For writers that stream
/// images one at a time. `fast` trades file size for speed (libpng's PNG_IMAGE_FLAG_FAST:
/// no filter search, fast zlib level; several times faster on noisy images, files somewhat
/// larger). Throws InvalidArgument for another bit depth, IOError when the file cannot be written.
void write_png_image(const std::string& path, const float* image, const std::uint8_t* mask, std::size_t height,
                     std::size_t width, int bit_depth = 8, bool fast = false);

}  // namespace spatialembed
