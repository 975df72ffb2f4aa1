// Xception as keras.applications.Xception builds it.

#include "spatialembed/nn/xception.hpp"

#include "nn/batch_norm.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

XceptionImpl::XceptionImpl() : KerasBackboneImpl(2048) {
  conv1_ = keras_layer("block1_conv1", keras_conv(3, 32, 3, 2, 0, false));
  bn1_ = keras_layer("block1_conv1_bn", keras_batch_norm(32));
  conv2_ = keras_layer("block1_conv2", keras_conv(32, 64, 3, 1, 0, false));
  bn2_ = keras_layer("block1_conv2_bn", keras_batch_norm(64));
  auto sep = [&](int block, int i, std::int64_t in, std::int64_t out) {
    const std::string name = "block" + std::to_string(block) + "_sepconv" + std::to_string(i);
    SepBn s;
    s.conv = keras_layer(name, SeparableConv2d(in, out, 3));
    s.bn = keras_layer(name + "_bn", keras_batch_norm(out));
    return s;
  };
  auto shortcut = [&](int index, std::int64_t in, std::int64_t out) {
    short_conv_.push_back(keras_layer("conv2d_" + std::to_string(index), keras_conv(in, out, 1, 2, 0, false)));
    short_bn_.push_back(keras_layer("batch_normalization_" + std::to_string(index), keras_batch_norm(out)));
  };
  // Entry flow: blocks 2–4, each two separable convolutions, a strided max pool and a
  // strided 1×1 shortcut (registered in Keras's layer order: sepconvs, shortcut conv, its bn).
  const std::int64_t entry[][2] = {{64, 128}, {128, 256}, {256, 728}};
  for (int b = 0; b < 3; ++b) {
    std::vector<SepBn> block;
    block.push_back(sep(b + 2, 1, entry[b][0], entry[b][1]));
    block.push_back(sep(b + 2, 2, entry[b][1], entry[b][1]));
    blocks_.push_back(std::move(block));
    shortcut(4 + b, entry[b][0], entry[b][1]);
  }
  // Middle flow: blocks 5–12, three separable convolutions each, identity shortcut.
  for (int b = 5; b <= 12; ++b) {
    std::vector<SepBn> block;
    for (int i = 1; i <= 3; ++i) block.push_back(sep(b, i, 728, 728));
    blocks_.push_back(std::move(block));
  }
  // Exit flow: block 13 (728 → 1024, pool, shortcut), block 14 (1536, 2048, no shortcut).
  {
    std::vector<SepBn> block;
    block.push_back(sep(13, 1, 728, 728));
    block.push_back(sep(13, 2, 728, 1024));
    blocks_.push_back(std::move(block));
    shortcut(7, 728, 1024);
  }
  {
    std::vector<SepBn> block;
    block.push_back(sep(14, 1, 1024, 1536));
    block.push_back(sep(14, 2, 1536, 2048));
    blocks_.push_back(std::move(block));
  }
  classifier_ = keras_layer("predictions", torch::nn::Linear(2048, 1000));
  classifier_name_ = "predictions";
  eval();
}

std::vector<torch::Tensor> XceptionImpl::feature_maps(const torch::Tensor& input, bool all_stages) {
  SPATIALEMBED_CHECK(input.dim() == 4 && input.size(1) == 3 && input.size(2) >= 71 && input.size(3) >= 71,
                     InvalidArgument, "xception input must be N x 3 x H x W with H, W >= 71, got {}",
                     fmt::join(input.sizes(), " x "));
  auto x = torch::relu(detail::batch_norm(bn1_, conv1_(input)));
  x = torch::relu(detail::batch_norm(bn2_, conv2_(x)));
  // Entry flow (blocks 2–4) and block 13: [relu] sep bn relu sep bn, max pool, + 1×1/2 shortcut.
  auto strided_block = [&](std::vector<SepBn>& block, std::size_t s, bool first_relu) {
    auto residual = detail::batch_norm(short_bn_[s], short_conv_[s](x));
    auto y = first_relu ? torch::relu(x) : x;
    y = detail::batch_norm(block[0].bn, block[0].conv(y));
    y = detail::batch_norm(block[1].bn, block[1].conv(torch::relu(y)));
    return max_pool_same(y, 3, 2) + residual;
  };
  x = strided_block(blocks_[0], 0, false);
  x = strided_block(blocks_[1], 1, true);
  x = strided_block(blocks_[2], 2, true);
  std::vector<torch::Tensor> maps;
  if (all_stages) maps.push_back(x);  // block 4, end of the entry flow
  for (std::size_t b = 3; b < 11; ++b) {  // middle flow, blocks 5–12
    auto y = x;
    for (auto& s : blocks_[b]) y = detail::batch_norm(s.bn, s.conv(torch::relu(y)));
    x = x + y;
  }
  if (all_stages) maps.push_back(x);  // block 12, end of the middle flow
  x = strided_block(blocks_[11], 3, true);
  auto& exit = blocks_[12];
  x = torch::relu(detail::batch_norm(exit[0].bn, exit[0].conv(x)));
  x = torch::relu(detail::batch_norm(exit[1].bn, exit[1].conv(x)));
  maps.push_back(x);
  return maps;
}

}  // namespace spatialembed
