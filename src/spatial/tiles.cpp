// Spot tiles: crop geometry, PIL-compatible antialiased resampling, the one-pass cutter for
// sequential images, the batched cutter for random-access images, and TileLoader.

#include "spatialembed/spatial/tiles.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>

#include "spatial/image_backend.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/memory.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

using spatial_detail::stream_regions;

ResampleFilter parse_resample_filter(const std::string& name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "box") return ResampleFilter::box;
  if (s == "bilinear") return ResampleFilter::bilinear;
  if (s == "bicubic") return ResampleFilter::bicubic;
  if (s == "lanczos") return ResampleFilter::lanczos;
  detail::raise<InvalidArgument>("filter must be 'box', 'bilinear', 'bicubic' or 'lanczos', got '{}'", name);
}

const char* to_string(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::box: return "box";
    case ResampleFilter::bilinear: return "bilinear";
    case ResampleFilter::bicubic: return "bicubic";
    case ResampleFilter::lanczos: return "lanczos";
  }
  return "?";
}

void TileOptions::validate() const {
  SPATIALEMBED_CHECK(size >= 1 && size <= 65536, InvalidArgument, "size must be in [1, 65536] pixels, got {}", size);
  SPATIALEMBED_CHECK(std::isfinite(diameter_multiple) && diameter_multiple >= 0 && diameter_multiple <= 1000,
                     InvalidArgument, "diameter_multiple must be in [0, 1000] (0 = use size), got {}", diameter_multiple);
  SPATIALEMBED_CHECK(output_size >= 0 && output_size <= 65536, InvalidArgument,
                     "output_size must be in [0, 65536] pixels (0 = the crop size), got {}", output_size);
  SPATIALEMBED_CHECK(fill >= 0 && fill <= 255, InvalidArgument, "fill must be in [0, 255], got {}", fill);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}", num_threads);
  SPATIALEMBED_CHECK(batch_size >= 1, InvalidArgument, "batch_size must be >= 1, got {}", batch_size);
  SPATIALEMBED_CHECK(prefetch >= 1, InvalidArgument, "prefetch must be >= 1, got {}", prefetch);
}

std::int64_t tile_origin(double centre, std::int64_t side) {
  SPATIALEMBED_CHECK(std::isfinite(centre) && std::abs(centre) <= 0x1p52, InvalidArgument,
                     "spot coordinate must be finite and within ±2^52 pixels, got {}", centre);
  return static_cast<std::int64_t>(std::floor(centre - static_cast<double>(side) / 2 + 0.5));
}

std::int64_t tile_crop_size(const TileOptions& options, double spot_diameter_px) {
  if (options.diameter_multiple <= 0) return options.size;
  SPATIALEMBED_CHECK(std::isfinite(spot_diameter_px) && spot_diameter_px > 0, InvalidArgument,
                     "spot_diameter_px must be > 0 when diameter_multiple > 0, got {}", spot_diameter_px);
  const double side = std::round(options.diameter_multiple * spot_diameter_px);
  SPATIALEMBED_CHECK(side <= 65536, InvalidArgument,
                     "diameter_multiple × spot_diameter_px = {} × {} gives a crop side above 65536 pixels",
                     options.diameter_multiple, spot_diameter_px);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(side));
}

// ------------------------------------------------------------------------------ resampling

namespace {

// PIL's Resample.c (Pillow 9), for 8-bit RGB: filter kernels, coefficients normalised to
// 22-bit fixed point, a horizontal pass into an 8-bit intermediate over the rows the vertical
// pass needs, then the vertical pass. Repeating its arithmetic makes the tiles bit-identical.
constexpr int kPrecisionBits = 32 - 8 - 2;

double filter_value(ResampleFilter f, double x) {
  switch (f) {
    case ResampleFilter::box: return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
    case ResampleFilter::bilinear:
      x = std::abs(x);
      return x < 1.0 ? 1.0 - x : 0.0;
    case ResampleFilter::bicubic: {
      constexpr double a = -0.5;
      x = std::abs(x);
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    }
    case ResampleFilter::lanczos: {
      auto sinc = [](double v) {
        if (v == 0.0) return 1.0;
        v *= 3.14159265358979323846;  // M_PI, which strict C++17 need not define
        return std::sin(v) / v;
      };
      return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    }
  }
  return 0.0;
}

double filter_support(ResampleFilter f) {
  switch (f) {
    case ResampleFilter::box: return 0.5;
    case ResampleFilter::bilinear: return 1.0;
    case ResampleFilter::bicubic: return 2.0;
    case ResampleFilter::lanczos: return 3.0;
  }
  return 1.0;
}

// Output pixel i reads input pixels [first[i], first[i] + count[i]) with weights k[i·ksize …].
struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> k;
};

Coefficients precompute(int in_size, int out_size, ResampleFilter f) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support(f) * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(0, static_cast<int>(center - support + 0.5));
    const int xmax = std::min(in_size, static_cast<int>(center + support + 0.5)) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = filter_value(f, (x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<std::size_t>(xx) * c.ksize + x] =
          static_cast<std::int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t v) {
  v >>= kPrecisionBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Resamples RGB images of one input size to one output size; the coefficients are computed once.
class Resampler {
 public:
  Resampler(std::size_t in_h, std::size_t in_w, std::size_t out_h, std::size_t out_w, ResampleFilter f)
      : in_w_(in_w), out_w_(out_w), out_h_(out_h),
        horizontal_(precompute(static_cast<int>(in_w), static_cast<int>(out_w), f)),
        vertical_(precompute(static_cast<int>(in_h), static_cast<int>(out_h), f)) {
    need_horizontal_ = in_w != out_w;
    need_vertical_ = in_h != out_h;
    row_first_ = vertical_.first.front();
    row_last_ = vertical_.first.back() + vertical_.count.back();
  }

  void apply(const std::uint8_t* in, std::uint8_t* out) const {
    std::vector<std::uint8_t> temp;
    const std::uint8_t* src = in;
    int row_shift = 0;
    if (need_horizontal_) {
      // Only the rows the vertical pass reads, as PIL does.
      const int rows = need_vertical_ ? row_last_ - row_first_ : static_cast<int>(out_h_);
      const int first = need_vertical_ ? row_first_ : 0;
      std::uint8_t* dst = out;
      if (need_vertical_) {
        temp.resize(static_cast<std::size_t>(rows) * out_w_ * 3);
        dst = temp.data();
      }
      for (int y = 0; y < rows; ++y) {
        const std::uint8_t* row = in + static_cast<std::size_t>(y + first) * in_w_ * 3;
        std::uint8_t* o = dst + static_cast<std::size_t>(y) * out_w_ * 3;
        for (std::size_t xx = 0; xx < out_w_; ++xx) {
          const std::int32_t* k = horizontal_.k.data() + xx * horizontal_.ksize;
          const std::uint8_t* p = row + static_cast<std::size_t>(horizontal_.first[xx]) * 3;
          std::int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
          for (int x = 0; x < horizontal_.count[xx]; ++x) {
            s0 += p[3 * x] * k[x];
            s1 += p[3 * x + 1] * k[x];
            s2 += p[3 * x + 2] * k[x];
          }
          o[3 * xx] = clip8(s0);
          o[3 * xx + 1] = clip8(s1);
          o[3 * xx + 2] = clip8(s2);
        }
      }
      if (!need_vertical_) return;
      src = temp.data();
      row_shift = row_first_;
    }
    if (!need_vertical_) {
      std::copy(in, in + out_h_ * out_w_ * 3, out);
      return;
    }
    const std::size_t stride = out_w_ * 3;  // the input of this pass already has the output width
    for (std::size_t yy = 0; yy < out_h_; ++yy) {
      const std::int32_t* k = vertical_.k.data() + yy * vertical_.ksize;
      const std::uint8_t* base = src + static_cast<std::size_t>(vertical_.first[yy] - row_shift) * stride;
      std::uint8_t* o = out + yy * stride;
      for (std::size_t x = 0; x < stride; ++x) {
        std::int32_t s = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < vertical_.count[yy]; ++y) s += base[static_cast<std::size_t>(y) * stride + x] * k[y];
        o[x] = clip8(s);
      }
    }
  }

 private:
  std::size_t in_w_, out_w_, out_h_;
  Coefficients horizontal_, vertical_;
  bool need_horizontal_ = false, need_vertical_ = false;
  int row_first_ = 0, row_last_ = 0;
};

}  // namespace

std::vector<std::uint8_t> resize_rgb(const std::uint8_t* rgb, std::size_t height, std::size_t width,
                                     std::size_t out_height, std::size_t out_width, ResampleFilter filter) {
  constexpr std::size_t kMax = 1 << 24;
  SPATIALEMBED_CHECK(height >= 1 && width >= 1 && out_height >= 1 && out_width >= 1 && height <= kMax && width <= kMax &&
                         out_height <= kMax && out_width <= kMax,
                     InvalidArgument, "resize_rgb: sizes must be in [1, 2^24], got {} × {} -> {} × {}", height, width,
                     out_height, out_width);
  std::vector<std::uint8_t> out(out_height * out_width * 3);
  Resampler(height, width, out_height, out_width, filter).apply(rgb, out.data());
  return out;
}

// ------------------------------------------------------------------------------ cutting

namespace {

// Fixed worker threads running submitted tasks (the resampling of finished crops) while the
// submitting thread goes on decoding. With no workers, tasks run inline. submit() blocks
// while the queue is long, so decoded crops cannot pile up. The first exception of a task is
// rethrown by wait(); later tasks are then dropped.
class WorkerPool {
 public:
  explicit WorkerPool(int workers) {
    for (int t = 0; t < workers; ++t) threads_.emplace_back([this] { run(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
      tasks_.clear();
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> task) {
    if (threads_.empty()) {
      task();
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return tasks_.size() < 4 * threads_.size() || error_; });
    if (error_) std::rethrow_exception(error_);
    tasks_.push_back(std::move(task));
    wake_.notify_one();
  }

  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [&] { return (tasks_.empty() && busy_ == 0) || (error_ && busy_ == 0); });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return closing_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // closing
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      ++busy_;
      lock.unlock();
      try {
        task();
      } catch (...) {
        std::lock_guard<std::mutex> error_lock(mutex_);
        if (!error_) error_ = std::current_exception();
        tasks_.clear();
      }
      lock.lock();
      --busy_;
      idle_.notify_all();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> tasks_;
  std::size_t busy_ = 0;
  bool closing_ = false;
  std::exception_ptr error_;
};

// Every spot's crop rectangle, after checking the inputs.
std::vector<ImageRect> spot_rects(VectorView<const double> x, VectorView<const double> y, std::int64_t side) {
  SPATIALEMBED_CHECK(x.size() == y.size(), InvalidArgument, "x and y must have the same length, got {} and {}", x.size(),
                     y.size());
  std::vector<ImageRect> rects(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    SPATIALEMBED_CHECK(std::isfinite(x[i]) && std::isfinite(y[i]), InvalidArgument,
                       "spot {} has a non-finite coordinate (x = {}, y = {})", i, x[i], y[i]);
    rects[i] = {tile_origin(x[i], side), tile_origin(y[i], side), side, side};
  }
  return rects;
}

bool is_padded(const ImageRect& r, const ImageInfo& info) {
  return r.x0 < 0 || r.y0 < 0 || r.x0 + r.width > info.width || r.y0 + r.height > info.height;
}

std::size_t checked_tile_bytes(std::size_t n, std::size_t side) {
  const std::size_t tile = side * side * 3;  // side ≤ 65536: no overflow
  SPATIALEMBED_CHECK(n == 0 || tile <= std::numeric_limits<std::size_t>::max() / n, InvalidArgument,
                     "{} tiles of {} × {} pixels do not fit in memory", n, side, side);
  return tile;
}

// Where tile j of a cut goes: called on the decoding thread; returns out_side² × 3 bytes.
using TileDest = std::function<std::uint8_t*(std::size_t j)>;
// Called once tile j is written, on any thread.
using TileFinished = std::function<void(std::size_t j)>;

// Sequential images: one pass over `rects`; with resampling, each crop goes to the pool as
// soon as its last row is in. Returns after every tile is finished.
void cut_sequential(const ImageFile& image, const std::vector<ImageRect>& rects, const Resampler* resampler,
                    std::uint8_t fill, int num_threads, const TileDest& dest, const TileFinished& finished,
                    const spatial_detail::Poll& poll) {
  if (resampler == nullptr) {
    stream_regions(image.source(), rects, fill, 1, dest, finished, poll);
    return;
  }
  std::vector<std::vector<std::uint8_t>> crops(rects.size());
  std::vector<std::uint8_t*> outputs(rects.size(), nullptr);
  WorkerPool pool(resolve_num_threads(num_threads) - 1);  // the calling thread decodes
  stream_regions(
      image.source(), rects, fill, 1,
      [&](std::size_t j) {
        outputs[j] = dest(j);
        crops[j].resize(static_cast<std::size_t>(rects[j].width * rects[j].height * 3));
        return crops[j].data();
      },
      [&](std::size_t j) {
        auto crop = std::make_shared<std::vector<std::uint8_t>>(std::move(crops[j]));
        std::uint8_t* out = outputs[j];
        pool.submit([crop, out, j, resampler, &finished] {
          resampler->apply(crop->data(), out);
          finished(j);
        });
      },
      poll);
  pool.wait();
}

// Random-access images: the rectangles' tiles are read in parallel, then the crops resampled in parallel.
void cut_random_access(const ImageFile& image, const std::vector<ImageRect>& rects, const Resampler* resampler,
                       std::uint8_t fill, int num_threads, const TileDest& dest, const spatial_detail::Poll& poll) {
  if (resampler == nullptr) {
    stream_regions(image.source(), rects, fill, num_threads, dest, [](std::size_t) {}, poll);
    return;
  }
  std::vector<std::vector<std::uint8_t>> crops(rects.size());
  std::vector<std::uint8_t*> outputs(rects.size());
  stream_regions(
      image.source(), rects, fill, num_threads,
      [&](std::size_t j) {
        outputs[j] = dest(j);
        crops[j].resize(static_cast<std::size_t>(rects[j].width * rects[j].height * 3));
        return crops[j].data();
      },
      [](std::size_t) {}, poll);
  parallel_for(rects.size(), num_threads, [&](std::size_t j) {
    resampler->apply(crops[j].data(), outputs[j]);
    std::vector<std::uint8_t>().swap(crops[j]);
  }, 1);
}

std::unique_ptr<Resampler> make_resampler(std::int64_t crop, std::size_t out, ResampleFilter filter) {
  if (static_cast<std::size_t>(crop) == out) return nullptr;
  const auto side = static_cast<std::size_t>(crop);
  return std::make_unique<Resampler>(side, side, out, out, filter);
}

}  // namespace

Tiles cut_tiles(const ImageFile& image, VectorView<const double> x, VectorView<const double> y, double spot_diameter_px,
                const TileOptions& options) {
  options.validate();
  const std::int64_t crop = tile_crop_size(options, spot_diameter_px);
  const std::vector<ImageRect> rects = spot_rects(x, y, crop);
  const std::size_t n = rects.size();
  Tiles tiles;
  tiles.n = n;
  tiles.crop_size = crop;
  tiles.height = tiles.width = options.output_size > 0 ? static_cast<std::size_t>(options.output_size) : static_cast<std::size_t>(crop);
  const std::size_t tile_bytes = checked_tile_bytes(n, tiles.height);
  check_memory(static_cast<double>(n) * static_cast<double>(tile_bytes),
               fmt::format("{} tiles of {} × {} RGB pixels", n, tiles.height, tiles.width));
  tiles.pixels.resize(n * tile_bytes);
  tiles.spots.resize(n);
  std::iota(tiles.spots.begin(), tiles.spots.end(), std::size_t{0});
  for (std::size_t i = 0; i < n; ++i) {
    if (is_padded(rects[i], image.info())) tiles.padded.push_back(i);
  }
  const auto resampler = make_resampler(crop, tiles.height, options.filter);
  const auto fill = static_cast<std::uint8_t>(options.fill);
  auto dest = [&](std::size_t j) { return tiles.pixels.data() + j * tile_bytes; };

  std::atomic<std::size_t> finished{0};
  auto report = [&](std::size_t done) {
    if (options.progress && !options.progress(done, n)) detail::raise<Cancelled>("cut_tiles cancelled by the progress callback");
  };
  if (image.info().random_access) {
    for (std::size_t begin = 0; begin < n; begin += options.batch_size) {
      const std::size_t end = std::min(n, begin + options.batch_size);
      const std::vector<ImageRect> batch(rects.begin() + static_cast<std::ptrdiff_t>(begin),
                                         rects.begin() + static_cast<std::ptrdiff_t>(end));
      cut_random_access(image, batch, resampler.get(), fill, options.num_threads,
                        [&](std::size_t j) { return dest(begin + j); }, {});
      report(end);
    }
  } else {
    cut_sequential(image, rects, resampler.get(), fill, options.num_threads, dest,
                   [&](std::size_t) { finished.fetch_add(1, std::memory_order_relaxed); },
                   [&] { report(finished.load(std::memory_order_relaxed)); });
    report(n);
  }
  return tiles;
}

// ------------------------------------------------------------------------------ TileLoader

namespace {
struct Stopped {};  // thrown inside the producer when the loader is destroyed
}  // namespace

TileLoader::TileLoader(ImageFile image, VectorView<const double> x, VectorView<const double> y, double spot_diameter_px,
                       TileOptions options)
    : image_(std::move(image)), options_(std::move(options)) {
  options_.validate();
  crop_size_ = tile_crop_size(options_, spot_diameter_px);
  rects_ = spot_rects(x, y, crop_size_);
  out_size_ = options_.output_size > 0 ? static_cast<std::size_t>(options_.output_size) : static_cast<std::size_t>(crop_size_);
  checked_tile_bytes(std::min(options_.batch_size, rects_.size()), out_size_);
  producer_ = std::thread([this] { produce(); });
}

TileLoader::~TileLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  producer_.join();
}

std::size_t TileLoader::num_batches() const { return (rects_.size() + options_.batch_size - 1) / options_.batch_size; }

Tiles TileLoader::empty_batch(std::size_t batch) const {
  const std::size_t begin = batch * options_.batch_size, end = std::min(rects_.size(), begin + options_.batch_size);
  Tiles t;
  t.n = end - begin;
  t.height = t.width = out_size_;
  t.crop_size = crop_size_;
  t.pixels.resize(t.n * out_size_ * out_size_ * 3);
  for (std::size_t i = begin; i < end; ++i) {
    t.spots.push_back(i);
    if (is_padded(rects_[i], image_.info())) t.padded.push_back(i);
  }
  return t;
}

std::optional<Tiles> TileLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_batch_ >= num_batches()) return std::nullopt;
  changed_.wait(lock, [&] { return error_ || ready_.count(next_batch_) > 0; });
  const auto it = ready_.find(next_batch_);
  if (it == ready_.end()) std::rethrow_exception(error_);
  Tiles batch = std::move(it->second);
  ready_.erase(it);
  ++next_batch_;
  changed_.notify_all();  // the producer may be waiting for room to prefetch
  return batch;
}

void TileLoader::produce() {
  const auto resampler = make_resampler(crop_size_, out_size_, options_.filter);
  const auto fill = static_cast<std::uint8_t>(options_.fill);
  const std::size_t tile_bytes = out_size_ * out_size_ * 3, batches = num_batches(), bs = options_.batch_size;
  auto poll = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) throw Stopped{};
  };
  try {
    if (image_.info().random_access) {
      for (std::size_t b = 0; b < batches; ++b) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          changed_.wait(lock, [&] { return stop_ || b < next_batch_ + options_.prefetch; });
          if (stop_) return;
        }
        Tiles batch = empty_batch(b);
        const std::vector<ImageRect> rects(rects_.begin() + static_cast<std::ptrdiff_t>(b * bs),
                                           rects_.begin() + static_cast<std::ptrdiff_t>(b * bs + batch.n));
        cut_random_access(image_, rects, resampler.get(), fill, options_.num_threads,
                          [&](std::size_t j) { return batch.pixels.data() + j * tile_bytes; }, poll);
        {
          std::lock_guard<std::mutex> lock(mutex_);
          ready_.emplace(b, std::move(batch));
        }
        changed_.notify_all();
      }
      return;
    }
    // Sequential: one pass over every spot; a batch is handed out when its last tile is in.
    std::vector<Tiles> pending(batches);
    std::vector<std::size_t> missing(batches);
    for (std::size_t b = 0; b < batches; ++b) missing[b] = std::min(bs, rects_.size() - b * bs);
    cut_sequential(
        image_, rects_, resampler.get(), fill, options_.num_threads,
        [&](std::size_t j) {
          Tiles& batch = pending[j / bs];
          if (batch.pixels.empty()) batch = empty_batch(j / bs);
          return batch.pixels.data() + (j % bs) * tile_bytes;
        },
        [&](std::size_t j) {
          {
            std::lock_guard<std::mutex> lock(mutex_);
            if (--missing[j / bs] > 0) return;
            ready_.emplace(j / bs, std::move(pending[j / bs]));
          }
          changed_.notify_all();
        },
        poll);
  } catch (const Stopped&) {
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  changed_.notify_all();
}

}  // namespace spatialembed
