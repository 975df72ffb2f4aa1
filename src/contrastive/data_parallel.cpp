// The trainer's data-parallel hooks.

#include "contrastive/data_parallel.hpp"

#include <algorithm>
#include <cstdlib>

#include "spatialembed/contrastive/loss.hpp"

namespace spatialembed::detail {

DataParallel::DataParallel(const ContrastiveOptions& options, bool device_is_cuda) : options_(options) {
  if (!resolve_distributed(options.distributed).active) return;
  group_ = DistributedGroup::join(options.distributed, device_is_cuda);

  gather0_ = group_->gather_seconds();
  reduce0_ = group_->reduce_seconds();
}

int DataParallel::num_threads(int num_threads) const {
  // 0 means all cores to one process; under a launcher that sets OMP_NUM_THREADS (torchrun:
  // 1 per process) every process taking all cores would oversubscribe them.
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (group_ && num_threads == 0 && omp && std::atoi(omp) > 0) return std::atoi(omp);
  return num_threads;
}

std::vector<std::int64_t> DataParallel::shard(const std::vector<std::int64_t>& order) const {
  if (!group_) return order;
  return distributed_shard(order, world_size(), rank(), options_.distributed.drop_last);
}

void DataParallel::broadcast(const std::vector<torch::Tensor>& tensors) {
  if (group_) group_->broadcast(tensors, 0);
}

torch::Tensor DataParallel::loss(const torch::Tensor& image, const torch::Tensor& gene,
                                 const torch::Tensor& logit_scale) {
  const bool clip = options_.loss == ContrastiveLoss::clip;
  if (!group_) return clip ? clip_loss(image, gene, logit_scale) : bleep_loss(image, gene, options_.temperature);
  return clip ? distributed_clip_loss(*group_, image, gene, logit_scale)
              : distributed_bleep_loss(*group_, image, gene, options_.temperature);
}

void DataParallel::average_gradients(const std::vector<torch::Tensor>& params) {
  if (!group_) return;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    auto& grad = const_cast<torch::Tensor&>(p).mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    grads.push_back(grad);
  }
  group_->all_reduce_mean(grads, options_.distributed.bucket_mb);
}

double DataParallel::mean(double value) {
  return group_ ? group_->all_reduce_sum(value) / world_size() : value;
}

bool DataParallel::all(bool value) {
  return group_ ? group_->all_reduce_sum(value ? 0.0 : 1.0) == 0.0 : value;
}

torch::Tensor DataParallel::sharded_features(std::size_t n,
                                             const std::function<torch::Tensor(std::size_t, std::size_t)>& compute) {
  if (!group_ || n < static_cast<std::size_t>(world_size())) return compute(0, n);
  const std::size_t W = static_cast<std::size_t>(world_size());
  const std::size_t chunk = (n + W - 1) / W;
  const std::size_t begin = std::min(n, static_cast<std::size_t>(rank()) * chunk);
  const std::size_t count = std::min(chunk, n - begin);
  // A rank past the end computes one row (for the width) and sends zeros.
  torch::Tensor mine = count > 0 ? compute(begin, count) : compute(n - 1, 1).zero_();
  if (count < chunk) {  // equal shapes for the all-gather: pad the last ranks with zero rows
    auto padded = torch::zeros({static_cast<std::int64_t>(chunk), mine.size(1)}, mine.options());
    if (count > 0) padded.narrow(0, 0, static_cast<std::int64_t>(count)).copy_(mine);
    mine = padded;
  }
  return group_->all_gather(mine).narrow(0, 0, static_cast<std::int64_t>(n)).contiguous();
}

}  // namespace spatialembed::detail
