#pragma once
/// @file
/// `ContrastiveOptions`: every parameter of the contrastive image–gene model and its training
/// (model.hpp, trainer.hpp), with its default, unit and range; `validate()` checks them all.
///
/// Recipes of the papers (the defaults follow BLEEP's optimiser on a frozen ResNet-50):
/// - STimage-1K4M (Chen et al. 2024): loss clip, gene_encoder linear, latent_dim 32, lr 5e-5,
///   betas (0.9, 0.98), eps 1e-6, weight_decay 0.2, batch_size 1024, epochs 15.
/// - BLEEP (Xie et al., NeurIPS 2023): loss bleep, gene_encoder projection_head, latent_dim 256,
///   train_backbone all, lr 1e-3, weight_decay 1e-3, betas (0.9, 0.999), eps 1e-8.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "spatialembed/contrastive/augmentation.hpp"
#include "spatialembed/contrastive/distributed.hpp"
#include "spatialembed/contrastive/loss.hpp"
#include "spatialembed/nn/input_transform.hpp"

namespace spatialembed {

/// The gene-expression encoder (and with it the image projection).
enum class GeneEncoder {
  linear,           ///< one Linear(n_genes, latent_dim) (STimage-1K4M); image side Linear(feature_dim, latent_dim)
  projection_head,  ///< BLEEP's head Linear(d, latent) → GELU → Linear(latent, latent) → Dropout → +residual → LayerNorm, on both sides
  mlp,              ///< Linear → GELU → Dropout per `mlp_hidden` width, then Linear(·, latent_dim); image side Linear(feature_dim, latent_dim)
};
GeneEncoder parse_gene_encoder(const std::string& name);  ///< "linear", "projection_head", "mlp"
std::string to_string(GeneEncoder encoder);

/// Which part of the image backbone trains. BatchNorm layers always use their moving
/// statistics (eval mode); their γ and β train with the layers they belong to.
enum class TrainBackbone {
  none,        ///< frozen: only the projections, the gene encoder and logit_scale train
  last_stage,  ///< ResNet-50 stage 5 (res5*/bn5*); Xception's exit flow (block13*, block14*, its shortcut)
  all,         ///< every backbone layer (not the unused ImageNet classifier)
};
TrainBackbone parse_train_backbone(const std::string& name);  ///< "none", "last_stage", "all"
std::string to_string(TrainBackbone train);

/// Learning-rate schedule after the linear warm-up.
enum class LrSchedule {
  cosine,    ///< OpenCLIP's: lr · ½ (1 + cos(π e / E)), e steps after warm-up of E, down to min_lr
  constant,  ///< lr
};
LrSchedule parse_lr_schedule(const std::string& name);  ///< "cosine", "constant"
std::string to_string(LrSchedule schedule);

/// What the trainer reports after each optimiser step.
struct ContrastiveStep {
  std::size_t step = 0;            ///< optimiser steps done, 1-based
  std::size_t total_steps = 0;     ///< steps of the whole run (epochs × steps per epoch)
  std::size_t epoch = 0;           ///< 0-based epoch of this step
  double loss = 0;                 ///< training loss of this step's batch
  double logit_scale = 0;          ///< ln(s) after the step (and its clamp); clip loss only, else 0
  double lr = 0;                   ///< learning rate used by this step
  double samples_per_second = 0;   ///< pairs of this step / its wall time (data preparation included)
  double validation_loss = NAN;    ///< at the last step of an epoch when there are validation pairs, else NaN
};
/// Called after every step; returning false stops training (Cancelled, after a checkpoint).
using ContrastiveCallback = std::function<bool(const ContrastiveStep&)>;

/// Options of `ContrastiveModel` and `ContrastiveTrainer`.
struct ContrastiveOptions {
  // ---- image encoder
  /// "resnet50" (Keras ResNet-50, 2048-d), "xception" (Keras Xception, 2048-d), "torchscript"
  /// (a torch.jit.save module N×3×H×W → N×D), or "features": no network, the image input is
  /// a feature matrix given in PairedData.features (e.g. Embedder output).
  std::string backbone = "resnet50";
  /// Backbone weights, as EmbedderOptions.weights ("" = resnet50's default_weights_path), or
  /// "random": a seeded random initialisation (PyTorch's default distributions), no download.
  std::string weights;
  std::size_t input_size = 0;        ///< square network input side, pixels; 0 = the backbone's (224, 299); required for torchscript
  std::string normalization;         ///< "" = the backbone's; "caffe", "tf", "torch", "none" (input_transform.hpp)
  InputNormalization normalization_constants;  ///< mean and std (RGB, on [0, 1]) for "torch"
  TrainBackbone train_backbone = TrainBackbone::none;  ///< what of the backbone trains ("torchscript": none or all)
  /// Compute the frozen backbone's features once per tile and train on them (only when
  /// train_backbone is none and there is no augmentation; identical results, much faster).
  bool cache_features = true;
  std::size_t feature_batch_size = 64;  ///< tiles per backbone forward pass when caching or encoding; ≥ 1

  // ---- projections and gene encoder
  std::size_t latent_dim = 256;      ///< embedding width; 1 – 65536 (32 reproduces STimage-1K4M)
  GeneEncoder gene_encoder = GeneEncoder::projection_head;
  std::vector<std::size_t> mlp_hidden{1024};  ///< hidden widths of the `mlp` gene encoder; each ≥ 1, at least one
  double dropout = 0.1;              ///< dropout probability in projection_head / mlp; [0, 1)

  // ---- loss
  ContrastiveLoss loss = ContrastiveLoss::clip;
  double logit_scale_init = 2.6592600369327779;  ///< initial ln(s) of the clip loss: ln(1/0.07); finite
  double logit_scale_max = 4.6051701859880914;   ///< clamp of ln(s) to [0, max] after each step: ln 100; ≥ 0 (+inf: no upper clamp)
  bool learn_logit_scale = true;     ///< clip: ln(s) is a trained parameter (else fixed at logit_scale_init)
  double temperature = 1.0;          ///< bleep: τ of the logits and targets; > 0

  // ---- optimisation (AdamW; no weight decay on biases, norm layers and logit_scale)
  double lr = 1e-3;                  ///< peak learning rate; > 0
  std::array<double, 2> betas{0.9, 0.999};  ///< Adam β1, β2; each in [0, 1)
  double eps = 1e-8;                 ///< Adam ε; > 0
  double weight_decay = 1e-3;        ///< decoupled weight decay of the weight matrices / kernels; ≥ 0
  std::size_t warmup_steps = 0;      ///< linear warm-up from lr/warmup_steps to lr, steps; ≥ 0
  LrSchedule schedule = LrSchedule::cosine;  ///< after the warm-up
  double min_lr = 0;                 ///< cosine floor; [0, lr]
  double grad_clip = 0;              ///< max global L2 norm of the gradients; 0 = no clipping; ≥ 0
  std::size_t batch_size = 256;      ///< pairs per step; ≥ 2 and ≤ the training pairs (the last incomplete batch of an epoch is dropped)
  std::size_t epochs = 30;           ///< passes over the training pairs; ≥ 1
  std::uint64_t seed = 0;            ///< initialisation, data order, dropout, augmentation
  int num_threads = 0;               ///< LibTorch intra-op threads and tile preparation; 0 = all cores; ≥ 0
  std::string device = "cpu";        ///< "cpu", "cuda" or "cuda:N" (a CUDA build of LibTorch and a GPU)
  /// CPU results independent of num_threads: a frozen backbone runs one image per thread, and
  /// a backbone that trains runs its convolutions without oneDNN (about 10× slower
  /// convolutions). false: batched oneDNN convolutions; results then differ in the last bits
  /// between thread counts. The heads, losses and optimiser are thread-independent either way.
  bool deterministic = true;

  // ---- augmentation (on the uint8 tiles; disables the feature cache)
  bool flips = false;                ///< random horizontal and vertical flips, each with probability ½
  bool rotations = false;            ///< random rotation by 0, 90, 180 or 270° (square tiles)
  /// Colour jitter as torchvision ColorJitter(brightness, contrast, saturation, hue) on uint8
  /// tiles (augmentation.hpp), after the flip / rotation; all 0 = off.
  double jitter_brightness = 0;      ///< brightness factor in [max(0, 1 − b), 1 + b]; ≥ 0
  double jitter_contrast = 0;        ///< contrast factor in [max(0, 1 − c), 1 + c]; ≥ 0
  double jitter_saturation = 0;      ///< saturation factor in [max(0, 1 − s), 1 + s]; ≥ 0
  double jitter_hue = 0;             ///< hue shift in [−h, h] of a full turn; [0, 0.5]

  // ---- data loader (tiles prepared per step: augmentation or a training backbone)
  /// Threads that prepare (cut, augment, resize, normalise) the next batches while the
  /// current step runs; 0 = prepare each batch on the calling thread when it is needed.
  /// Results do not depend on it. 0 – 64.
  std::size_t loader_threads = 1;
  std::size_t prefetch_batches = 2;  ///< batches prepared ahead with loader_threads ≥ 1; 1 – 64

  // ---- validation and early stopping
  /// Pairs whose PairedData.group is in this list are held out: validation loss after each
  /// epoch (eval mode, batches of batch_size in data order), early stopping.
  std::vector<std::int32_t> validation_groups;
  std::size_t patience = 0;          ///< stop after this many epochs without a lower validation loss; 0 = never
  bool restore_best = true;          ///< end with the parameters of the epoch with the lowest validation loss

  // ---- checkpoints and logs
  std::string checkpoint;            ///< file written after every epoch (and on cancellation); "" = none
  std::size_t checkpoint_every = 0;  ///< also write it every this many steps; 0 = only at epoch ends
  std::string resume;                ///< checkpoint to continue from (bit-identical to an uninterrupted run); "" = start fresh
  std::string log_csv;               ///< per-step CSV (step, epoch, loss, logit_scale, lr, samples_per_second, validation_loss); "" = none
  ContrastiveCallback callback;      ///< after every step; false stops

  // ---- data parallelism (distributed.hpp, docs/distributed.md)
  /// Several processes (torchrun's environment, read by default): batch_size pairs per
  /// process, the loss over the global batch of batch_size × world_size.
  DistributedOptions distributed;

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
  /// The jitter_* fields as ColorJitterOptions.
  ColorJitterOptions color_jitter() const { return {jitter_brightness, jitter_contrast, jitter_saturation, jitter_hue}; }
};

}  // namespace spatialembed
