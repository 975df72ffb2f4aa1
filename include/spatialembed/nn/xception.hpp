#pragma once
/// @file
/// Xception (Chollet 2017, arXiv:1610.02357) built as `keras.applications.Xception` builds
/// it, layer names included (`block1_conv1`, `block1_conv1_bn`, `block2_sepconv1`, …,
/// `block14_sepconv2_bn`, `predictions`); the four residual-shortcut 1×1 convolutions and
/// their batch norms, unnamed in Keras's code, carry the names Keras gives them in a model
/// built after three others (`conv2d_4`…`conv2d_7`, `batch_normalization_4`…`_7`, as in the
/// TF.js export; other numberings pair by rank, see `load_keras_weights`). Convolutions have
/// no bias; max pooling and separable convolutions use TensorFlow's "same" padding.
/// 22,910,480 parameters as Keras counts them (20,861,480 without `predictions`).
///
/// Input: N×3×H×W float32 in Keras "tf" normalisation (RGB scaled to [−1, 1]), 299×299 by
/// default (H, W ≥ 71). Output: features N×2048 (`avg_pool`), logits N×1000.

#include "spatialembed/nn/keras_backbone.hpp"

namespace spatialembed {

class XceptionImpl : public KerasBackboneImpl {
 public:
  XceptionImpl();
  /// All stages: the outputs of block 4 (entry flow), block 12 (middle flow) and block 14.
  std::vector<torch::Tensor> feature_maps(const torch::Tensor& x, bool all_stages) override;
  std::vector<std::int64_t> stage_channels() const override { return {728, 728, 2048}; }
  std::string name() const override { return "xception"; }
  std::int64_t input_size() const override { return 299; }

 private:
  struct SepBn {
    SeparableConv2d conv{nullptr};
    torch::nn::BatchNorm2d bn{nullptr};
  };
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  std::vector<torch::nn::Conv2d> short_conv_;       // blocks 2, 3, 4, 13
  std::vector<torch::nn::BatchNorm2d> short_bn_;
  std::vector<std::vector<SepBn>> blocks_;           // blocks_[b] = separable convs of block b + 2
};
TORCH_MODULE(Xception);

}  // namespace spatialembed
