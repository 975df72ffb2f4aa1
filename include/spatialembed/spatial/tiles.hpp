#pragma once
/// @file
/// Square image tiles centred on spatial-transcriptomics spots, cut from a large H&E image
/// (ImageFile) and optionally resampled, for image encoders.
///
/// Geometry. A spot at (x, y) — full-resolution pixels, x = column, y = row, as her2st's
/// pixel_x/pixel_y or Visium's pxl_col_in_fullres/pxl_row_in_fullres — gets the crop of side
/// s whose first column and row are `tile_origin(x, s)` and `tile_origin(y, s)`, where
/// tile_origin(c, s) = floor(c − s/2 + 1/2), i.e. c − s/2 rounded half up. For an integer c
/// this puts pixel c at index s/2 (even s) or (s − 1)/2 (odd s, the exact middle). Pixels of
/// the crop outside the image are `fill`, and the spot is listed in `Tiles::padded`.

#include <cstddef>
#include <cstdint>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/spatial/image.hpp"

namespace spatialembed {

/// Resampling filter for tiles whose output size differs from the crop size. Downsampling
/// widens the filter by the reduction factor (antialiasing), exactly as PIL's
/// `Image.resize(size, filter, reducing_gap=None)`, whose fixed-point arithmetic it repeats.
enum class ResampleFilter {
  box,       ///< box (area average when reducing), support 0.5
  bilinear,  ///< triangle, support 1 (PIL BILINEAR; torchvision's antialiased bilinear)
  bicubic,   ///< Keys cubic, a = −0.5, support 2 (PIL BICUBIC)
  lanczos,   ///< Lanczos-3, support 3 (PIL LANCZOS)
};
/// Parses "box", "bilinear", "bicubic" or "lanczos" (any case); throws InvalidArgument otherwise.
ResampleFilter parse_resample_filter(const std::string& name);
/// "box", "bilinear", "bicubic" or "lanczos".
const char* to_string(ResampleFilter filter);

/// Options of `cut_tiles` and `TileLoader`. `validate()` is the one place they are checked.
struct TileOptions {
  std::int64_t size = 224;         ///< crop side in full-resolution pixels, when diameter_multiple = 0; 1 … 65536
  double diameter_multiple = 0.0;  ///< > 0: crop side = round(multiple × spot diameter) px instead of `size`; 0 … 1000
  std::int64_t output_size = 0;    ///< side of the returned tiles in pixels; 0 = the crop side (no resampling); 0 … 65536
  ResampleFilter filter = ResampleFilter::bilinear;  ///< resampling filter when output_size ≠ crop side
  int fill = 255;                  ///< value of pixels outside the image (all channels); 0 … 255
  int num_threads = 0;             ///< worker threads; 0 = all cores; ≥ 0
  std::size_t batch_size = 256;    ///< tiles per TileLoader batch, and per read of random-access images; ≥ 1
  std::size_t prefetch = 2;        ///< TileLoader: batches prepared ahead of the consumer; ≥ 1
  ProgressCallback progress;       ///< cut_tiles: (tiles done, tiles total), from the calling thread

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Tiles in spot order, RGB uint8.
struct Tiles {
  std::size_t n = 0;                 ///< number of tiles
  std::size_t height = 0;            ///< tile rows (output_size, or the crop side)
  std::size_t width = 0;             ///< tile columns (= height)
  std::int64_t crop_size = 0;        ///< side of the crop cut from the image, full-resolution pixels
  std::vector<std::uint8_t> pixels;  ///< n × height × width × 3, row-major
  std::vector<std::size_t> spots;    ///< spot index of each tile (cut_tiles: 0 … n−1)
  std::vector<std::size_t> padded;   ///< spot indices, ascending, whose crop reached outside the image

  /// Tile i: height × width × 3 bytes.
  const std::uint8_t* tile(std::size_t i) const { return pixels.data() + i * height * width * 3; }
};

/// First column (or row) of the crop of side `side` centred at `centre`: floor(centre − side/2 + 1/2).
/// Throws InvalidArgument for a non-finite centre or |centre| > 2^52.
std::int64_t tile_origin(double centre, std::int64_t side);

/// The crop side `options` ask for: `size`, or round(diameter_multiple × spot_diameter_px)
/// (at least 1) when diameter_multiple > 0, which then needs spot_diameter_px > 0.
std::int64_t tile_crop_size(const TileOptions& options, double spot_diameter_px);

/// Resamples an RGB image (`height × width × 3` uint8, row-major) to `out_height × out_width`
/// with `filter`, bit-identical to PIL's `Image.resize((out_width, out_height), filter,
/// reducing_gap=None)` on an RGB image. Returns `out_height × out_width × 3` uint8.
std::vector<std::uint8_t> resize_rgb(const std::uint8_t* rgb, std::size_t height, std::size_t width,
                                     std::size_t out_height, std::size_t out_width, ResampleFilter filter);

/// Cuts the tile of every spot (x[i], y[i]) — full-resolution pixel coordinates, float64 —
/// from `image`, resampled to
/// `options.output_size` if set. `spot_diameter_px` (full-resolution pixels) is used only when
/// options.diameter_multiple > 0.
///
/// Sequential images (JPEG, PNG, stripped TIFF) are decoded once, top down to the lowest crop,
/// only the columns the crops span (JPEG also skips rows no crop needs); a crop is resampled on
/// a worker thread as soon as its last row is decoded, so memory is the result plus the crops
/// crossing the current row. Random-access images (tiled TIFF, OpenSlide) are read
/// `batch_size` spots at a time, each touched tile once. Output identical for any num_threads.
///
/// Throws InvalidArgument for x, y of different lengths, non-finite coordinates, invalid
/// options; FormatError for corrupt image data; Cancelled when `progress` returns false.
Tiles cut_tiles(const ImageFile& image, VectorView<const double> x, VectorView<const double> y, double spot_diameter_px,
                const TileOptions& options = {});

/// Tiles in batches of `options.batch_size` spots, in spot order (batch k holds spots
/// k·batch_size …), made on background threads ahead of the consumer so that a training loop
/// does not wait for decoding. Random-access images: each batch is read when the consumer is
/// fewer than `prefetch` batches behind. Sequential images: the image is decoded once, in the
/// background, and a batch is handed out as soon as all its tiles are in (memory: at most all
/// tiles at output size). `options.progress` is not used.
class TileLoader {
 public:
  /// Validates like cut_tiles, computes the crops and starts the background work.
  TileLoader(ImageFile image, VectorView<const double> x, VectorView<const double> y, double spot_diameter_px,
             TileOptions options = {});
  /// Stops the background work (waits for the batch being decoded to be abandoned).
  ~TileLoader();
  TileLoader(const TileLoader&) = delete;
  TileLoader& operator=(const TileLoader&) = delete;

  std::size_t num_spots() const { return rects_.size(); }
  std::size_t num_batches() const;
  /// The next batch (its `spots` are consecutive spot indices), or nullopt after the last.
  /// Blocks until the batch is ready; rethrows a background error (e.g. FormatError).
  std::optional<Tiles> next();

 private:
  void produce();
  Tiles empty_batch(std::size_t batch) const;

  ImageFile image_;
  TileOptions options_;
  std::int64_t crop_size_ = 0;
  std::size_t out_size_ = 0;
  std::vector<ImageRect> rects_;  // each spot's crop

  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::size_t, Tiles> ready_;  // finished batches not yet handed out
  std::size_t next_batch_ = 0;          // the batch next() returns next
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread producer_;
};

}  // namespace spatialembed
