#pragma once
/// @file
/// `ContrastiveModel`: an image encoder (a backbone + a projection) and a gene-expression
/// encoder that map a spot's H&E tile and its expression vector into one `latent_dim` space
/// (CLIP / STimage-1K4M / BLEEP style), plus the clip loss's learnable logit_scale.
///
/// Image side: tile (H × W × 3 uint8) → bilinear resize to `input_size`, the backbone's
/// normalisation (input_transform.hpp) → backbone → pooled features (feature_dim, 2048 for
/// the Keras networks) → projection (Linear, or BLEEP's projection head) → latent_dim.
/// Gene side: log-normalised expression (n_genes float32) → linear / projection head / MLP.
///
/// The header needs no LibTorch; the implementation is in spatialembed::nn.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spatialembed/contrastive/options.hpp"

namespace spatialembed {

/// Model of `ContrastiveOptions`' model fields. Thread-compatible: one call at a time.
class ContrastiveModel {
 public:
  /// A new model for `n_genes` genes: the backbone with its weights (or "random"), every
  /// other layer initialised from `options.seed` (PyTorch's default distributions).
  /// `feature_dim` is the width of PairedData.features for backbone "features" (ignored
  /// otherwise). Throws InvalidArgument for invalid options, n_genes = 0, or feature_dim = 0
  /// with backbone "features"; IOError / FormatError for missing or unfitting weights.
  ContrastiveModel(const ContrastiveOptions& options, std::size_t n_genes, std::size_t feature_dim = 0);
  ~ContrastiveModel();
  ContrastiveModel(ContrastiveModel&&) noexcept;
  ContrastiveModel& operator=(ContrastiveModel&&) noexcept;

  /// Reads a model written by `save` or a trainer checkpoint. The file holds the model
  /// options, the trained layers and, when train_backbone is not none, the backbone; a frozen
  /// backbone is re-read from the `weights` it names (or re-made from the seed for "random").
  /// `device` and `num_threads` of the result are those given here. Throws IOError for a
  /// missing file, FormatError for a file that is not such a model.
  static ContrastiveModel load(const std::string& path, const std::string& device = "cpu", int num_threads = 0);
  /// Writes the model (see `load`). Throws IOError when the file cannot be written.
  void save(const std::string& path) const;

  const ContrastiveOptions& options() const;
  std::size_t n_genes() const;
  std::size_t latent_dim() const;
  std::size_t feature_dim() const;   ///< backbone output width (or PairedData.features width)
  std::size_t input_size() const;    ///< network input side, pixels (0 for backbone "features")
  double logit_scale() const;        ///< ln(s) of the clip loss
  std::size_t parameter_count(bool trainable_only = false) const;
  /// One line naming the architecture (backbone, what trains, encoders, widths, n_genes);
  /// checkpoints of a different architecture are refused with both lines in the message.
  std::string architecture() const;

  /// Backbone features of tiles `n × height × width × 3` uint8 (row-major, HWC) → n × feature_dim
  /// float32, row-major. Throws InvalidArgument for backbone "features" or a size-0 tile.
  std::vector<float> image_features(const std::uint8_t* tiles, std::size_t n, std::size_t height,
                                    std::size_t width) const;
  /// Tiles → n × latent_dim float32 image embeddings (eval mode), L2-normalised rows when
  /// `normalize`.
  std::vector<float> encode_images(const std::uint8_t* tiles, std::size_t n, std::size_t height, std::size_t width,
                                   bool normalize = true) const;
  /// Backbone features `n × feature_dim` float32 → n × latent_dim image embeddings.
  std::vector<float> encode_features(const float* features, std::size_t n, bool normalize = true) const;
  /// Expression `n × n_genes` float32 (log-normalised, as trained) → n × latent_dim gene
  /// embeddings. Throws InvalidArgument for NaN or inf.
  std::vector<float> encode_genes(const float* expression, std::size_t n, bool normalize = true) const;

  struct Impl;  ///< LibTorch modules (src/contrastive/network.hpp)
  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }

 private:
  explicit ContrastiveModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class ContrastiveTrainer;
};

}  // namespace spatialembed
