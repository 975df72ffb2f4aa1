#pragma once
/// @file
/// Turning images into network input (no LibTorch): bilinear resizing and the per-channel
/// normalisations the ImageNet backbones were trained with.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace spatialembed {

/// How 0–255 RGB values become network input.
enum class Normalization {
  caffe,  ///< Keras "caffe" (ResNet-50): RGB → BGR, minus the ImageNet means {103.939, 116.779, 123.68} (BGR), no scaling
  tf,     ///< Keras "tf" (Xception, Inception): v / 127.5 − 1, i.e. [−1, 1]
  torch,  ///< torchvision / timm: (v / 255 − mean) / std per RGB channel
  none,   ///< v / 255, i.e. [0, 1]
};
/// Parses "caffe", "tf", "torch" or "none"; throws InvalidArgument otherwise.
Normalization parse_normalization(const std::string& name);
std::string to_string(Normalization normalization);

/// A normalisation with its constants (mean and std are used by `torch` only).
struct InputNormalization {
  Normalization mode = Normalization::caffe;
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  ///< RGB, on [0, 1]
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};   ///< RGB, on [0, 1]; each > 0
  /// Throws InvalidArgument for a std ≤ 0 or a non-finite constant.
  void validate() const;
};

/// Bilinear resize of one `height × width` float32 plane to `out_height × out_width` with
/// half-pixel centres and edge clamping, no antialiasing: the convention of PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` and TensorFlow 2's `tf.image.resize`
/// (antialias=False). Same size = copy. Sizes ≥ 1.
void resize_bilinear(const float* src, std::size_t height, std::size_t width, float* dst, std::size_t out_height,
                     std::size_t out_width);

/// One grey image with values in [0, 1] (an ion image after scaling) → a 3 × size × size
/// network input (CHW, float32): resized bilinearly, scaled to 0–255, replicated to three
/// channels and normalised.
void grey_to_network_input(const float* image, std::size_t height, std::size_t width, std::size_t size,
                           const InputNormalization& normalization, float* out);

/// One RGB tile (`height × width × 3` uint8, HWC) → a 3 × size × size network input (CHW,
/// float32): each channel resized bilinearly on its 0–255 values, then normalised.
void rgb_to_network_input(const std::uint8_t* tile, std::size_t height, std::size_t width, std::size_t size,
                          const InputNormalization& normalization, float* out);

}  // namespace spatialembed
