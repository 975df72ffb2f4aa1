#pragma once
/// @file
/// Colour jitter of uint8 RGB tiles, as torchvision's `ColorJitter` applies it to uint8
/// tensors (torchvision 0.14 `transforms/functional_tensor.py`): brightness, contrast,
/// saturation and hue adjustments in a random order, each with a random factor; every
/// adjustment rounds back to uint8 (truncation) before the next, as torchvision does.
///
/// - brightness f: out = clamp(f · x, 0, 255)
/// - contrast f: out = clamp(f · x + (1 − f) · m, 0, 255), m = mean over the tile of the
///   grayscale image trunc(0.2989 R + 0.587 G + 0.114 B)
/// - saturation f: out = clamp(f · x + (1 − f) · gray, 0, 255) per pixel
/// - hue f ∈ [−½, ½]: x/255 → HSV, h ← (h + f) mod 1 → RGB, ×255, truncated
///
/// The factors are drawn as `ColorJitter.get_params`: brightness, contrast and saturation
/// uniform in [max(0, 1 − v), 1 + v], hue uniform in [−v, v], the order a random
/// permutation of the four. Plain C++, no LibTorch.

#include <array>
#include <cstddef>
#include <cstdint>

#include "spatialembed/common/random.hpp"

namespace spatialembed {

/// Strengths of `ColorJitter(brightness, contrast, saturation, hue)`; 0 switches one off.
struct ColorJitterOptions {
  double brightness = 0;  ///< factor range [max(0, 1 − b), 1 + b]; ≥ 0
  double contrast = 0;    ///< factor range [max(0, 1 − c), 1 + c]; ≥ 0
  double saturation = 0;  ///< factor range [max(0, 1 − s), 1 + s]; ≥ 0
  double hue = 0;         ///< shift range [−h, h] of the hue (a full turn = 1); [0, 0.5]
  bool enabled() const { return brightness > 0 || contrast > 0 || saturation > 0 || hue > 0; }
  /// Throws InvalidArgument naming the field (`prefix.field`), its value and the range.
  void validate(const char* prefix = "ColorJitterOptions") const;
};

/// One draw of the jitter: the factors and the order in which the adjustments run.
struct ColorJitterFactors {
  double brightness = 1, contrast = 1, saturation = 1, hue = 0;  ///< 1, 1, 1, 0 = unchanged
  bool use_brightness = false, use_contrast = false, use_saturation = false, use_hue = false;
  std::array<int, 4> order{0, 1, 2, 3};  ///< 0 brightness, 1 contrast, 2 saturation, 3 hue
};

/// Draws factors for `options` from `rng`: first the permutation (Fisher–Yates), then a
/// factor for each switched-on adjustment in the order brightness, contrast, saturation, hue.
ColorJitterFactors draw_color_jitter(const ColorJitterOptions& options, Rng& rng);

/// Applies `factors` in place to one tile `height × width × 3` uint8 RGB (row-major, HWC).
void color_jitter(std::uint8_t* tile, std::size_t height, std::size_t width, const ColorJitterFactors& factors);

}  // namespace spatialembed
