// Bindings of contrastive/distributed.hpp: DistributedOptions (ContrastiveOptions.distributed),
// the environment as resolved, and the sampler rule. LibTorch-free headers only.

#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/contrastive/distributed.hpp"

namespace spatialembed::bindings {

void bind_distributed(py::module_& m) {
  py::class_<DistributedOptions>(m, "DistributedOptions",
                                 "How a process joins a data-parallel run (contrastive/distributed.hpp); fields left "
                                 "at their defaults are read from torchrun's environment")
      .def(py::init<>())
      .def_readwrite("enabled", &DistributedOptions::enabled, "false: ignore the environment, train as one process")
      .def_readwrite("world_size", &DistributedOptions::world_size, "processes; 0 = $WORLD_SIZE (1 when unset)")
      .def_readwrite("rank", &DistributedOptions::rank, "this process; -1 = $RANK (0 when unset)")
      .def_readwrite("local_rank", &DistributedOptions::local_rank, "rank on this host; -1 = $LOCAL_RANK")
      .def_readwrite("master_addr", &DistributedOptions::master_addr, "store host; \"\" = $MASTER_ADDR (127.0.0.1)")
      .def_readwrite("master_port", &DistributedOptions::master_port, "store port; 0 = $MASTER_PORT (29500)")
      .def_property(
          "backend", [](const DistributedOptions& o) { return to_string(o.backend); },
          [](DistributedOptions& o, const std::string& v) { o.backend = parse_distributed_backend(v); },
          "\"auto\", \"gloo\" or \"nccl\"")
      .def_readwrite("interface", &DistributedOptions::interface,
                     "Gloo network interface (\"lo\" = loopback); \"\" = $GLOO_SOCKET_IFNAME or the host name's")
      .def_readwrite("timeout", &DistributedOptions::timeout, "rendezvous and collective timeout, seconds; > 0")
      .def_readwrite("bucket_mb", &DistributedOptions::bucket_mb, "gradient all-reduce bucket, MiB; > 0")
      .def_readwrite("drop_last", &DistributedOptions::drop_last,
                     "shards: drop the epoch's tail (true) or pad with its first pairs (false)")
      .def("validate", &DistributedOptions::validate);

  m.def(
      "resolve_distributed",
      [](const DistributedOptions& o) {
        const DistributedInfo info = resolve_distributed(o);
        py::dict d;
        d["active"] = info.active;
        d["world_size"] = info.world_size;
        d["rank"] = info.rank;
        d["local_rank"] = info.local_rank;
        d["master_addr"] = info.master_addr;
        d["master_port"] = info.master_port;
        d["agent_store"] = info.agent_store;
        return d;
      },
      py::arg("options"), "Who this process is (a dict), from the options and the environment");
  m.def("distributed_shard", &distributed_shard, py::arg("order"), py::arg("world_size"), py::arg("rank"),
        py::arg("drop_last") = true,
        "This rank's entries of `order` by DistributedSampler's rule (cut or padded to a multiple of world_size, "
        "then every world_size-th entry from rank)");
}

}  // namespace spatialembed::bindings
