// DistributedOptions: enum spellings, validation, the torchrun environment and the sampler
// rule (no LibTorch).

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "spatialembed/common/error.hpp"
#include "spatialembed/contrastive/distributed.hpp"

namespace spatialembed {

DistributedBackend parse_distributed_backend(const std::string& name) {
  if (name == "auto") return DistributedBackend::automatic;
  if (name == "gloo") return DistributedBackend::gloo;
  if (name == "nccl") return DistributedBackend::nccl;
  throw InvalidArgument(fmt::format("distributed backend must be \"auto\", \"gloo\" or \"nccl\", got \"{}\"", name));
}
std::string to_string(DistributedBackend backend) {
  switch (backend) {
    case DistributedBackend::automatic: return "auto";
    case DistributedBackend::gloo: return "gloo";
    case DistributedBackend::nccl: return "nccl";
  }
  return "?";
}

void DistributedOptions::validate() const {
  SPATIALEMBED_CHECK(world_size >= 0, InvalidArgument,
                     "DistributedOptions.world_size must be >= 0 (0 = $WORLD_SIZE), got {}", world_size);
  SPATIALEMBED_CHECK(rank >= -1, InvalidArgument, "DistributedOptions.rank must be >= -1 (-1 = $RANK), got {}", rank);
  SPATIALEMBED_CHECK(world_size == 0 || rank < world_size, InvalidArgument,
                     "DistributedOptions.rank must be in [0, world_size = {}), got {}", world_size, rank);
  SPATIALEMBED_CHECK(local_rank >= -1, InvalidArgument,
                     "DistributedOptions.local_rank must be >= -1 (-1 = $LOCAL_RANK), got {}", local_rank);
  SPATIALEMBED_CHECK(master_port >= 0 && master_port <= 65535, InvalidArgument,
                     "DistributedOptions.master_port must be in [0, 65535] (0 = $MASTER_PORT), got {}", master_port);
  SPATIALEMBED_CHECK(std::isfinite(timeout) && timeout > 0, InvalidArgument,
                     "DistributedOptions.timeout must be > 0 seconds, got {}", timeout);
  SPATIALEMBED_CHECK(std::isfinite(bucket_mb) && bucket_mb > 0, InvalidArgument,
                     "DistributedOptions.bucket_mb must be > 0 MiB, got {}", bucket_mb);
}

namespace {

// An integer environment variable, or `fallback` when unset or empty.
long env_int(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value, &end, 10);
  SPATIALEMBED_CHECK(errno == 0 && end && *end == '\0', InvalidArgument,
                     "environment variable {}=\"{}\" is not an integer", name, value);
  return v;
}

std::string env_string(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

}  // namespace

DistributedInfo resolve_distributed(const DistributedOptions& o) {
  o.validate();
  DistributedInfo info;
  if (!o.enabled) return info;
  info.world_size = o.world_size > 0 ? o.world_size : static_cast<int>(env_int("WORLD_SIZE", 1));
  SPATIALEMBED_CHECK(info.world_size >= 1, InvalidArgument, "WORLD_SIZE must be >= 1, got {}", info.world_size);
  info.rank = o.rank >= 0 ? o.rank : static_cast<int>(env_int("RANK", 0));
  SPATIALEMBED_CHECK(info.rank >= 0 && info.rank < info.world_size, InvalidArgument,
                     "rank {} (DistributedOptions.rank or $RANK) is outside [0, world size {})", info.rank,
                     info.world_size);
  info.local_rank = o.local_rank >= 0 ? o.local_rank : static_cast<int>(env_int("LOCAL_RANK", info.rank));
  SPATIALEMBED_CHECK(info.local_rank >= 0, InvalidArgument, "LOCAL_RANK must be >= 0, got {}", info.local_rank);
  info.master_addr = !o.master_addr.empty() ? o.master_addr : env_string("MASTER_ADDR", "127.0.0.1");
  info.master_port = o.master_port > 0 ? o.master_port : static_cast<int>(env_int("MASTER_PORT", 29500));
  SPATIALEMBED_CHECK(info.master_port > 0 && info.master_port <= 65535, InvalidArgument,
                     "MASTER_PORT must be in [1, 65535], got {}", info.master_port);
  // torchrun's static rendezvous: its agent hosts the store and every worker is a client
  // (torch.distributed.rendezvous._create_c10d_store).
  info.agent_store = o.master_port == 0 && env_string("TORCHELASTIC_USE_AGENT_STORE", "") == "True";
  if (info.agent_store) info.store_prefix = "/worker/attempt_" + env_string("TORCHELASTIC_RESTART_COUNT", "0");
  info.active = info.world_size > 1;
  return info;
}

std::vector<std::int64_t> distributed_shard(const std::vector<std::int64_t>& order, int world_size, int rank,
                                            bool drop_last) {
  SPATIALEMBED_CHECK(world_size >= 1, InvalidArgument, "distributed_shard: world_size must be >= 1, got {}",
                     world_size);
  SPATIALEMBED_CHECK(rank >= 0 && rank < world_size, InvalidArgument,
                     "distributed_shard: rank must be in [0, {}), got {}", world_size, rank);
  const std::size_t W = static_cast<std::size_t>(world_size), n = order.size();
  std::size_t total = drop_last ? n / W * W : (n + W - 1) / W * W;
  std::vector<std::int64_t> out;
  if (n == 0) return out;
  out.reserve(total / W);
  for (std::size_t i = static_cast<std::size_t>(rank); i < total; i += W) out.push_back(order[i % n]);
  return out;
}

}  // namespace spatialembed
