// Bilinear resizing and backbone normalisations (no LibTorch).

#include "spatialembed/nn/input_transform.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

Normalization parse_normalization(const std::string& name) {
  if (name == "caffe") return Normalization::caffe;
  if (name == "tf") return Normalization::tf;
  if (name == "torch") return Normalization::torch;
  if (name == "none") return Normalization::none;
  throw InvalidArgument(fmt::format("normalization must be \"caffe\", \"tf\", \"torch\" or \"none\", got \"{}\"", name));
}

std::string to_string(Normalization normalization) {
  switch (normalization) {
    case Normalization::caffe: return "caffe";
    case Normalization::tf: return "tf";
    case Normalization::torch: return "torch";
    case Normalization::none: return "none";
  }
  return "?";
}

void InputNormalization::validate() const {
  for (int c = 0; c < 3; ++c) {
    SPATIALEMBED_CHECK(std::isfinite(mean[c]), InvalidArgument, "normalization mean[{}] must be finite, got {}", c,
                       mean[c]);
    SPATIALEMBED_CHECK(std::isfinite(std[c]) && std[c] > 0, InvalidArgument,
                       "normalization std[{}] must be finite and > 0, got {}", c, std[c]);
  }
}

namespace {

// Source index pairs and weights of one axis (half-pixel centres, clamped at the edges).
struct Axis {
  std::vector<std::size_t> lo, hi;
  std::vector<float> w;  // weight of hi
};

Axis make_axis(std::size_t in, std::size_t out) {
  Axis a;
  a.lo.resize(out), a.hi.resize(out), a.w.resize(out);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::size_t i = 0; i < out; ++i) {
    const double src = std::max(0.0, (static_cast<double>(i) + 0.5) * scale - 0.5);
    const auto lo = std::min(static_cast<std::size_t>(src), in - 1);
    a.lo[i] = lo;
    a.hi[i] = std::min(lo + 1, in - 1);
    a.w[i] = static_cast<float>(src - static_cast<double>(lo));
  }
  return a;
}

// Per-channel affine map v -> v * scale[c] + shift[c] (v on 0–255) and the channel order.
struct Affine {
  float scale[3], shift[3];
  int source[3];  // output channel c takes input channel source[c]
};

Affine affine_of(const InputNormalization& n) {
  Affine a{};
  for (int c = 0; c < 3; ++c) a.source[c] = c;
  switch (n.mode) {
    case Normalization::caffe: {
      const float mean_bgr[3] = {103.939f, 116.779f, 123.68f};
      for (int c = 0; c < 3; ++c) a.scale[c] = 1.0f, a.shift[c] = -mean_bgr[c], a.source[c] = 2 - c;
      break;
    }
    case Normalization::tf:
      for (int c = 0; c < 3; ++c) a.scale[c] = 1.0f / 127.5f, a.shift[c] = -1.0f;
      break;
    case Normalization::torch:
      for (int c = 0; c < 3; ++c) a.scale[c] = 1.0f / (255.0f * n.std[c]), a.shift[c] = -n.mean[c] / n.std[c];
      break;
    case Normalization::none:
      for (int c = 0; c < 3; ++c) a.scale[c] = 1.0f / 255.0f, a.shift[c] = 0.0f;
      break;
  }
  return a;
}

template <class T>
void resize_plane(const T* src, std::size_t in_w, std::size_t stride, const Axis& ay, const Axis& ax, float* dst,
                  float scale, float shift) {
  const std::size_t oh = ay.lo.size(), ow = ax.lo.size();
  for (std::size_t y = 0; y < oh; ++y) {
    const T* r0 = src + ay.lo[y] * in_w * stride;
    const T* r1 = src + ay.hi[y] * in_w * stride;
    const float wy = ay.w[y];
    float* row = dst + y * ow;
    for (std::size_t x = 0; x < ow; ++x) {
      const std::size_t x0 = ax.lo[x] * stride, x1 = ax.hi[x] * stride;
      const float wx = ax.w[x];
      const float top = static_cast<float>(r0[x0]) + wx * (static_cast<float>(r0[x1]) - static_cast<float>(r0[x0]));
      const float bottom = static_cast<float>(r1[x0]) + wx * (static_cast<float>(r1[x1]) - static_cast<float>(r1[x0]));
      row[x] = (top + wy * (bottom - top)) * scale + shift;
    }
  }
}

void check_sizes(std::size_t height, std::size_t width, std::size_t oh, std::size_t ow) {
  SPATIALEMBED_CHECK(height > 0 && width > 0, InvalidArgument, "image size must be at least 1 x 1, got {} x {}", height,
                     width);
  SPATIALEMBED_CHECK(oh > 0 && ow > 0, InvalidArgument, "output size must be at least 1 x 1, got {} x {}", oh, ow);
}

}  // namespace

void resize_bilinear(const float* src, std::size_t height, std::size_t width, float* dst, std::size_t out_height,
                     std::size_t out_width) {
  check_sizes(height, width, out_height, out_width);
  resize_plane(src, width, 1, make_axis(height, out_height), make_axis(width, out_width), dst, 1.0f, 0.0f);
}

void grey_to_network_input(const float* image, std::size_t height, std::size_t width, std::size_t size,
                           const InputNormalization& normalization, float* out) {
  check_sizes(height, width, size, size);
  const Affine a = affine_of(normalization);
  const Axis ay = make_axis(height, size), ax = make_axis(width, size);
  const std::size_t plane = size * size;
  resize_plane(image, width, 1, ay, ax, out, 255.0f, 0.0f);  // 0–255 grey
  for (int c = 2; c >= 0; --c) {
    float* dst = out + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i) dst[i] = out[i] * a.scale[c] + a.shift[c];
  }
}

void rgb_to_network_input(const std::uint8_t* tile, std::size_t height, std::size_t width, std::size_t size,
                          const InputNormalization& normalization, float* out) {
  check_sizes(height, width, size, size);
  const Affine a = affine_of(normalization);
  const Axis ay = make_axis(height, size), ax = make_axis(width, size);
  for (int c = 0; c < 3; ++c)
    resize_plane(tile + a.source[c], width, 3, ay, ax, out + static_cast<std::size_t>(c) * size * size, a.scale[c],
                 a.shift[c]);
}

}  // namespace spatialembed
