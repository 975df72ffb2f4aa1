// ContrastiveOptions: enum spellings and validation (no LibTorch).

#include "spatialembed/contrastive/options.hpp"

#include <fmt/ranges.h>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

ContrastiveLoss parse_contrastive_loss(const std::string& name) {
  if (name == "clip") return ContrastiveLoss::clip;
  if (name == "bleep") return ContrastiveLoss::bleep;
  throw InvalidArgument(fmt::format("loss must be \"clip\" or \"bleep\", got \"{}\"", name));
}
std::string to_string(ContrastiveLoss loss) { return loss == ContrastiveLoss::clip ? "clip" : "bleep"; }

GeneEncoder parse_gene_encoder(const std::string& name) {
  if (name == "linear") return GeneEncoder::linear;
  if (name == "projection_head") return GeneEncoder::projection_head;
  if (name == "mlp") return GeneEncoder::mlp;
  throw InvalidArgument(
      fmt::format("gene_encoder must be \"linear\", \"projection_head\" or \"mlp\", got \"{}\"", name));
}
std::string to_string(GeneEncoder encoder) {
  switch (encoder) {
    case GeneEncoder::linear: return "linear";
    case GeneEncoder::projection_head: return "projection_head";
    case GeneEncoder::mlp: return "mlp";
  }
  return "?";
}

TrainBackbone parse_train_backbone(const std::string& name) {
  if (name == "none") return TrainBackbone::none;
  if (name == "last_stage") return TrainBackbone::last_stage;
  if (name == "all") return TrainBackbone::all;
  throw InvalidArgument(fmt::format("train_backbone must be \"none\", \"last_stage\" or \"all\", got \"{}\"", name));
}
std::string to_string(TrainBackbone train) {
  switch (train) {
    case TrainBackbone::none: return "none";
    case TrainBackbone::last_stage: return "last_stage";
    case TrainBackbone::all: return "all";
  }
  return "?";
}

LrSchedule parse_lr_schedule(const std::string& name) {
  if (name == "cosine") return LrSchedule::cosine;
  if (name == "constant") return LrSchedule::constant;
  throw InvalidArgument(fmt::format("schedule must be \"cosine\" or \"constant\", got \"{}\"", name));
}
std::string to_string(LrSchedule schedule) { return schedule == LrSchedule::cosine ? "cosine" : "constant"; }

void ContrastiveOptions::validate() const {
  const char* S = "ContrastiveOptions";
  SPATIALEMBED_CHECK(backbone == "resnet50" || backbone == "xception" || backbone == "torchscript" ||
                         backbone == "features",
                     InvalidArgument,
                     "{}.backbone must be \"resnet50\", \"xception\", \"torchscript\" or \"features\", got \"{}\"", S,
                     backbone);
  SPATIALEMBED_CHECK(backbone != "torchscript" || (!weights.empty() && weights != "random"), InvalidArgument,
                     "{}.weights must name the TorchScript file for backbone \"torchscript\", got \"{}\"", S, weights);
  SPATIALEMBED_CHECK(backbone != "torchscript" || input_size > 0, InvalidArgument,
                     "{}.input_size must be given (> 0) for backbone \"torchscript\"", S);
  SPATIALEMBED_CHECK(backbone != "torchscript" || train_backbone != TrainBackbone::last_stage, InvalidArgument,
                     "{}.train_backbone \"last_stage\" is for resnet50 / xception; a TorchScript backbone trains "
                     "\"all\" or \"none\"",
                     S);
  SPATIALEMBED_CHECK(backbone != "features" || train_backbone == TrainBackbone::none, InvalidArgument,
                     "{}.train_backbone must be \"none\" for backbone \"features\" (there is no network), got \"{}\"",
                     S, to_string(train_backbone));
  SPATIALEMBED_CHECK(backbone != "features" || (!flips && !rotations), InvalidArgument,
                     "{}.flips / rotations need tiles; backbone \"features\" has none", S);
  color_jitter().validate("ContrastiveOptions.jitter");
  SPATIALEMBED_CHECK(backbone != "features" || !color_jitter().enabled(), InvalidArgument,
                     "{}.jitter_* need tiles; backbone \"features\" has none", S);
  SPATIALEMBED_CHECK(loader_threads <= 64, InvalidArgument, "{}.loader_threads must be in [0, 64], got {}", S,
                     loader_threads);
  SPATIALEMBED_CHECK(prefetch_batches >= 1 && prefetch_batches <= 64, InvalidArgument,
                     "{}.prefetch_batches must be in [1, 64], got {}", S, prefetch_batches);
  const std::size_t min_size = backbone == "xception" ? 71 : backbone == "resnet50" ? 32 : 1;
  SPATIALEMBED_CHECK(input_size == 0 || (input_size >= min_size && input_size <= 4096), InvalidArgument,
                     "{}.input_size must be 0 (the backbone's) or in [{}, 4096] for {}, got {}", S, min_size, backbone,
                     input_size);
  if (!normalization.empty()) parse_normalization(normalization);
  normalization_constants.validate();
  SPATIALEMBED_CHECK(feature_batch_size >= 1, InvalidArgument, "{}.feature_batch_size must be >= 1, got {}", S,
                     feature_batch_size);

  SPATIALEMBED_CHECK(latent_dim >= 1 && latent_dim <= 65536, InvalidArgument,
                     "{}.latent_dim must be in [1, 65536], got {}", S, latent_dim);
  if (gene_encoder == GeneEncoder::mlp) {
    SPATIALEMBED_CHECK(!mlp_hidden.empty(), InvalidArgument,
                       "{}.mlp_hidden must list at least one hidden width for gene_encoder \"mlp\"", S);
    for (std::size_t w : mlp_hidden)
      SPATIALEMBED_CHECK(w >= 1 && w <= 65536, InvalidArgument, "{}.mlp_hidden widths must be in [1, 65536], got [{}]",
                         S, fmt::join(mlp_hidden, ", "));
  }
  SPATIALEMBED_CHECK(dropout >= 0 && dropout < 1, InvalidArgument, "{}.dropout must be in [0, 1), got {}", S, dropout);

  SPATIALEMBED_CHECK(std::isfinite(logit_scale_init), InvalidArgument, "{}.logit_scale_init must be finite, got {}", S,
                     logit_scale_init);
  SPATIALEMBED_CHECK(logit_scale_max >= 0, InvalidArgument, "{}.logit_scale_max must be >= 0 (+inf: no clamp), got {}",
                     S, logit_scale_max);
  SPATIALEMBED_CHECK(std::isfinite(temperature) && temperature > 0, InvalidArgument,
                     "{}.temperature must be > 0, got {}", S, temperature);

  SPATIALEMBED_CHECK(std::isfinite(lr) && lr > 0, InvalidArgument, "{}.lr must be > 0, got {}", S, lr);
  for (double b : betas)
    SPATIALEMBED_CHECK(b >= 0 && b < 1, InvalidArgument, "{}.betas must each be in [0, 1), got ({}, {})", S, betas[0],
                       betas[1]);
  SPATIALEMBED_CHECK(std::isfinite(eps) && eps > 0, InvalidArgument, "{}.eps must be > 0, got {}", S, eps);
  SPATIALEMBED_CHECK(std::isfinite(weight_decay) && weight_decay >= 0, InvalidArgument,
                     "{}.weight_decay must be >= 0, got {}", S, weight_decay);
  SPATIALEMBED_CHECK(min_lr >= 0 && min_lr <= lr, InvalidArgument, "{}.min_lr must be in [0, lr = {}], got {}", S, lr,
                     min_lr);
  SPATIALEMBED_CHECK(std::isfinite(grad_clip) && grad_clip >= 0, InvalidArgument,
                     "{}.grad_clip must be >= 0 (0 = off), got {}", S, grad_clip);
  SPATIALEMBED_CHECK(batch_size >= 2, InvalidArgument,
                     "{}.batch_size must be >= 2 (a contrastive loss needs negatives), got {}", S, batch_size);
  SPATIALEMBED_CHECK(epochs >= 1, InvalidArgument, "{}.epochs must be >= 1, got {}", S, epochs);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "{}.num_threads must be >= 0 (0 = all cores), got {}", S,
                     num_threads);
  SPATIALEMBED_CHECK(device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0, InvalidArgument,
                     "{}.device must be \"cpu\", \"cuda\" or \"cuda:N\", got \"{}\"", S, device);
  SPATIALEMBED_CHECK(checkpoint_every == 0 || !checkpoint.empty(), InvalidArgument,
                     "{}.checkpoint_every = {} needs a checkpoint file", S, checkpoint_every);
  distributed.validate();
}

}  // namespace spatialembed
