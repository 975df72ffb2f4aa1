#pragma once
// The LibTorch side of ContrastiveModel: encoders, backbone, parameter selection, state I/O.
// Private to spatialembed::nn (and its tests).

#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/contrastive/model.hpp"
#include "spatialembed/nn/keras_backbone.hpp"

namespace spatialembed {

namespace detail {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// LibTorch's intra-op thread count is global to the process: set it for one call only.
struct TorchThreads {
  int previous = at::get_num_threads();
  explicit TorchThreads(int num_threads) {
    const int n = resolve_num_threads(num_threads);
    if (n != previous) at::set_num_threads(n);
  }
  ~TorchThreads() {
    if (at::get_num_threads() != previous) at::set_num_threads(previous);
  }
  TorchThreads(const TorchThreads&) = delete;
  TorchThreads& operator=(const TorchThreads&) = delete;
};

// Inverted dropout whose mask comes from `rng` (one uniform per element, row-major), so that
// a step's masks are a function of the seed and the step; no dropout when rng is null.
torch::Tensor dropout(const torch::Tensor& x, double p, Rng* rng);

// LayerNorm over the last dimension (biased variance, ε = 1e-5, as torch.nn.LayerNorm) from
// elementary ops: LibTorch's fused CPU kernel sums γ/β gradients in per-thread blocks, so its
// result depends on the thread count; row-wise and column-wise reductions here do not.
class LayerNormImpl : public torch::nn::Module {
 public:
  explicit LayerNormImpl(std::int64_t dim, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm);

// Σ g² over the gradients of `params` in double precision, summed in a fixed order (CPU), and
// PyTorch's clip_grad_norm_ rule: scale all by max_norm / (norm + 1e-6) when that is < 1.
// Returns the norm before clipping.
double clip_gradients(const std::vector<torch::Tensor>& params, double max_norm);

// One side's head: Linear (linear), BLEEP's projection head (projection, fc, layer_norm), or
// an MLP (layers.0 … layers.L). Dropout masks from the Rng passed to forward (null = eval).
class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(GeneEncoder kind, std::int64_t in, std::int64_t out, const std::vector<std::size_t>& hidden,
              double dropout);
  torch::Tensor forward(const torch::Tensor& x, Rng* rng = nullptr);
  GeneEncoder kind;
  double p;
  torch::nn::Linear projection{nullptr}, fc{nullptr};
  LayerNorm layer_norm{nullptr};
  std::vector<torch::nn::Linear> layers;
};
TORCH_MODULE(Encoder);

}  // namespace detail

struct ContrastiveModel::Impl {
  ContrastiveOptions options;
  std::size_t n_genes = 0, feature_dim = 0, input_size = 0;
  InputNormalization normalization;
  torch::Device device{torch::kCPU};

  // Backbone: a Keras network, a TorchScript module (forward + its parameters), or none.
  std::shared_ptr<KerasBackboneImpl> keras;
  std::function<torch::Tensor(const torch::Tensor&)> script;
  detail::NamedTensors script_parameters;

  detail::Encoder image_head{nullptr}, gene_head{nullptr};
  torch::Tensor logit_scale;  // 0-dimensional ln(s)

  bool has_network() const { return keras || script; }

  // Backbone features of a network-ready batch (N×3×S×S on the device) → N×feature_dim.
  torch::Tensor backbone_forward(const torch::Tensor& x) const;
  // Tiles `indices` of `tiles` (H × W × 3 each) → N×3×S×S float32 on the CPU, prepared on
  // num_threads threads; `transform(k, tile, out)` may replace tile k by an augmented copy.
  torch::Tensor prepare_tiles(const std::uint8_t* tiles, const std::vector<std::int64_t>& indices, std::size_t height,
                              std::size_t width,
                              const std::function<const std::uint8_t*(std::size_t, const std::uint8_t*,
                                                                      std::vector<std::uint8_t>&)>& transform,
                              int num_threads = -1) const;  // -1: options.num_threads
  // Features of tiles [0, n) in eval mode, no grad, batches of feature_batch_size → n×F (CPU).
  torch::Tensor features_of(const std::uint8_t* tiles, std::size_t n, std::size_t height, std::size_t width) const;

  // Parameters that the optimiser updates, by name (backbone ones prefixed "backbone.").
  detail::NamedTensors trainable_parameters() const;
  // Everything a model file holds: heads (parameters and buffers), logit_scale and, when
  // the backbone trains, its parameters and buffers.
  detail::NamedTensors saved_state() const;
  // Train mode for the heads (the backbone stays in eval mode: BatchNorm moving statistics).
  void set_training(bool on);

  std::string architecture() const;
  std::string config_json() const;
  void write(torch::serialize::OutputArchive& archive) const;
  // Copies the archive's state into this model (same architecture); `source` names the file.
  void read_state(torch::serialize::InputArchive& archive, const std::string& source);
};

namespace detail {
// Builds the model (backbone with its weights, heads initialised from the seed).
std::unique_ptr<ContrastiveModel::Impl> make_model(const ContrastiveOptions& options, std::size_t n_genes,
                                                   std::size_t feature_dim);
// Reads the model options and sizes of a model file / checkpoint.
void read_config(torch::serialize::InputArchive& archive, const std::string& source, ContrastiveOptions& options,
                 std::size_t& n_genes, std::size_t& feature_dim);
// Opens a model file / checkpoint; IOError when missing, FormatError when not one.
void open_archive(torch::serialize::InputArchive& archive, const std::string& path);
// torch::Device of a validated device string (InvalidArgument when CUDA is unavailable).
torch::Device parse_device(const std::string& device, const char* field);
}  // namespace detail

}  // namespace spatialembed
