#pragma once
/// @file
/// ResNet-50 (He, Zhang, Ren & Sun 2016) built as Keras 2.2.4's `keras.applications.ResNet50`
/// builds it, layer names included (`conv1`, `bn_conv1`, `res2a_branch2a`, `bn2a_branch2a`,
/// …, `res5c_branch2c`, `bn5c_branch2c`, `fc1000`): convolutions with bias, stride 2 on the
/// first 1×1 convolution of a stage, BatchNorm epsilon 1e-3 (or as the weights' config says).
/// 25,636,712 parameters as Keras counts them (23,587,712 without `fc1000`).
///
/// Input: N×3×H×W float32 in Keras "caffe" normalisation (BGR, 0–255 minus the ImageNet
/// means 103.939, 116.779, 123.68), 224×224 by default (any H, W ≥ 32 works).
/// Output: features N×2048 (`avg_pool`), logits N×1000 (`fc1000` before its softmax).

#include "spatialembed/nn/keras_backbone.hpp"

namespace spatialembed {

class ResNet50Impl : public KerasBackboneImpl {
 public:
  ResNet50Impl();
  /// All stages: the outputs of stages 3, 4 and 5 (conv3_x, conv4_x, conv5_x).
  std::vector<torch::Tensor> feature_maps(const torch::Tensor& x, bool all_stages) override;
  std::vector<std::int64_t> stage_channels() const override { return {512, 1024, 2048}; }
  std::string name() const override { return "resnet50"; }
  std::int64_t input_size() const override { return 224; }

 private:
  struct Bottleneck {
    torch::nn::Conv2d conv_a{nullptr}, conv_b{nullptr}, conv_c{nullptr}, conv_short{nullptr};
    torch::nn::BatchNorm2d bn_a{nullptr}, bn_b{nullptr}, bn_c{nullptr}, bn_short{nullptr};
  };
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn_conv1_{nullptr};
  std::vector<Bottleneck> blocks_;
};
TORCH_MODULE(ResNet50);

}  // namespace spatialembed
