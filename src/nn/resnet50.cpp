// ResNet-50 as keras.applications.ResNet50 (Keras 2.2.4) builds it.

#include "spatialembed/nn/resnet50.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>

#include "nn/batch_norm.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace F = torch::nn::functional;

ResNet50Impl::ResNet50Impl() : KerasBackboneImpl(2048) {
  conv1_ = keras_layer("conv1", keras_conv(3, 64, 7, 2, 0, true));
  bn_conv1_ = keras_layer("bn_conv1", keras_batch_norm(64));
  // (stage, blocks, filters of the 1×1 reduction, stride of the first block)
  struct Stage {
    int stage, blocks;
    std::int64_t filters, stride;
  };
  const Stage stages[] = {{2, 3, 64, 1}, {3, 4, 128, 2}, {4, 6, 256, 2}, {5, 3, 512, 2}};
  std::int64_t in = 64;
  for (const Stage& s : stages) {
    for (int b = 0; b < s.blocks; ++b) {
      const std::string id = std::to_string(s.stage) + static_cast<char>('a' + b);
      const std::int64_t out = 4 * s.filters, stride = b == 0 ? s.stride : 1;
      Bottleneck block;
      block.conv_a = keras_layer("res" + id + "_branch2a", keras_conv(in, s.filters, 1, stride, 0, true));
      block.bn_a = keras_layer("bn" + id + "_branch2a", keras_batch_norm(s.filters));
      block.conv_b = keras_layer("res" + id + "_branch2b", keras_conv(s.filters, s.filters, 3, 1, 1, true));
      block.bn_b = keras_layer("bn" + id + "_branch2b", keras_batch_norm(s.filters));
      block.conv_c = keras_layer("res" + id + "_branch2c", keras_conv(s.filters, out, 1, 1, 0, true));
      block.bn_c = keras_layer("bn" + id + "_branch2c", keras_batch_norm(out));
      if (b == 0) {
        block.conv_short = keras_layer("res" + id + "_branch1", keras_conv(in, out, 1, stride, 0, true));
        block.bn_short = keras_layer("bn" + id + "_branch1", keras_batch_norm(out));
      }
      blocks_.push_back(block);
      in = out;
    }
  }
  classifier_ = keras_layer("fc1000", torch::nn::Linear(2048, 1000));
  classifier_name_ = "fc1000";
  eval();
}

std::vector<torch::Tensor> ResNet50Impl::feature_maps(const torch::Tensor& input, bool all_stages) {
  SPATIALEMBED_CHECK(input.dim() == 4 && input.size(1) == 3 && input.size(2) >= 32 && input.size(3) >= 32,
                     InvalidArgument, "resnet50 input must be N x 3 x H x W with H, W >= 32, got {}",
                     fmt::join(input.sizes(), " x "));
  // conv1_pad (3 zeros), conv1 7×7/2, bn, relu, pool1_pad (1 zero), 3×3/2 max pool.
  auto x = torch::relu(detail::batch_norm(bn_conv1_, conv1_(F::pad(input, F::PadFuncOptions({3, 3, 3, 3})))));
  // Zero padding before the max pool equals skipping the pad: every value is ≥ 0 after ReLU.
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  std::vector<torch::Tensor> maps;
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    auto& b = blocks_[i];
    auto y = torch::relu(detail::batch_norm(b.bn_a, b.conv_a(x)));
    y = torch::relu(detail::batch_norm(b.bn_b, b.conv_b(y)));
    y = detail::batch_norm(b.bn_c, b.conv_c(y));
    auto shortcut = b.conv_short ? detail::batch_norm(b.bn_short, b.conv_short(x)) : x;
    x = torch::relu(y + shortcut);
    if (all_stages && (i == 6 || i == 12)) maps.push_back(x);  // last blocks of stages 3 (3d) and 4 (4f)
  }
  maps.push_back(x);
  return maps;
}

}  // namespace spatialembed
