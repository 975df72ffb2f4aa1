// Keras-layout networks: the layer register, weight loading with layout conversion, shared layers.

#include "spatialembed/nn/keras_backbone.hpp"

#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace F = torch::nn::functional;

SeparableConv2dImpl::SeparableConv2dImpl(std::int64_t in, std::int64_t out, std::int64_t k) {
  depthwise = register_module(
      "depthwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, in, k).padding(k / 2).groups(in).bias(false)));
  pointwise = register_module("pointwise", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(false)));
}

torch::Tensor SeparableConv2dImpl::forward(const torch::Tensor& x) { return pointwise(depthwise(x)); }

torch::nn::Conv2d keras_conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                             std::int64_t padding, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(padding).bias(bias));
}

torch::nn::BatchNorm2d keras_batch_norm(std::int64_t channels) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-3).momentum(0.01));
}

torch::Tensor max_pool_same(const torch::Tensor& x, std::int64_t k, std::int64_t s) {
  auto pad_total = [&](std::int64_t n) {
    const std::int64_t out = (n + s - 1) / s;
    return std::max<std::int64_t>((out - 1) * s + k - n, 0);
  };
  const std::int64_t ph = pad_total(x.size(2)), pw = pad_total(x.size(3));
  if (ph % 2 == 0 && pw % 2 == 0 && ph / 2 <= k / 2 && pw / 2 <= k / 2)
    return F::max_pool2d(x, F::MaxPool2dFuncOptions(k).stride(s).padding({ph / 2, pw / 2}));
  // TensorFlow puts the odd cell after (bottom/right); padded cells must never be the maximum.
  auto padded = F::pad(x, F::PadFuncOptions({pw / 2, pw - pw / 2, ph / 2, ph - ph / 2})
                              .value(-std::numeric_limits<double>::infinity()));
  return F::max_pool2d(padded, F::MaxPool2dFuncOptions(k).stride(s));
}

KerasBackboneImpl::KerasBackboneImpl(std::int64_t feature_dim, std::int64_t num_classes) : feature_dim_(feature_dim) {
  (void)num_classes;
}

torch::Tensor KerasBackboneImpl::logits(const torch::Tensor& features) {
  SPATIALEMBED_CHECK(has_classifier_, InvalidArgument,
                     "{}: logits asked for, but the weights held no classifier layer '{}' (a 'notop' file?)", name(),
                     classifier_name_);
  return classifier_(features);
}

std::int64_t KerasBackboneImpl::keras_parameter_count(bool include_top) const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  for (const auto& b : named_buffers())
    if (b.key().find("num_batches_tracked") == std::string::npos) n += b.value().numel();
  if (!include_top && classifier_) n -= classifier_->weight.numel() + classifier_->bias.numel();
  return n;
}

std::vector<std::string> KerasBackboneImpl::keras_layer_names() const {
  std::vector<std::string> names;
  for (const auto& e : layers_) names.push_back(e.name);
  return names;
}

namespace {

std::string shape_str(at::IntArrayRef shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string shape_str(const std::vector<std::int64_t>& shape) { return shape_str(at::IntArrayRef(shape)); }

// The Keras tensor `weight` of `layer`, checked against the expected Keras shape.
torch::Tensor keras_tensor(const KerasWeights& weights, const std::string& file_layer, const std::string& model_layer,
                           const std::string& weight, const std::vector<std::int64_t>& keras_shape) {
  const KerasLayer& layer = weights.layer(file_layer);
  auto it = layer.weights.find(weight);
  SPATIALEMBED_CHECK(it != layer.weights.end(), FormatError, "{}: layer '{}' has no weight '{}' (it has {} weight(s))",
                     weights.source, file_layer, weight, layer.weights.size());
  SPATIALEMBED_CHECK(it->second.shape == keras_shape, FormatError,
                     "{}: layer '{}' weight '{}' has shape {}, but layer '{}' of the network needs {}", weights.source,
                     file_layer, weight, shape_str(it->second.shape), model_layer, shape_str(keras_shape));
  // from_blob does not own the memory: clone before the KerasWeights can go away.
  return torch::from_blob(const_cast<float*>(it->second.values.data()), keras_shape, torch::kFloat32).clone();
}

// "conv2d_12" -> ("conv2d", 12); "" when the name is not automatic.
std::pair<std::string, long> auto_name(const std::string& name) {
  static const std::regex pattern("^(conv2d|batch_normalization|dense|separable_conv2d)_([0-9]+)$");
  std::smatch m;
  if (std::regex_match(name, m, pattern)) return {m[1].str(), std::stol(m[2].str())};
  return {"", 0};
}

}  // namespace

void KerasBackboneImpl::load_keras_weights(const KerasWeights& weights, bool require_classifier) {
  torch::NoGradGuard no_grad;

  // Automatic names missing from the file pair by rank with the file's automatic names.
  std::map<std::string, std::string> file_name;
  std::map<std::string, std::vector<std::pair<long, std::string>>> model_auto, file_auto;
  for (const auto& e : layers_) {
    file_name[e.name] = e.name;
    const auto [kind, number] = auto_name(e.name);
    if (!kind.empty()) model_auto[kind].emplace_back(number, e.name);
  }
  for (const auto& [name, layer] : weights.layers) {
    const auto [kind, number] = auto_name(name);
    if (!kind.empty()) file_auto[kind].emplace_back(number, name);
  }
  for (auto& [kind, names] : model_auto) {
    bool all_present = true;
    for (const auto& n : names) all_present = all_present && weights.layers.count(n.second);
    if (all_present) continue;
    auto& in_file = file_auto[kind];
    SPATIALEMBED_CHECK(in_file.size() == names.size(), FormatError,
                       "{}: the network has {} unnamed '{}' layer(s) ({} …) but the file has {} such layer(s)",
                       weights.source, names.size(), kind, names.front().second, in_file.size());
    std::sort(names.begin(), names.end());
    std::sort(in_file.begin(), in_file.end());
    for (std::size_t i = 0; i < names.size(); ++i) file_name[names[i].second] = in_file[i].second;
  }

  auto copy = [](torch::Tensor& dst, const torch::Tensor& src) { dst.copy_(src.reshape(dst.sizes())); };

  for (const auto& e : layers_) {
    const std::string& src = file_name[e.name];
    const bool is_classifier = e.name == classifier_name_;
    if (is_classifier && !weights.layers.count(src)) {
      SPATIALEMBED_CHECK(!require_classifier, FormatError, "{}: no weights for the classifier layer '{}'",
                         weights.source, e.name);
      has_classifier_ = false;
      continue;
    }
    SPATIALEMBED_CHECK(weights.layers.count(src), FormatError, "{}: no weights for layer '{}' of {}", weights.source,
                       e.name, name());
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(e.module.get())) {
      const auto& w = conv->weight;  // out × in × kh × kw
      copy(conv->weight, keras_tensor(weights, src, e.name, "kernel", {w.size(2), w.size(3), w.size(1), w.size(0)})
                             .permute({3, 2, 0, 1}));
      if (conv->options.bias()) copy(conv->bias, keras_tensor(weights, src, e.name, "bias", {w.size(0)}));
    } else if (auto* sep = dynamic_cast<SeparableConv2dImpl*>(e.module.get())) {
      const auto& dw = sep->depthwise->weight;  // in × 1 × kh × kw
      const auto& pw = sep->pointwise->weight;  // out × in × 1 × 1
      copy(sep->depthwise->weight,
           keras_tensor(weights, src, e.name, "depthwise_kernel", {dw.size(2), dw.size(3), dw.size(0), 1})
               .permute({2, 3, 0, 1}));
      copy(sep->pointwise->weight,
           keras_tensor(weights, src, e.name, "pointwise_kernel", {1, 1, pw.size(1), pw.size(0)}).permute({3, 2, 0, 1}));
    } else if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(e.module.get())) {
      const std::int64_t c = bn->weight.size(0);
      copy(bn->weight, keras_tensor(weights, src, e.name, "gamma", {c}));
      copy(bn->bias, keras_tensor(weights, src, e.name, "beta", {c}));
      copy(bn->running_mean, keras_tensor(weights, src, e.name, "moving_mean", {c}));
      copy(bn->running_var, keras_tensor(weights, src, e.name, "moving_variance", {c}));
      const auto& layer = weights.layer(src);
      SPATIALEMBED_CHECK(layer.class_name.empty() || layer.class_name == "BatchNormalization", FormatError,
                         "{}: layer '{}' is a {} in the file, but a BatchNormalization in {}", weights.source, src,
                         layer.class_name, name());
      const double eps = layer.epsilon.value_or(1e-3);
      SPATIALEMBED_CHECK(eps > 0 && std::isfinite(eps), FormatError, "{}: layer '{}' has epsilon {}", weights.source,
                         src, eps);
      bn->options.eps(eps);
    } else if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(e.module.get())) {
      const auto& w = linear->weight;  // out × in
      copy(linear->weight, keras_tensor(weights, src, e.name, "kernel", {w.size(1), w.size(0)}).t());
      copy(linear->bias, keras_tensor(weights, src, e.name, "bias", {w.size(0)}));
      if (is_classifier) has_classifier_ = true;
    } else {
      throw Error(fmt::format("{}: layer '{}' has a module type the loader does not know", name(), e.name));
    }
  }
}

}  // namespace spatialembed
