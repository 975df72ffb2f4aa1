// Times each HDBSCAN phase (core distances, spanning tree, cluster tree) next to DBSCAN on
// the DBSCAN benchmark's synthetic data: 5 Gaussian blobs (σ = 1) + uniform noise in 3-D.
//   bench_hdbscan_phases [n_points] [threads] [min_cluster_size] [repeats]
// Prints wall and CPU seconds (CPU time is steadier on a shared machine).
#include <spatialembed/spatialembed.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace {

struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  std::pair<double, double> lap() {
    const auto w = std::chrono::steady_clock::now();
    const auto c = std::clock();
    const std::pair<double, double> out{std::chrono::duration<double>(w - wall).count(),
                                        static_cast<double>(c - cpu) / CLOCKS_PER_SEC};
    wall = w;
    cpu = c;
    return out;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 200000;
  const int threads = argc > 2 ? std::stoi(argv[2]) : 2;
  const std::int64_t min_cluster_size = argc > 3 ? std::stol(argv[3]) : 10;
  const int repeats = argc > 4 ? std::stoi(argv[4]) : 3;
  const std::size_t d = 3, noise = n / 10;

  spatialembed::Rng rng(0);
  std::vector<double> centers(5 * d);
  for (auto& c : centers) c = 20.0 * rng.uniform();
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = rng.below(5);
    for (std::size_t k = 0; k < d; ++k) {
      x[i * d + k] = static_cast<float>(i < noise ? 20.0 * rng.uniform() : centers[c * d + k] + rng.normal());
    }
  }
  const spatialembed::ConstMatrixF X(x.data(), n, d);

  double best_h = 1e300, best_h_cpu = 1e300;
  for (int r = 0; r < repeats; ++r) {
    Timer timer, total;
    std::vector<std::pair<double, double>> phases;
    spatialembed::HdbscanOptions options;
    options.min_cluster_size = min_cluster_size;
    options.num_threads = threads;
    options.progress = [&](std::size_t, std::size_t) {
      phases.push_back(timer.lap());
      return true;
    };
    const auto result = spatialembed::HDBSCAN(options).fit(X);
    const auto t = total.lap();
    best_h = std::min(best_h, t.first);
    best_h_cpu = std::min(best_h_cpu, t.second);
    fmt::print("hdbscan mcs {}: total {:.3f} s wall, {:.3f} s cpu (core {:.3f}/{:.3f}, tree {:.3f}/{:.3f}, "
               "clusters {:.3f}/{:.3f}), {} clusters\n",
               min_cluster_size, t.first, t.second, phases.at(0).first, phases.at(0).second, phases.at(1).first,
               phases.at(1).second, phases.at(2).first, phases.at(2).second, result.n_clusters);
  }
  for (double eps : {0.3, 0.6, 0.9}) {
    double best = 1e300, best_cpu = 1e300;
    std::int32_t clusters = 0;
    for (int r = 0; r < repeats; ++r) {
      spatialembed::DbscanOptions options;
      options.eps = eps;
      options.min_samples = 10;
      options.num_threads = threads;
      Timer total;
      clusters = spatialembed::DBSCAN(options).fit(X).n_clusters;
      const auto t = total.lap();
      best = std::min(best, t.first);
      best_cpu = std::min(best_cpu, t.second);
    }
    fmt::print("dbscan eps {:.1f}: {:.3f} s wall, {:.3f} s cpu, {} clusters; hdbscan / dbscan = {:.2f} wall, {:.2f} cpu\n",
               eps, best, best_cpu, clusters, best_h / best, best_h_cpu / best_cpu);
  }
}
