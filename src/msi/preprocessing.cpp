#include "spatialembed/msi/preprocessing.hpp"

#include <algorithm>
#include <cmath>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

void PreprocessOptions::validate() const {
  SPATIALEMBED_CHECK(hotspot_quantile > 0 && hotspot_quantile <= 1, InvalidArgument,
                     "hotspot_quantile must be in (0, 1] (1 = off), got {}", hotspot_quantile);
  SPATIALEMBED_CHECK(median_filter == 0 || (median_filter >= 3 && median_filter % 2 == 1), InvalidArgument,
                     "median_filter must be 0 (off) or an odd window side >= 3, got {}", median_filter);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}", num_threads);
}

std::string PreprocessOptions::describe() const {
  std::string out;
  for_each_field([&](const char* name, auto member, const char*) {
    if (std::string(name) == "num_threads") return;
    out += fmt::format("{}{} = {}", out.empty() ? "" : ", ", name, this->*member);
  });
  return out;
}

bool same_preprocessing(const PreprocessOptions& a, const PreprocessOptions& b) {
  bool same = true;
  PreprocessOptions::for_each_field([&](const char* name, auto member, const char*) {
    if (std::string(name) != "num_threads") same = same && a.*member == b.*member;
  });
  return same;
}

namespace {

std::vector<std::size_t> measured_pixels(const IonImageStack& stack) {
  std::vector<std::size_t> pixels;
  for (std::size_t p = 0; p < stack.n_pixels(); ++p) {
    if (stack.mask[p]) pixels.push_back(p);
  }
  return pixels;
}

// Replaces every measured pixel of every image by `filter(value, neighbours)`: its original
// value and the original values of the other measured pixels within `radius` (Chebyshev) of
// it, which the filter may reorder.
template <class Filter>
void filter_measured_neighbourhoods(IonImageStack& stack, std::size_t radius, int num_threads, Filter filter) {
  const std::size_t H = stack.height, W = stack.width;
  parallel_for(stack.n_images(), num_threads, [&](std::size_t k) {
    float* image = stack.image(k);
    const std::vector<float> source(image, image + H * W);
    std::vector<float> neighbours;
    for (std::size_t y = 0; y < H; ++y) {
      for (std::size_t x = 0; x < W; ++x) {
        if (!stack.mask[y * W + x]) continue;
        neighbours.clear();
        for (std::size_t yy = y >= radius ? y - radius : 0; yy <= std::min(H - 1, y + radius); ++yy) {
          for (std::size_t xx = x >= radius ? x - radius : 0; xx <= std::min(W - 1, x + radius); ++xx) {
            if ((yy != y || xx != x) && stack.mask[yy * W + xx]) neighbours.push_back(source[yy * W + xx]);
          }
        }
        image[y * W + x] = filter(source[y * W + x], neighbours);
      }
    }
  }, 1);
}

}  // namespace

void tic_normalize_pixels(IonImageStack& stack, int num_threads) {
  stack.validate();
  const std::size_t P = stack.n_pixels(), K = stack.n_images();
  parallel_for(P, num_threads, [&](std::size_t p) {
    if (!stack.mask[p]) return;
    double sum = 0;
    for (std::size_t k = 0; k < K; ++k) sum += stack.images[k * P + p];
    if (sum == 0) return;
    for (std::size_t k = 0; k < K; ++k) stack.images[k * P + p] = static_cast<float>(stack.images[k * P + p] / sum);
  }, 1024);
}

void remove_spikes(IonImageStack& stack, int num_threads) {
  stack.validate();
  filter_measured_neighbourhoods(stack, 1, num_threads, [](float value, const std::vector<float>& neighbours) {
    return neighbours.empty() ? value : std::min(value, *std::max_element(neighbours.begin(), neighbours.end()));
  });
}

void clip_hotspots(IonImageStack& stack, double quantile, int num_threads, bool ignore_zeros) {
  stack.validate();
  SPATIALEMBED_CHECK(quantile > 0 && quantile <= 1, InvalidArgument, "quantile must be in (0, 1], got {}", quantile);
  const auto pixels = measured_pixels(stack);
  if (pixels.empty() || quantile == 1) return;
  parallel_for(stack.n_images(), num_threads, [&](std::size_t k) {
    float* image = stack.image(k);
    std::vector<double> values;
    values.reserve(pixels.size());
    for (std::size_t p : pixels) {
      if (!ignore_zeros || image[p] != 0) values.push_back(image[p]);
    }
    if (values.empty()) return;
    // numpy.quantile, method "linear": position q·(n − 1) between order statistics.
    const double position = quantile * static_cast<double>(values.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const double fraction = position - static_cast<double>(below);
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(below), values.end());
    const double low = values[below];
    double high = low;
    if (below + 1 < values.size()) high = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(below) + 1, values.end());
    const auto limit = static_cast<float>(low + fraction * (high - low));
    for (std::size_t p : pixels) image[p] = std::min(image[p], limit);
  }, 1);
}

void median_filter(IonImageStack& stack, std::size_t size, int num_threads) {
  stack.validate();
  SPATIALEMBED_CHECK(size >= 3 && size % 2 == 1, InvalidArgument, "median filter size must be odd and >= 3, got {}", size);
  filter_measured_neighbourhoods(stack, size / 2, num_threads, [](float value, std::vector<float>& window) {
    window.push_back(value);
    const auto mid = window.begin() + static_cast<std::ptrdiff_t>(window.size() / 2);
    std::nth_element(window.begin(), mid, window.end());
    double median = *mid;
    if (window.size() % 2 == 0) median = 0.5 * (median + static_cast<double>(*std::max_element(window.begin(), mid)));
    return static_cast<float>(median);
  });
}

void scale_to_unit(IonImageStack& stack, int num_threads) {
  stack.validate();
  const auto pixels = measured_pixels(stack);
  if (pixels.empty()) return;
  parallel_for(stack.n_images(), num_threads, [&](std::size_t k) {
    float* image = stack.image(k);
    float lo = image[pixels[0]], hi = lo;
    for (std::size_t p : pixels) lo = std::min(lo, image[p]), hi = std::max(hi, image[p]);
    const double range = static_cast<double>(hi) - lo;
    for (std::size_t p : pixels) image[p] = range > 0 ? static_cast<float>((image[p] - static_cast<double>(lo)) / range) : 0.0f;
  }, 1);
}

void preprocess(IonImageStack& stack, const PreprocessOptions& options) {
  options.validate();
  stack.validate();
  if (options.tic_normalize) tic_normalize_pixels(stack, options.num_threads);
  if (options.remove_spikes) remove_spikes(stack, options.num_threads);
  if (options.hotspot_quantile < 1) {
    clip_hotspots(stack, options.hotspot_quantile, options.num_threads, options.hotspot_ignore_zeros);
  }
  if (options.median_filter > 0) median_filter(stack, options.median_filter, options.num_threads);
  if (options.scale) scale_to_unit(stack, options.num_threads);
}

}  // namespace spatialembed
