#pragma once
/// @file
/// The two contrastive image–gene losses.
///
/// - `clip`: symmetric InfoNCE of CLIP (Radford et al., ICML 2021) as STimage-1K4M (Chen et al.
///   2024) and OpenCLIP use it. With the rows of `image` and `gene` L2-normalised (u_i, v_j) and
///   s = exp(logit_scale), the logits are L = s · U Vᵀ (n × n) and
///   loss = ½ [ CE(L, diag) + CE(Lᵀ, diag) ], CE(L, diag) = −(1/n) Σ_i log softmax(L_i)_i.
/// - `bleep`: BLEEP's soft-target loss (Xie et al., NeurIPS 2023; bowang-lab/BLEEP models.py),
///   on the embeddings as given (BLEEP does not normalise them), temperature τ (BLEEP: 1):
///   logits L = G Iᵀ / τ, targets T = softmax_rows((I Iᵀ + G Gᵀ) / 2 · τ),
///   loss = (1/n) Σ_i ½ [ −Σ_j T_ij log softmax(L_i)_j − Σ_j T_ji log softmax(Lᵀ_i)_j ].
///   The targets are not detached (as in BLEEP), so gradients also flow through them.
///
/// The tensor versions (autograd) need LibTorch at the call site; this header only declares them.

#include <cstddef>
#include <string>

namespace at {
class Tensor;
}  // namespace at

namespace spatialembed {

/// Which contrastive loss trains the encoders.
enum class ContrastiveLoss {
  clip,   ///< symmetric InfoNCE with a learnable logit_scale (CLIP, STimage-1K4M, OpenCLIP)
  bleep,  ///< BLEEP's soft targets from the in-modality similarities
};
/// Parses "clip" or "bleep"; throws InvalidArgument otherwise.
ContrastiveLoss parse_contrastive_loss(const std::string& name);
std::string to_string(ContrastiveLoss loss);

/// CLIP loss of n pairs: `image`, `gene` n × d float tensors (not yet normalised: the rows are
/// L2-normalised here), `logit_scale` a 0-dimensional tensor holding ln(s). Returns a
/// 0-dimensional tensor with autograd to all three. Throws InvalidArgument for shapes that
/// differ, n < 1 or d < 1.
at::Tensor clip_loss(const at::Tensor& image, const at::Tensor& gene, const at::Tensor& logit_scale);

/// BLEEP loss of n pairs: `image`, `gene` n × d float tensors (used as given), temperature τ > 0.
at::Tensor bleep_loss(const at::Tensor& image, const at::Tensor& gene, double temperature = 1.0);

/// The CLIP loss of plain arrays: `image`, `gene` n × d float32, row-major; ln(s) = logit_scale.
double clip_loss(const float* image, const float* gene, std::size_t n, std::size_t d, double logit_scale);

/// The BLEEP loss of plain arrays: `image`, `gene` n × d float32, row-major; temperature τ > 0.
double bleep_loss(const float* image, const float* gene, std::size_t n, std::size_t d, double temperature = 1.0);

}  // namespace spatialembed
