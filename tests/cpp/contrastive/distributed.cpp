// Data parallelism (contrastive/distributed.hpp): the sampler rule, options, the global-batch
// losses and their gradients on two ranks joined from two threads over loopback, and a C++
// program (examples/cpp/distributed) launched as two processes against one process with the
// global batch.

#include "spatialembed/contrastive/distributed.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/contrastive/loss.hpp"
#include "spatialembed/contrastive/trainer.hpp"

#define SPATIALEMBED_EXAMPLE_NO_MAIN
#include "../../../examples/cpp/distributed/distributed_train.cpp"

extern char** environ;

namespace se = spatialembed;

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

se::DistributedOptions loopback(int rank, int world, int port, double timeout = 30) {
  se::DistributedOptions o;
  o.world_size = world;
  o.rank = rank;
  o.master_addr = "127.0.0.1";
  o.master_port = port;
  o.interface = "lo";
  o.timeout = timeout;
  return o;
}

// Runs f(rank) on `world` threads, each a rank; rethrows the first exception.
template <class F>
void on_ranks(int world, F f) {
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        f(r);
      } catch (...) {
        errors[static_cast<std::size_t>(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("distributed_shard follows DistributedSampler and covers every pair once", "[contrastive][distributed]") {
  for (const auto& [n, W] : std::vector<std::pair<int, int>>{{64, 2}, {61, 2}, {10, 3}, {7, 4}}) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));  // a seeded permutation, as the trainer's
    std::iota(order.begin(), order.end(), 0);
    se::Rng rng(5, static_cast<std::uint64_t>(n));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    for (bool drop_last : {true, false}) {
      std::vector<int> count(static_cast<std::size_t>(n), 0);
      std::size_t size = 0;
      for (int r = 0; r < W; ++r) {
        const auto shard = se::distributed_shard(order, W, r, drop_last);
        if (r == 0) size = shard.size();
        REQUIRE(shard.size() == size);
        for (std::size_t k = 0; k < shard.size(); ++k) {
          REQUIRE(shard[k] == order[(static_cast<std::size_t>(r) + k * static_cast<std::size_t>(W)) % order.size()]);
          ++count[static_cast<std::size_t>(shard[k])];
        }
      }
      const int total = drop_last ? n / W * W : (n + W - 1) / W * W;
      REQUIRE(static_cast<int>(size) * W == total);
      for (int c : count) REQUIRE(c <= (drop_last ? 1 : 2));
      if (!drop_last || n % W == 0)
        for (int c : count) REQUIRE(c >= 1);
    }
  }
  REQUIRE_THROWS_AS(se::distributed_shard({1, 2}, 2, 2, true), se::InvalidArgument);
  REQUIRE_THROWS_AS(se::distributed_shard({1, 2}, 0, 0, true), se::InvalidArgument);
}

TEST_CASE("DistributedOptions validate", "[contrastive][distributed]") {
  se::DistributedOptions o;
  REQUIRE_NOTHROW(o.validate());
  o.timeout = 0;
  REQUIRE_THROWS_WITH(o.validate(), Catch::Contains("timeout"));
  o = {};
  o.world_size = 2;
  o.rank = 2;
  REQUIRE_THROWS_WITH(o.validate(), Catch::Contains("rank"));
  REQUIRE(se::parse_distributed_backend("gloo") == se::DistributedBackend::gloo);
  REQUIRE(se::to_string(se::DistributedBackend::automatic) == "auto");
  REQUIRE_THROWS_AS(se::parse_distributed_backend("mpi"), se::InvalidArgument);
  o = {};
  o.world_size = 1;
  REQUIRE_THROWS_AS(se::DistributedGroup::join(o), se::InvalidArgument);
}

TEST_CASE("two ranks of B: the global-batch losses and gradients of one batch of 2B", "[contrastive][distributed]") {
  const std::int64_t B = 6, d = 5, W = 2;
  torch::manual_seed(3);
  const auto image = torch::randn({W * B, d}), gene = torch::randn({W * B, d});
  const double ln_s = std::log(1 / 0.07);
  const int port = free_port();
  for (const bool clip : {true, false}) {
    // One process, 2B pairs.
    auto img = image.clone().requires_grad_(), gen = gene.clone().requires_grad_();
    auto scale = torch::full({}, ln_s).requires_grad_();
    auto loss = clip ? se::clip_loss(img, gen, scale) : se::bleep_loss(img * 0.5, gen, 0.7);
    loss.backward();
    // Two ranks (threads), B pairs each.
    std::vector<double> losses(2);
    std::vector<torch::Tensor> img_grad(2), gene_grad(2), scale_grad(2);
    on_ranks(2, [&](int r) {
      auto group = se::DistributedGroup::join(loopback(r, 2, port));
      auto i = image.narrow(0, r * B, B).clone().requires_grad_(), g = gene.narrow(0, r * B, B).clone().requires_grad_();
      auto s = torch::full({}, ln_s).requires_grad_();
      auto l = clip ? se::distributed_clip_loss(*group, i, g, s) : se::distributed_bleep_loss(*group, i * 0.5, g, 0.7);
      l.backward();
      losses[static_cast<std::size_t>(r)] = group->all_reduce_sum(l.item<double>()) / 2;  // the trainer's loss
      img_grad[static_cast<std::size_t>(r)] = i.grad().clone();
      gene_grad[static_cast<std::size_t>(r)] = g.grad().clone();
      // The trainer averages the parameter gradients over the ranks; logit_scale is one.
      std::vector<torch::Tensor> grads{clip ? s.grad().clone() : torch::zeros({})};
      group->all_reduce_mean(grads);
      scale_grad[static_cast<std::size_t>(r)] = grads[0];
    });
    for (int r = 0; r < 2; ++r) {
      INFO((clip ? "clip" : "bleep") << " rank " << r);
      REQUIRE(losses[static_cast<std::size_t>(r)] == Approx(loss.item<double>()).epsilon(1e-6));
      // The gather's backward sums every rank's gradient of rank r's rows: W × the global
      // loss's gradient (its mean over the ranks); the trainer's averaging of the parameter
      // gradients divides by W again, giving one process's parameter gradients.
      REQUIRE(max_abs_diff(img_grad[static_cast<std::size_t>(r)] / W, img.grad().narrow(0, r * B, B)) < 1e-6);
      REQUIRE(max_abs_diff(gene_grad[static_cast<std::size_t>(r)] / W, gen.grad().narrow(0, r * B, B)) < 1e-6);
      if (clip) REQUIRE(scale_grad[static_cast<std::size_t>(r)].item<double>() == Approx(scale.grad().item<double>()).epsilon(1e-5));
    }
  }
}

TEST_CASE("a C++ program on two processes equals one process with the global batch", "[contrastive][distributed]") {
  const auto dir = std::filesystem::temp_directory_path() / ("spatialembed_dist_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string prefix = (dir / "run").string();
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 2; ++rank) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (std::string v : {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), std::string("WORLD_SIZE=2"),
                          std::string("MASTER_ADDR=127.0.0.1"), "MASTER_PORT=" + std::to_string(port),
                          std::string("GLOO_SOCKET_IFNAME=lo")})
      env.push_back(v);
    std::vector<char*> envp, argv;
    for (auto& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{SPATIALEMBED_DISTRIBUTED_TRAIN, prefix, "64", "8", "2", "clip"};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) == 0);
    pids.push_back(pid);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        for (pid_t p : pids) ::kill(p, SIGKILL);
        FAIL("the two processes did not finish within 120 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  // The same program's functions, one process, batch 16.
  std::vector<float> expression, features;
  synthetic_pairs(64, 10, 24, 1, expression, features);
  se::PairedData data;
  data.n = 64;
  data.expression = expression.data();
  data.n_genes = 10;
  data.features = features.data();
  data.feature_dim = 24;
  se::ContrastiveOptions o = example_options(16, 2, "clip");
  o.distributed.enabled = false;
  std::vector<double> losses;
  o.callback = [&](const se::ContrastiveStep& s) {
    losses.push_back(s.loss);
    return true;
  };
  se::ContrastiveTrainer trainer(o);
  trainer.fit(data);
  std::vector<double> expected(losses);
  for (float v : trainer.model().encode_genes(expression.data(), 64, false)) expected.push_back(v);
  for (float v : trainer.model().encode_features(features.data(), 64, false)) expected.push_back(v);
  expected.push_back(trainer.model().logit_scale());
  for (int rank = 0; rank < 2; ++rank) {
    std::ifstream in(prefix + "." + std::to_string(rank) + ".txt");
    REQUIRE(in.good());
    std::size_t world = 0, steps = 0;
    in >> world >> steps;
    REQUIRE(world == 2);
    REQUIRE(steps == losses.size());
    std::vector<double> got;
    for (double v; in >> v;) got.push_back(v);
    REQUIRE(got.size() == expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      INFO("rank " << rank << " value " << k);
      REQUIRE(got[k] == Approx(expected[k]).epsilon(1e-5).margin(1e-6));
    }
  }
  std::filesystem::remove_all(dir);
}
