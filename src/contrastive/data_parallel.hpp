#pragma once
// The trainer's data-parallel hooks (distributed.hpp): one object per fit, inert for a single
// process, so that the training loop reads the same with and without torchrun.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "spatialembed/contrastive/distributed.hpp"
#include "spatialembed/contrastive/options.hpp"

namespace spatialembed::detail {

class DataParallel {
 public:
  /// Joins the group of options.distributed when the run has more than one process.
  DataParallel(const ContrastiveOptions& options, bool device_is_cuda);

  bool active() const { return group_ != nullptr; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->world_size() : 1; }
  /// Rank 0 (or a single process): writes checkpoints and logs.
  bool main() const { return rank() == 0; }

  /// The LibTorch threads of this process for options.num_threads: 0 (all cores) becomes
  /// $OMP_NUM_THREADS when distributed and it is set.
  int num_threads(int num_threads) const;
  /// This rank's pairs of the epoch's permutation (all of them for one process).
  std::vector<std::int64_t> shard(const std::vector<std::int64_t>& order) const;
  /// Makes every rank's `tensors` (parameters, buffers) rank 0's.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  /// The loss of this rank's batch: its share of the global batch's loss when distributed.
  torch::Tensor loss(const torch::Tensor& image, const torch::Tensor& gene, const torch::Tensor& logit_scale);
  /// Averages the gradients of `params` over the ranks (undefined gradients count as zeros).
  void average_gradients(const std::vector<torch::Tensor>& params);
  /// Mean of `value` over the ranks.
  double mean(double value);
  /// True when `value` is true on every rank.
  bool all(bool value);
  /// The row features of all n pairs, each rank computing a contiguous share of them with
  /// `compute(begin, count)` → count × D, then all-gathered (rank r: rows [r·c, (r+1)·c)).
  torch::Tensor sharded_features(std::size_t n, const std::function<torch::Tensor(std::size_t, std::size_t)>& compute);

  double gather_seconds() const { return group_ ? group_->gather_seconds() - gather0_ : 0.0; }
  double reduce_seconds() const { return group_ ? group_->reduce_seconds() - reduce0_ : 0.0; }

 private:
  const ContrastiveOptions& options_;
  std::shared_ptr<DistributedGroup> group_;
  double gather0_ = 0, reduce0_ = 0;
};

}  // namespace spatialembed::detail
