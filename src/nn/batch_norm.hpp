#pragma once
// BatchNorm2d forward for the Keras backbones, with gradients that do not depend on the
// LibTorch thread count.

#include <ATen/core/grad_mode.h>
#include <torch/nn/modules/batchnorm.h>

namespace spatialembed::detail {

/// `bn(x)`, except when the layer uses its moving statistics (eval mode) and its γ or β
/// trains under autograd: then the per-channel affine map is written out,
/// x · s + (β − mean · s) with s = γ / √(var + ε), so that the γ/β gradients are sums over
/// (N, H, W) in a fixed order; LibTorch's fused CPU kernel splits them by thread count.
inline torch::Tensor batch_norm(torch::nn::BatchNorm2d& bn, const torch::Tensor& x) {
  if (bn->is_training() || !at::GradMode::is_enabled() || !(bn->weight.requires_grad() || bn->bias.requires_grad()))
    return bn(x);
  auto scale = bn->weight * torch::rsqrt(bn->running_var + bn->options.eps());
  auto shift = bn->bias - bn->running_mean * scale;
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

}  // namespace spatialembed::detail
