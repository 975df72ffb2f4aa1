#pragma once
/// @file
/// Data-parallel contrastive training on torch.distributed's c10d (LibTorch): a process group
/// from the environment torchrun sets (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR`,
/// `MASTER_PORT`), rendezvous through a c10d `TCPStore` (torchrun's agent store when
/// `TORCHELASTIC_USE_AGENT_STORE` is set, as torch.distributed's `env://` does), collectives by
/// `ProcessGroupGloo` (CPU) or `ProcessGroupNCCL` (CUDA builds of LibTorch that have it).
///
/// What the trainer does with it (trainer.hpp, docs/distributed.md):
/// - parameters and buffers are broadcast from rank 0 before the first step;
/// - each rank reads its shard of the pairs (`distributed_shard`, the rule of PyTorch's
///   DistributedSampler over the trainer's seeded per-epoch permutation);
/// - the loss is OpenCLIP's `gather_with_grad` + `local_loss`: the image and gene embeddings of
///   every rank are all-gathered (`DistributedGroup::all_gather_with_grad`, whose backward gives
///   each rank its slice of the summed gradient) and each rank computes its rows of the global
///   logits (`distributed_clip_loss`, `distributed_bleep_loss`);
/// - gradients are all-reduced and averaged (bucketed flat buffers), so a step on W ranks × B
///   pairs equals a step of one process on W·B pairs;
/// - checkpoints and logs are written by rank 0 and read by every rank.
///
/// The header needs no LibTorch (tensors are forward-declared); the implementation is in
/// spatialembed::nn.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace at {
class Tensor;
}  // namespace at

namespace spatialembed {

/// The c10d backend of the collectives.
enum class DistributedBackend {
  automatic,  ///< "auto": nccl when the trainer's device is CUDA and LibTorch has NCCL, else gloo
  gloo,       ///< ProcessGroupGloo (CPU tensors; TCP)
  nccl,       ///< ProcessGroupNCCL (CUDA tensors; needs a LibTorch built with NCCL)
};
/// Parses "auto", "gloo" or "nccl"; throws InvalidArgument otherwise.
DistributedBackend parse_distributed_backend(const std::string& name);
std::string to_string(DistributedBackend backend);

/// How a process joins a data-parallel run. Every field left at its default is read from the
/// environment torchrun (or Slurm, see docs/distributed.md) sets; with no such environment the
/// run is a single process and nothing distributed happens.
struct DistributedOptions {
  /// false: ignore the environment and train as one process.
  bool enabled = true;
  int world_size = 0;           ///< processes in the run; 0 = $WORLD_SIZE (1 when unset); ≥ 0
  int rank = -1;                ///< this process, 0 … world_size − 1; −1 = $RANK (0 when unset)
  int local_rank = -1;          ///< rank on this host (CUDA device "cuda" → cuda:local_rank); −1 = $LOCAL_RANK (else rank)
  std::string master_addr;      ///< host of rank 0's store; "" = $MASTER_ADDR (127.0.0.1 when unset)
  int master_port = 0;          ///< TCP port of the store; 0 = $MASTER_PORT (29500 when unset); 0 – 65535
  DistributedBackend backend = DistributedBackend::automatic;
  /// Network interface of Gloo's connections ("lo" = loopback, "eth0", "ib0", …); "" =
  /// $GLOO_SOCKET_IFNAME, else the address this host's name resolves to (as torch.distributed).
  std::string interface;
  /// Seconds to wait for the rendezvous and for any one collective; a rank that died or never
  /// joined makes the others throw after at most this long. > 0.
  double timeout = 300;
  double bucket_mb = 25;        ///< gradient all-reduce bucket size, MiB (DDP's bucket_cap_mb); > 0
  /// Shards: drop the tail of the epoch's permutation so every rank has n / W pairs (true), or
  /// pad it with its first pairs to a multiple of W (false; DistributedSampler's default).
  bool drop_last = true;

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Who this process is, from the options and the environment.
struct DistributedInfo {
  bool active = false;          ///< world_size > 1 and enabled
  int world_size = 1, rank = 0, local_rank = 0;
  std::string master_addr;
  int master_port = 0;
  bool agent_store = false;     ///< torchrun's agent hosts the store ($TORCHELASTIC_USE_AGENT_STORE=True)
  std::string store_prefix;     ///< key prefix in the store ("/worker/attempt_N" under torchrun's agent store)
};
/// Resolves the options against the environment. Throws InvalidArgument for a malformed
/// variable (naming it) or a rank outside [0, world_size).
DistributedInfo resolve_distributed(const DistributedOptions& options);

/// The pairs of one rank in one epoch, by PyTorch's DistributedSampler rule: `order` (the
/// epoch's permutation, the same on every rank) is cut to a multiple of `world_size`
/// (`drop_last`) or padded with its own first entries, and rank r takes entries r, r + W,
/// r + 2W, …. Throws InvalidArgument for world_size < 1 or a rank outside [0, world_size).
std::vector<std::int64_t> distributed_shard(const std::vector<std::int64_t>& order, int world_size, int rank,
                                            bool drop_last);

/// A c10d process group (one per process and options: `join` returns the same group again).
class DistributedGroup {
 public:
  /// Joins the group of `options` (TCPStore rendezvous + Gloo / NCCL), waiting up to
  /// options.timeout seconds for the other ranks; `device_is_cuda` picks nccl for backend auto.
  /// The group lives until the process ends, like torch.distributed's default group. Throws
  /// InvalidArgument for inactive options (world size 1) or nccl without a CUDA LibTorch with
  /// NCCL; Error when the rendezvous fails or times out (naming the address, port and rank).
  static std::shared_ptr<DistributedGroup> join(const DistributedOptions& options, bool device_is_cuda = false);

  int rank() const;
  int world_size() const;
  int local_rank() const;
  std::string backend() const;   ///< "gloo" or "nccl"
  double timeout() const;        ///< seconds

  /// Blocks until every rank arrives. Every collective throws Error when a rank died, or did
  /// not arrive within the timeout, naming the operation and this rank.
  void barrier();
  /// Copies rank `root`'s values of `tensors` into every rank's (in place, flattened in buckets).
  void broadcast(const std::vector<at::Tensor>& tensors, int root = 0);
  /// Replaces each tensor by the mean over the ranks (in place; flat buffers of at most
  /// bucket_mb MiB, one all-reduce each).
  void all_reduce_mean(const std::vector<at::Tensor>& tensors, double bucket_mb = 25);
  /// Sum of `value` over the ranks.
  double all_reduce_sum(double value);
  /// Replaces `tensor` (contiguous) by its sum over the ranks, in place.
  void all_reduce_sum(const at::Tensor& tensor);
  /// Rows of every rank's `x` (each rank B × …, the same shape), in rank order: W·B × …; no autograd.
  at::Tensor all_gather(const at::Tensor& x);
  /// As all_gather, recorded by autograd: the backward all-reduces (sums) the gradient of the
  /// W·B rows and returns this rank its B rows (torch.distributed.nn.all_gather, OpenCLIP's
  /// gather_with_grad).
  at::Tensor all_gather_with_grad(const at::Tensor& x);

  /// Wall time spent in all-gathers and in all-reduces since the group was joined, seconds.
  double gather_seconds() const;
  double reduce_seconds() const;

  struct Impl;
  explicit DistributedGroup(std::unique_ptr<Impl> impl);
  ~DistributedGroup();
  DistributedGroup(const DistributedGroup&) = delete;
  DistributedGroup& operator=(const DistributedGroup&) = delete;

 private:
  std::unique_ptr<Impl> impl_;
};

/// This rank's share of the CLIP loss of the global batch (OpenCLIP ClipLoss with
/// gather_with_grad and local_loss): `image`, `gene` B × d (this rank's pairs, not yet
/// normalised), `logit_scale` ln(s). With U, V the normalised embeddings of all W·B pairs
/// (all-gathered with grad) and u, v this rank's rows, it returns
/// ½ [CE(s u Vᵀ, rank·B + i) + CE(s v Uᵀ, rank·B + i)], averaged over the B rows. The mean of
/// this over the ranks is clip_loss of the W·B pairs, and the averaged gradients are its gradients.
at::Tensor distributed_clip_loss(DistributedGroup& group, const at::Tensor& image, const at::Tensor& gene,
                                 const at::Tensor& logit_scale);

/// This rank's share of BLEEP's loss of the global batch: its rows i of
/// ½ [−Σ_j T_ij log softmax(L_i)_j − Σ_j T_ji log softmax(Lᵀ_i)_j] averaged over its B rows, with
/// the global L = G Iᵀ / τ and T = softmax_rows(τ (I Iᵀ + G Gᵀ) / 2). T's columns need every
/// row's normaliser: each rank computes its rows' log-sum-exp and all-gathers it with grad.
at::Tensor distributed_bleep_loss(DistributedGroup& group, const at::Tensor& image, const at::Tensor& gene,
                                  double temperature = 1.0);

}  // namespace spatialembed
