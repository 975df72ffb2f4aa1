#pragma once
/// @file
/// `KerasBackboneImpl`: the base of the LibTorch networks that are built layer for layer as
/// Keras builds them (resnet50.hpp, xception.hpp), so that Keras weights load by layer name.
///
/// Input: N×3×H×W float32 (NCHW), already normalised the way the network was trained (see
/// input_transform.hpp). Output: `features` N×2048 (global average pooling of the last
/// feature map, Keras's `avg_pool`), `logits` N×1000 (the classifier before its softmax).

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/nn/keras_weights.hpp"

namespace spatialembed {

/// Keras's SeparableConv2D: a depthwise convolution (one k×k filter per input channel,
/// depth multiplier 1) followed by a 1×1 pointwise convolution, stride 1, "same" padding,
/// no bias. Weights: `depthwise_kernel` k×k×in×1 and `pointwise_kernel` 1×1×in×out.
class SeparableConv2dImpl : public torch::nn::Module {
 public:
  SeparableConv2dImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d depthwise{nullptr}, pointwise{nullptr};
};
TORCH_MODULE(SeparableConv2d);

/// Base of the Keras-layout networks: a register of Keras layer name → torch module, the
/// weight loader and the parameter count as Keras reports it.
class KerasBackboneImpl : public torch::nn::Module {
 public:
  /// Pooled features, N×feature_dim(): the global average of the last of `feature_maps`.
  torch::Tensor features(const torch::Tensor& x) { return feature_maps(x, false).back().mean({2, 3}); }
  /// Feature maps before pooling, N×C×h×w each: with `all_stages`, the outputs of the stages
  /// listed by `stage_channels()` (shallow to deep, the last one the final map); otherwise only
  /// the final map.
  virtual std::vector<torch::Tensor> feature_maps(const torch::Tensor& x, bool all_stages) = 0;
  /// Channels of the maps `feature_maps(x, true)` returns (the last = feature_dim()).
  virtual std::vector<std::int64_t> stage_channels() const = 0;
  /// The classifier's logits (before softmax), N×1000, from `features`' output.
  torch::Tensor logits(const torch::Tensor& features);
  /// Features and logits of an input batch.
  torch::Tensor forward_logits(const torch::Tensor& x) { return logits(features(x)); }

  virtual std::string name() const = 0;      ///< "resnet50", "xception"
  virtual std::int64_t input_size() const = 0;  ///< default square input side: 224, 299
  std::int64_t feature_dim() const { return feature_dim_; }
  /// True once classifier weights were loaded (a "notop" file leaves it false).
  bool has_classifier() const { return has_classifier_; }

  /// Parameters as Keras counts them (weights, biases, BatchNorm γ, β, moving mean and
  /// variance), with or without the classifier (Keras's include_top).
  std::int64_t keras_parameter_count(bool include_top = true) const;
  /// Keras layer names of this network, in construction order.
  std::vector<std::string> keras_layer_names() const;

  /// Copies Keras weights in: every layer of the network by name (Conv2D kernel H×W×in×out →
  /// out×in×H×W, depthwise H×W×in×1 → in×1×H×W, pointwise → out×in×1×1, Dense in×out →
  /// out×in; BatchNorm epsilon from the file's config when it gives one, else Keras's
  /// default 1e-3). A layer with an automatic Keras name (`conv2d_4`, `batch_normalization_4`)
  /// missing from the file is paired with the file's automatic names of that kind by rank
  /// (files numbered `conv2d_1`… from a fresh Keras session). The classifier is loaded when
  /// present; `require_classifier` makes its absence an error. Throws FormatError naming the
  /// layer (and the source) for a missing layer or weight, or a shape that differs.
  void load_keras_weights(const KerasWeights& weights, bool require_classifier = false);

 protected:
  explicit KerasBackboneImpl(std::int64_t feature_dim, std::int64_t num_classes = 1000);
  /// Registers a Keras layer: a submodule under its Keras name (a Conv2d, BatchNorm2d,
  /// SeparableConv2d or Linear) that load_keras_weights fills.
  template <class M>
  M keras_layer(const std::string& keras_name, M module) {
    register_module(keras_name, module);
    layers_.push_back({keras_name, module.ptr()});
    return module;
  }
  torch::nn::Linear classifier_{nullptr};

 private:
  struct Entry {
    std::string name;
    std::shared_ptr<torch::nn::Module> module;
  };
  std::vector<Entry> layers_;
  std::int64_t feature_dim_;
  bool has_classifier_ = false;
  std::string classifier_name_;

  friend class ResNet50Impl;
  friend class XceptionImpl;
};

/// A Conv2d as Keras's Conv2D (k×k, stride, `padding` symmetric zeros, bias as given).
torch::nn::Conv2d keras_conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                             std::int64_t padding, bool bias);
/// A BatchNorm2d with Keras's defaults (epsilon 1e-3; eval mode uses the moving statistics).
torch::nn::BatchNorm2d keras_batch_norm(std::int64_t channels);
/// Keras/TensorFlow "same" max pooling, k×k window, stride s: pads (k − s or k − n mod s)
/// with the extra row/column at the bottom/right, padded cells never win.
torch::Tensor max_pool_same(const torch::Tensor& x, std::int64_t k, std::int64_t s);

}  // namespace spatialembed
