// The clip and bleep losses (ATen only: autograd records through these functions).

#include "spatialembed/contrastive/loss.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

void check_pair(const at::Tensor& image, const at::Tensor& gene, const char* what) {
  SPATIALEMBED_CHECK(image.dim() == 2 && gene.dim() == 2 && image.sizes() == gene.sizes(), InvalidArgument,
                     "{}: image and gene embeddings must both be n x d, got {} and {}", what,
                     fmt::join(image.sizes(), " x "), fmt::join(gene.sizes(), " x "));
  SPATIALEMBED_CHECK(image.size(0) >= 1 && image.size(1) >= 1, InvalidArgument,
                     "{}: embeddings must have n >= 1 rows and d >= 1 columns, got {}", what,
                     fmt::join(image.sizes(), " x "));
}

// Row-wise soft-target cross-entropy of BLEEP: −Σ_j targets_ij log softmax(logits_i)_j.
at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& targets) {
  return (-targets * at::log_softmax(logits, 1)).sum(1);
}

at::Tensor wrap(const float* p, std::size_t n, std::size_t d) {
  SPATIALEMBED_CHECK(p != nullptr, InvalidArgument, "loss: embedding array is null");
  return at::from_blob(const_cast<float*>(p), {static_cast<std::int64_t>(n), static_cast<std::int64_t>(d)},
                       at::TensorOptions().dtype(at::kFloat));
}

}  // namespace

at::Tensor clip_loss(const at::Tensor& image, const at::Tensor& gene, const at::Tensor& logit_scale) {
  check_pair(image, gene, "clip_loss");
  SPATIALEMBED_CHECK(logit_scale.numel() == 1, InvalidArgument, "clip_loss: logit_scale must be one value, got {}",
                     logit_scale.numel());
  // F.normalize(x, dim=1): x / max(‖x‖, 1e-12).
  auto u = image / image.norm(2, {1}, true).clamp_min(1e-12);
  auto v = gene / gene.norm(2, {1}, true).clamp_min(1e-12);
  // s broadcast as an n × 1 column: its gradient is then summed row by row and over the n rows
  // (a fixed order), not as one reduction of n² terms split by thread count.
  const std::int64_t n = image.size(0);
  auto scale = logit_scale.reshape({1}).exp().expand({n}).unsqueeze(1);
  auto logits = at::mm(u, v.t()) * scale;
  auto image_loss = -at::log_softmax(logits, 1).diagonal().mean();
  auto gene_loss = -at::log_softmax(logits.t(), 1).diagonal().mean();
  return (image_loss + gene_loss) / 2;
}

at::Tensor bleep_loss(const at::Tensor& image, const at::Tensor& gene, double temperature) {
  check_pair(image, gene, "bleep_loss");
  SPATIALEMBED_CHECK(std::isfinite(temperature) && temperature > 0, InvalidArgument,
                     "bleep_loss: temperature must be > 0, got {}", temperature);
  auto logits = at::mm(gene, image.t()) / temperature;
  auto images_similarity = at::mm(image, image.t());
  auto spots_similarity = at::mm(gene, gene.t());
  auto targets = at::softmax((images_similarity + spots_similarity) / 2 * temperature, 1);
  auto spots_loss = soft_cross_entropy(logits, targets);
  auto images_loss = soft_cross_entropy(logits.t(), targets.t());
  return ((images_loss + spots_loss) / 2.0).mean();
}

double clip_loss(const float* image, const float* gene, std::size_t n, std::size_t d, double logit_scale) {
  SPATIALEMBED_CHECK(std::isfinite(logit_scale), InvalidArgument, "clip_loss: logit_scale must be finite, got {}",
                     logit_scale);
  at::NoGradGuard no_grad;
  return clip_loss(wrap(image, n, d), wrap(gene, n, d), at::scalar_tensor(logit_scale, at::kFloat)).item<double>();
}

double bleep_loss(const float* image, const float* gene, std::size_t n, std::size_t d, double temperature) {
  at::NoGradGuard no_grad;
  return bleep_loss(wrap(image, n, d), wrap(gene, n, d), temperature).item<double>();
}

}  // namespace spatialembed
