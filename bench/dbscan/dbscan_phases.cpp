// Times each DBSCAN phase (core points, clusters, border points) on the benchmark's
// synthetic data: 5 Gaussian blobs (σ = 1) + uniform noise in 3-D, min_samples = 10.
//   bench_dbscan_phases [n_points] [threads] [algorithm]
#include <spatialembed/spatialembed.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 200000;
  const int threads = argc > 2 ? std::stoi(argv[2]) : 2;
  const std::string algorithm = argc > 3 ? argv[3] : "auto";
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

  for (double eps : {0.3, 0.6, 0.9}) {
    using clock = std::chrono::steady_clock;
    auto last = clock::now();
    const auto start = last;
    std::vector<double> phase_seconds;
    spatialembed::DbscanOptions options;
    options.eps = eps;
    options.min_samples = 10;
    options.num_threads = threads;
    options.algorithm = spatialembed::parse_dbscan_algorithm(algorithm);
    options.progress = [&](std::size_t, std::size_t) {
      const auto now = clock::now();
      phase_seconds.push_back(std::chrono::duration<double>(now - last).count());
      last = now;
      return true;
    };
    const auto result = spatialembed::DBSCAN(options).fit(spatialembed::ConstMatrixF(x.data(), n, d));
    const double total = std::chrono::duration<double>(clock::now() - start).count();
    fmt::print("eps {:.1f} {:>6}: total {:.3f} s (core {:.3f}, clusters {:.3f}, border {:.3f}), {} clusters\n", eps,
               spatialembed::to_string(result.algorithm), total, phase_seconds.at(0), phase_seconds.at(1),
               phase_seconds.at(2), result.n_clusters);
  }
}
