// DistributedGroup (c10d TCPStore + ProcessGroupGloo / ProcessGroupNCCL), the all-gather with
// autograd, and the global-batch losses. Compiled with USE_C10D_GLOO (Debian's LibTorch is
// built with it; its c10d headers then need libgloo-dev).

#include "spatialembed/contrastive/distributed.hpp"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SPATIALEMBED_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

using Clock = std::chrono::steady_clock;

struct DistributedGroup::Impl {
  DistributedInfo info;
  std::string backend;
  double timeout = 0;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  double gather_seconds = 0, reduce_seconds = 0;

  // Waits for `work`, turning a failure (a peer died, a timeout) into an Error that says so.
  void wait(const char* what, const c10::intrusive_ptr<c10d::Work>& work) {
    run(what, [&] { work->wait(); });
  }
  template <class F>
  void run(const char* what, F&& f) {
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const c10::Error& e) {
      fail(what, e.what_without_backtrace());
    } catch (const std::exception& e) {
      fail(what, e.what());
    }
  }
  [[noreturn]] void fail(const char* what, const std::string& why) {
    throw Error(fmt::format(
        "distributed {} failed on rank {} of {} ({} via {}:{}, timeout {} s): another process of the run died, did "
        "not arrive within the timeout, or cannot be reached: {}",
        what, info.rank, info.world_size, backend, info.master_addr, info.master_port, timeout, why));
  }
  void all_reduce_sum(const at::Tensor& flat) {
    std::vector<at::Tensor> tensors{flat};
    const auto t0 = Clock::now();
    wait("all-reduce", pg->allreduce(tensors));
    reduce_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
};

namespace {

// Tensors in consecutive groups of at most `bytes` (at least one tensor each).
template <class F>
void for_buckets(const std::vector<at::Tensor>& tensors, double bytes, F&& f) {
  std::size_t begin = 0;
  while (begin < tensors.size()) {
    std::size_t end = begin;
    double size = 0;
    while (end < tensors.size() &&
           (end == begin || size + static_cast<double>(tensors[end].numel() * tensors[end].element_size()) <= bytes)) {
      size += static_cast<double>(tensors[end].numel() * tensors[end].element_size());
      ++end;
    }
    f(begin, end);
    begin = end;
  }
}

at::Tensor flatten(const std::vector<at::Tensor>& tensors, std::size_t begin, std::size_t end) {
  std::vector<at::Tensor> parts;
  for (std::size_t i = begin; i < end; ++i) parts.push_back(tensors[i].detach().reshape({-1}));
  return at::cat(parts);
}

void unflatten(const at::Tensor& flat, const std::vector<at::Tensor>& tensors, std::size_t begin, std::size_t end) {
  at::NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const auto n = tensors[i].numel();
    tensors[i].detach().copy_(flat.narrow(0, offset, n).view(tensors[i].sizes()));
    offset += n;
  }
}

std::string group_key(const DistributedInfo& info, const std::string& backend, const std::string& interface) {
  return fmt::format("{}:{}/{}/{}/{}/{}/{}", info.master_addr, info.master_port, info.store_prefix, info.rank,
                     info.world_size, backend, interface);
}

}  // namespace

std::shared_ptr<DistributedGroup> DistributedGroup::join(const DistributedOptions& options, bool device_is_cuda) {
  const DistributedInfo info = resolve_distributed(options);
  SPATIALEMBED_CHECK(info.active, InvalidArgument,
                     "DistributedGroup::join: the run has one process (world size 1, or distributed disabled); "
                     "set WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT (torchrun does) or DistributedOptions");
  std::string backend = options.backend == DistributedBackend::nccl || (options.backend == DistributedBackend::automatic &&
                                                                        device_is_cuda)
                            ? "nccl"
                            : "gloo";
#ifndef SPATIALEMBED_WITH_NCCL
  SPATIALEMBED_CHECK(!(options.backend == DistributedBackend::nccl), InvalidArgument,
                     "DistributedOptions.backend \"nccl\": this build of spatialembed has no NCCL (configure with "
                     "SPATIALEMBED_WITH_NCCL=ON against a CUDA LibTorch built with NCCL); use \"gloo\"");
  if (backend == "nccl") backend = "gloo";  // auto on a CUDA device without NCCL: Gloo (CUDA tensors through CPU)
#endif
  std::string interface = options.interface;
  if (interface.empty()) {
    const char* env = std::getenv("GLOO_SOCKET_IFNAME");
    if (env) interface = env;
  }

  static std::mutex mutex;
  static auto* groups = new std::map<std::string, std::shared_ptr<DistributedGroup>>();  // process lifetime
  static std::map<std::string, int> incarnations;
  const std::string key = group_key(info, backend, interface);
  int incarnation = 0;
  {
    // Not held during the rendezvous: ranks may join from threads of one process (tests).
    std::lock_guard<std::mutex> lock(mutex);
    auto found = groups->find(key);
    if (found != groups->end()) return found->second;
    incarnation = incarnations[key]++;
  }

  auto impl = std::make_unique<Impl>();
  impl->info = info;
  impl->backend = backend;
  impl->timeout = options.timeout;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(options.timeout * 1000)));
  impl->run("rendezvous (TCPStore)", [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(info.master_port);
    so.isServer = !info.agent_store && info.rank == 0;
    so.numWorkers = static_cast<std::size_t>(info.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    so.multiTenant = true;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(info.master_addr, so);
    if (!info.store_prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(info.store_prefix, store);
    // A group joined again after a failure gets keys of its own.
    impl->store = c10::make_intrusive<c10d::PrefixStore>(fmt::format("spatialembed/{}", incarnation), store);
    impl->store->setTimeout(timeout);
  });
  impl->run("rendezvous (process group)", [&] {
    if (backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (!interface.empty()) {
        std::size_t begin = 0;  // a comma-separated list, as GLOO_SOCKET_IFNAME
        while (begin <= interface.size()) {
          const std::size_t end = std::min(interface.find(',', begin), interface.size());
          if (end > begin)
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface.substr(begin, end - begin)));
          begin = end + 1;
        }
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      opts->threads = 2;
      impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, info.rank, info.world_size, opts);
    } else {
#ifdef SPATIALEMBED_WITH_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, info.rank, info.world_size, opts);
#endif
    }
  });
  auto group = std::make_shared<DistributedGroup>(std::move(impl));
  group->barrier();  // every rank is there
  std::lock_guard<std::mutex> lock(mutex);
  groups->emplace(key, group);
  return group;
}

DistributedGroup::DistributedGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DistributedGroup::~DistributedGroup() = default;

int DistributedGroup::rank() const { return impl_->info.rank; }
int DistributedGroup::world_size() const { return impl_->info.world_size; }
int DistributedGroup::local_rank() const { return impl_->info.local_rank; }
std::string DistributedGroup::backend() const { return impl_->backend; }
double DistributedGroup::timeout() const { return impl_->timeout; }
double DistributedGroup::gather_seconds() const { return impl_->gather_seconds; }
double DistributedGroup::reduce_seconds() const { return impl_->reduce_seconds; }

void DistributedGroup::barrier() {
  // An all-reduce of one value rather than c10d's barrier, whose Gloo version (1.13) allocates
  // a CUDA-less dummy tensor per call; both wait for every rank.
  auto one = at::ones({1}, at::kFloat);
  impl_->all_reduce_sum(one);
}

void DistributedGroup::broadcast(const std::vector<at::Tensor>& tensors, int root) {
  SPATIALEMBED_CHECK(root >= 0 && root < world_size(), InvalidArgument, "broadcast: root {} outside [0, {})", root,
                     world_size());
  for_buckets(tensors, 25.0 * (1 << 20), [&](std::size_t begin, std::size_t end) {
    std::vector<at::Tensor> flat{flatten(tensors, begin, end).contiguous()};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    impl_->wait("broadcast", impl_->pg->broadcast(flat, opts));
    unflatten(flat[0], tensors, begin, end);
  });
}

void DistributedGroup::all_reduce_mean(const std::vector<at::Tensor>& tensors, double bucket_mb) {
  const double W = world_size();
  for_buckets(tensors, bucket_mb * (1 << 20), [&](std::size_t begin, std::size_t end) {
    auto flat = flatten(tensors, begin, end).contiguous();
    impl_->all_reduce_sum(flat);
    flat.div_(W);
    unflatten(flat, tensors, begin, end);
  });
}

void DistributedGroup::all_reduce_sum(const at::Tensor& tensor) {
  SPATIALEMBED_CHECK(tensor.is_contiguous(), InvalidArgument, "all_reduce_sum: the tensor must be contiguous");
  impl_->all_reduce_sum(tensor);
}

double DistributedGroup::all_reduce_sum(double value) {
  auto t = at::full({1}, value, at::kDouble);
  impl_->all_reduce_sum(t);
  return t.item<double>();
}

at::Tensor DistributedGroup::all_gather(const at::Tensor& x) {
  const auto t0 = Clock::now();
  auto input = x.detach().contiguous();
  std::vector<at::Tensor> inputs{input};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < world_size(); ++r) outputs[0].push_back(at::empty_like(input));
  impl_->wait("all-gather", impl_->pg->allgather(outputs, inputs));
  impl_->gather_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  return at::cat(outputs[0], 0);
}

namespace {

// torch.distributed.nn's all_gather: forward gathers, backward sums every rank's gradient of
// the gathered rows and keeps this rank's slice.
struct AllGatherWithGrad : public torch::autograd::Function<AllGatherWithGrad> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, std::int64_t group) {
    ctx->saved_data["group"] = group;
    ctx->saved_data["rows"] = x.size(0);
    return reinterpret_cast<DistributedGroup*>(group)->all_gather(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* group = reinterpret_cast<DistributedGroup*>(ctx->saved_data["group"].toInt());
    const std::int64_t rows = ctx->saved_data["rows"].toInt();
    auto grad = grads[0].contiguous().clone();
    group->all_reduce_sum(grad);
    return {grad.narrow(0, group->rank() * rows, rows), at::Tensor()};
  }
};

at::Tensor local_rows_labels(const DistributedGroup& group, std::int64_t rows, const at::Device& device) {
  return at::arange(rows, at::TensorOptions().dtype(at::kLong).device(device)) + group.rank() * rows;
}

}  // namespace

at::Tensor DistributedGroup::all_gather_with_grad(const at::Tensor& x) {
  return AllGatherWithGrad::apply(x, reinterpret_cast<std::int64_t>(this));
}

at::Tensor distributed_clip_loss(DistributedGroup& group, const at::Tensor& image, const at::Tensor& gene,
                                 const at::Tensor& logit_scale) {
  SPATIALEMBED_CHECK(image.dim() == 2 && image.sizes() == gene.sizes() && image.size(0) >= 1, InvalidArgument,
                     "distributed_clip_loss: image and gene embeddings must both be B x d, got {} and {}",
                     fmt::join(image.sizes(), " x "), fmt::join(gene.sizes(), " x "));
  auto u = image / image.norm(2, {1}, true).clamp_min(1e-12);
  auto v = gene / gene.norm(2, {1}, true).clamp_min(1e-12);
  auto all_u = group.all_gather_with_grad(u);
  auto all_v = group.all_gather_with_grad(v);
  const std::int64_t B = image.size(0);
  auto scale = logit_scale.reshape({1}).exp().expand({B}).unsqueeze(1);
  auto labels = local_rows_labels(group, B, image.device()).unsqueeze(1);
  auto image_logits = at::mm(u, all_v.t()) * scale;  // this rank's rows of s U Vᵀ
  auto gene_logits = at::mm(v, all_u.t()) * scale;   // this rank's rows of s V Uᵀ
  auto image_loss = -at::log_softmax(image_logits, 1).gather(1, labels).mean();
  auto gene_loss = -at::log_softmax(gene_logits, 1).gather(1, labels).mean();
  return (image_loss + gene_loss) / 2;
}

at::Tensor distributed_bleep_loss(DistributedGroup& group, const at::Tensor& image, const at::Tensor& gene,
                                  double temperature) {
  SPATIALEMBED_CHECK(image.dim() == 2 && image.sizes() == gene.sizes() && image.size(0) >= 1, InvalidArgument,
                     "distributed_bleep_loss: image and gene embeddings must both be B x d, got {} and {}",
                     fmt::join(image.sizes(), " x "), fmt::join(gene.sizes(), " x "));
  SPATIALEMBED_CHECK(std::isfinite(temperature) && temperature > 0, InvalidArgument,
                     "distributed_bleep_loss: temperature must be > 0, got {}", temperature);
  auto all_image = group.all_gather_with_grad(image);
  auto all_gene = group.all_gather_with_grad(gene);
  auto logits = at::mm(gene, all_image.t()) / temperature;     // rows i of L = G Iᵀ / τ
  auto logits_t = at::mm(image, all_gene.t()) / temperature;   // rows i of Lᵀ
  // Rows i of the symmetric S = τ (I Iᵀ + G Gᵀ) / 2; T = softmax_rows(S). Column i of T is
  // T_ji = exp(S_ij − lse_j): the normalisers of every row, gathered with their gradients.
  auto s = (at::mm(image, all_image.t()) + at::mm(gene, all_gene.t())) / 2 * temperature;
  auto lse = at::logsumexp(s, {1}, true);
  auto all_lse = group.all_gather_with_grad(lse);  // W·B × 1
  auto targets = at::exp(s - lse);
  auto targets_t = at::exp(s - all_lse.t());
  auto spots_loss = (-targets * at::log_softmax(logits, 1)).sum(1);
  auto images_loss = (-targets_t * at::log_softmax(logits_t, 1)).sum(1);
  return ((images_loss + spots_loss) / 2.0).mean();
}

}  // namespace spatialembed
