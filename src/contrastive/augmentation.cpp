// Colour jitter as torchvision's functional_tensor does it on uint8 images (see the header).

#include "spatialembed/contrastive/augmentation.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

void ColorJitterOptions::validate(const char* prefix) const {
  SPATIALEMBED_CHECK(std::isfinite(brightness) && brightness >= 0, InvalidArgument, "{}.brightness must be >= 0, got {}",
                     prefix, brightness);
  SPATIALEMBED_CHECK(std::isfinite(contrast) && contrast >= 0, InvalidArgument, "{}.contrast must be >= 0, got {}",
                     prefix, contrast);
  SPATIALEMBED_CHECK(std::isfinite(saturation) && saturation >= 0, InvalidArgument,
                     "{}.saturation must be >= 0, got {}", prefix, saturation);
  SPATIALEMBED_CHECK(hue >= 0 && hue <= 0.5, InvalidArgument, "{}.hue must be in [0, 0.5], got {}", prefix, hue);
}

ColorJitterFactors draw_color_jitter(const ColorJitterOptions& o, Rng& rng) {
  ColorJitterFactors f;
  for (std::size_t i = 4; i > 1; --i) std::swap(f.order[i - 1], f.order[rng.below(i)]);
  auto factor = [&](double v) { return std::max(0.0, 1.0 - v) + rng.uniform() * (1.0 + v - std::max(0.0, 1.0 - v)); };
  if ((f.use_brightness = o.brightness > 0)) f.brightness = factor(o.brightness);
  if ((f.use_contrast = o.contrast > 0)) f.contrast = factor(o.contrast);
  if ((f.use_saturation = o.saturation > 0)) f.saturation = factor(o.saturation);
  if ((f.use_hue = o.hue > 0)) f.hue = -o.hue + 2.0 * o.hue * rng.uniform();
  return f;
}

namespace {

// torchvision computes in float32; Python-float factors enter as float32 scalars.
inline std::uint8_t to_u8(float v) {  // clamp(0, 255).to(uint8): truncation
  v = std::min(255.0f, std::max(0.0f, v));
  return static_cast<std::uint8_t>(v);
}

inline float gray_of(const std::uint8_t* p) {  // rgb_to_grayscale(...).to(uint8), before the cast
  return 0.2989f * static_cast<float>(p[0]) + 0.587f * static_cast<float>(p[1]) + 0.114f * static_cast<float>(p[2]);
}

void blend_constant(std::uint8_t* x, std::size_t count, double ratio, float other) {
  const float r = static_cast<float>(ratio), q = static_cast<float>(1.0 - ratio);
  for (std::size_t i = 0; i < count; ++i) x[i] = to_u8(r * static_cast<float>(x[i]) + q * other);
}

void adjust_saturation(std::uint8_t* x, std::size_t pixels, double ratio) {
  const float r = static_cast<float>(ratio), q = static_cast<float>(1.0 - ratio);
  for (std::size_t i = 0; i < pixels; ++i) {
    std::uint8_t* p = x + 3 * i;
    const float g = static_cast<float>(static_cast<std::uint8_t>(gray_of(p)));
    for (int c = 0; c < 3; ++c) p[c] = to_u8(r * static_cast<float>(p[c]) + q * g);
  }
}

void adjust_contrast(std::uint8_t* x, std::size_t pixels, double ratio) {
  double sum = 0;
  for (std::size_t i = 0; i < pixels; ++i) sum += static_cast<std::uint8_t>(gray_of(x + 3 * i));
  const float mean = static_cast<float>(sum / static_cast<double>(pixels));
  blend_constant(x, 3 * pixels, ratio, mean);
}

void adjust_hue(std::uint8_t* x, std::size_t pixels, double shift) {
  const float hue_factor = static_cast<float>(shift);
  for (std::size_t i = 0; i < pixels; ++i) {
    std::uint8_t* px = x + 3 * i;
    const float r = px[0] / 255.0f, g = px[1] / 255.0f, b = px[2] / 255.0f;
    // _rgb2hsv
    const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float div = eqc ? 1.0f : cr;
    const float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
    float h;
    if (maxc == r) h = bc - gc;
    else if (maxc == g) h = 2.0f + rc - bc;
    else h = 4.0f + gc - rc;
    h = std::fmod(h / 6.0f + 1.0f, 1.0f);
    // (h + hue_factor) % 1.0 (Python modulo: non-negative)
    h = h + hue_factor;
    h = h - std::floor(h);
    if (h >= 1.0f) h = 0.0f;
    // _hsv2rgb
    const float v = maxc;
    const float fi = std::floor(h * 6.0f);
    const float f = h * 6.0f - fi;
    int sector = static_cast<int>(fi) % 6;
    if (sector < 0) sector += 6;
    const float p = std::min(1.0f, std::max(0.0f, v * (1.0f - s)));
    const float q = std::min(1.0f, std::max(0.0f, v * (1.0f - s * f)));
    const float t = std::min(1.0f, std::max(0.0f, v * (1.0f - s * (1.0f - f))));
    float out[3];
    switch (sector) {
      case 0: out[0] = v; out[1] = t; out[2] = p; break;
      case 1: out[0] = q; out[1] = v; out[2] = p; break;
      case 2: out[0] = p; out[1] = v; out[2] = t; break;
      case 3: out[0] = p; out[1] = q; out[2] = v; break;
      case 4: out[0] = t; out[1] = p; out[2] = v; break;
      default: out[0] = v; out[1] = p; out[2] = q; break;
    }
    // back to uint8 as torchvision 0.14's adjust_hue: (x · 255).to(uint8), truncated
    for (int c = 0; c < 3; ++c) px[c] = static_cast<std::uint8_t>(out[c] * 255.0f);
  }
}

}  // namespace

void color_jitter(std::uint8_t* tile, std::size_t height, std::size_t width, const ColorJitterFactors& f) {
  SPATIALEMBED_CHECK(tile != nullptr || height * width == 0, InvalidArgument, "color_jitter: tile is null");
  const std::size_t pixels = height * width;
  if (pixels == 0) return;
  for (int op : f.order) {
    if (op == 0 && f.use_brightness) blend_constant(tile, 3 * pixels, f.brightness, 0.0f);
    if (op == 1 && f.use_contrast) adjust_contrast(tile, pixels, f.contrast);
    if (op == 2 && f.use_saturation) adjust_saturation(tile, pixels, f.saturation);
    if (op == 3 && f.use_hue) adjust_hue(tile, pixels, f.hue);
  }
}

}  // namespace spatialembed
