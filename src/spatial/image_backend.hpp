#pragma once
// Internal: the decoder interface behind ImageFile, one implementation per format, and the
// streaming reader that cuts many rectangles out of one pass (used by ImageFile and tiles).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spatialembed/spatial/image.hpp"

namespace spatialembed::spatial_detail {

/// Rows [begin, end) of the image.
struct RowRun {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

/// Receives decoded row `y`: RGB uint8 of the requested columns, valid during the call only.
using RowSink = std::function<void(std::int64_t y, const std::uint8_t* rgb)>;

/// A rectangle inside the image whose RGB pixels go to `data` (row stride `stride` bytes).
struct RectTarget {
  std::int64_t x0 = 0, y0 = 0, width = 0, height = 0;
  std::uint8_t* data = nullptr;
  std::size_t stride = 0;
};

/// One opened image. Implementations keep no per-read state in the object (each read opens
/// its own decoder or takes a handle from a pool), so every method may run concurrently.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  ImageInfo info;

  /// Sequential formats (info.random_access false): decodes columns [x_begin, x_end) of the
  /// rows in `runs` (sorted, disjoint, non-empty, inside the image) and calls `sink(y, rgb)`
  /// for each of those rows in increasing y. Rows outside the runs may be skipped.
  virtual void read_rows(std::int64_t x_begin, std::int64_t x_end, const std::vector<RowRun>& runs,
                         const RowSink& sink) const = 0;

  /// Random-access formats: fills every target (each inside the image) on `num_threads`
  /// threads. The default reads the targets one by one through read_rows.
  virtual void read_rects(const std::vector<RectTarget>& targets, int num_threads) const;
};

std::unique_ptr<ImageSource> open_jpeg(const std::string& path);
std::unique_ptr<ImageSource> open_png(const std::string& path);
std::unique_ptr<ImageSource> open_tiff(const std::string& path);
/// Throws InvalidArgument when spatialembed was built without OpenSlide.
std::unique_ptr<ImageSource> open_openslide(const std::string& path);
/// The OpenSlide vendor of `path` ("aperio", "generic-tiff", ...), or "" when OpenSlide does
/// not recognise it or is not available.
std::string openslide_vendor(const std::string& path);

/// Throws FormatError unless width, height > 0 and width · height · 3 bytes fit in memory
/// addressing (checked before anything is allocated).
void check_dimensions(const std::string& path, std::int64_t width, std::int64_t height);

/// Where rectangle i's pixels go: called once, when the rectangle is first needed; returns
/// its `height × width × 3` buffer (the caller owns it).
using RegionOpen = std::function<std::uint8_t*(std::size_t i)>;
/// Called once rectangle i is complete.
using RegionDone = std::function<void(std::size_t i)>;
/// Called every few dozen decoded rows; may throw to stop the read (e.g. Cancelled).
using Poll = std::function<void()>;

/// Reads every rectangle of `rects` (any position, pixels outside the image = fill), with one
/// pass over a sequential image: each decoded row is copied into the rectangles open on it
/// and a rectangle is reported done as soon as its last row is in, so only the rectangles
/// crossing the current row need to be held. Random-access images: every rectangle is opened,
/// read tile by tile on `num_threads` threads, then reported done in index order.
/// `open` and `done` run on the calling thread.
void stream_regions(const ImageSource& source, const std::vector<ImageRect>& rects, std::uint8_t fill,
                    int num_threads, const RegionOpen& open, const RegionDone& done, const Poll& poll = {});

}  // namespace spatialembed::spatial_detail
