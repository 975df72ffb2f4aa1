#pragma once
/// @file
/// `ContrastiveTrainer`: trains a `ContrastiveModel` on image–expression pairs with a
/// contrastive loss (loss.hpp), AdamW, warm-up + cosine schedule, gradient clipping,
/// augmentation, validation with early stopping, checkpoints that resume bit-identically.
///
/// Determinism: the initialisation, the data order of epoch e (a shuffle by Rng(seed, e)),
/// the augmentation of pair i in epoch e and the dropout masks of step t are all functions of
/// the seed, so a run resumed from a checkpoint equals the uninterrupted run, and on the CPU
/// the result does not depend on num_threads (LibTorch's CPU kernels used here reduce in a
/// fixed order for the sizes of a step; see docs/contrastive.md).
///
/// The header needs no LibTorch; the implementation is in spatialembed::nn.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spatialembed/contrastive/model.hpp"
#include "spatialembed/contrastive/options.hpp"

namespace spatialembed {

/// n image–expression pairs, read in place (the caller owns the memory during `fit`).
struct PairedData {
  std::size_t n = 0;                     ///< number of pairs
  const std::uint8_t* tiles = nullptr;   ///< n × height × width × 3 uint8 RGB tiles, row-major (HWC); for a backbone network
  std::size_t height = 0, width = 0;     ///< tile size, pixels
  const float* features = nullptr;       ///< or n × feature_dim float32 backbone features, row-major (backbone "features")
  std::size_t feature_dim = 0;
  const float* expression = nullptr;     ///< n × n_genes float32, log-normalised expression, row-major
  std::size_t n_genes = 0;
  std::vector<std::int32_t> group;       ///< section index of each pair (n entries), or empty (all group 0)

  /// Throws InvalidArgument for null pointers, sizes 0, a group of the wrong length, and NaN
  /// or inf in expression / features (naming the pair and the gene or column).
  void validate() const;
};

/// What `fit` did.
struct ContrastiveFitResult {
  std::size_t steps = 0;                 ///< optimiser steps in total (including those before a resume)
  std::size_t epochs = 0;                ///< epochs completed
  std::size_t train_pairs = 0, validation_pairs = 0;
  double final_loss = NAN;               ///< mean training loss of the last epoch
  double best_validation_loss = NAN;     ///< lowest validation loss (NaN without validation pairs)
  std::size_t best_epoch = 0;            ///< 0-based epoch of best_validation_loss
  bool stopped_early = false;            ///< patience ran out
  bool features_cached = false;          ///< the frozen backbone ran once per tile
  double feature_seconds = 0;            ///< wall time of the feature cache
  double train_seconds = 0;              ///< wall time of the optimiser steps (this call), data preparation included
  double samples_per_second = 0;         ///< training pairs per second over this call's steps
  std::vector<double> epoch_loss;        ///< mean training loss per epoch (all epochs, also before a resume)
  std::vector<double> validation_loss;   ///< validation loss per epoch (empty without validation)
  // Data parallelism (distributed.hpp); samples_per_second counts the pairs of every rank.
  std::size_t world_size = 1;            ///< processes that trained together
  std::size_t rank = 0;                  ///< this process's rank
  double gather_seconds = 0;             ///< wall time in all-gathers (embeddings, features), this rank
  double reduce_seconds = 0;             ///< wall time in all-reduces (gradients, loss), this rank
};

class ContrastiveTrainer {
 public:
  /// Validates the options; the model is built by `fit` (it needs the data's gene count).
  explicit ContrastiveTrainer(ContrastiveOptions options);
  ~ContrastiveTrainer();
  ContrastiveTrainer(ContrastiveTrainer&&) noexcept;
  ContrastiveTrainer& operator=(ContrastiveTrainer&&) noexcept;

  /// Trains on `data` (pairs of options.validation_groups held out). With options.resume,
  /// continues that checkpoint. Throws InvalidArgument for invalid data (see
  /// PairedData::validate), batch_size larger than the training pairs, validation_groups
  /// that hold no pair or every pair, tiles where backbone "features" needs features (or
  /// the reverse), rotations of non-square tiles; FormatError for a checkpoint of another
  /// architecture, gene count or training set; Cancelled when the callback returns false.
  ContrastiveFitResult fit(const PairedData& data);

  const ContrastiveOptions& options() const;
  bool fitted() const;
  /// The trained model. Throws Error before `fit`.
  const ContrastiveModel& model() const;
  ContrastiveModel& model();

 private:
  ContrastiveOptions options_;
  std::optional<ContrastiveModel> model_;
};

}  // namespace spatialembed
