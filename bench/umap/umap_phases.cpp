// Times UMAP's phases on the benchmark's synthetic 60,000 x 784 set (10 clusters on a 20-d
// manifold, tanh-lifted, plus noise; bench_umap.py's generator, C++ random numbers) or a
// 50,000 x 50 Gaussian mixture: NN-descent, fuzzy set, spectral init, SGD layout.
//   bench_umap_phases [manifold|mixture] [threads] [repeats] [knn cache file] [trust queries]
// The kNN graph is read from the cache file when it exists (else computed and written), so
// the layout can be timed alone, best of `repeats`; trustworthiness T(10) on `trust queries`
// sampled points when given (it costs more than the rest).
#include <spatialembed/manifold/fuzzy_simplicial_set.hpp>
#include <spatialembed/manifold/spectral_init.hpp>
#include <spatialembed/spatialembed.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "manifold/layout.hpp"

using namespace spatialembed;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Process CPU seconds: on a shared machine, less noisy than wall time.
static double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

static std::vector<float> make_data(const std::string& kind, std::size_t& n, std::size_t& d) {
  Rng rng(20261121);
  std::vector<float> x;
  if (kind == "mixture") {
    n = 50000, d = 50;
    std::vector<double> centres(20 * d);
    for (auto& c : centres) c = 3.0 * rng.normal();
    x.resize(n * d);
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = rng.below(20);
      for (std::size_t k = 0; k < d; ++k) x[i * d + k] = static_cast<float>(centres[c * d + k] + rng.normal());
    }
    return x;
  }
  n = 60000, d = 784;
  const std::size_t latent = 20;
  std::vector<double> centres(10 * latent), lift(latent * d), z(latent);
  for (auto& c : centres) c = 2.0 * rng.normal();
  for (auto& l : lift) l = rng.normal() / std::sqrt(20.0);
  x.resize(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = rng.below(10);
    for (std::size_t k = 0; k < latent; ++k) z[k] = centres[c * latent + k] + rng.normal();
    for (std::size_t j = 0; j < d; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < latent; ++k) s += z[k] * lift[k * d + j];
      x[i * d + j] = static_cast<float>(std::tanh(s) + 0.05 * rng.normal());
    }
  }
  return x;
}

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "manifold";
  const int threads = argc > 2 ? std::stoi(argv[2]) : 2;
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
  const std::string cache = argc > 4 ? argv[4] : "";
  const std::size_t queries = argc > 5 ? std::stoul(argv[5]) : 0;
  std::size_t n = 0, d = 0;
  const auto x = make_data(kind, n, d);
  const ConstMatrixF X(x.data(), n, d);
  UmapOptions options;
  options.num_threads = threads;
  options.seed = 0;

  KnnGraph knn;
  std::ifstream in(cache, std::ios::binary);
  if (!cache.empty() && in) {
    knn.n = n;
    knn.k = options.n_neighbors;
    knn.indices.resize(n * knn.k);
    knn.distances.resize(n * knn.k);
    in.read(reinterpret_cast<char*>(knn.indices.data()), static_cast<std::streamsize>(knn.indices.size() * 4));
    in.read(reinterpret_cast<char*>(knn.distances.data()), static_cast<std::streamsize>(knn.distances.size() * 4));
  } else {
    const auto t = Clock::now();
    const double cpu = cpu_seconds();
    knn = umap_neighbors(X, options);
    fmt::print("nn_descent {:.3f} s, {:.3f} CPU s\n", since(t), cpu_seconds() - cpu);
    if (!cache.empty()) {
      std::ofstream out(cache, std::ios::binary);
      out.write(reinterpret_cast<const char*>(knn.indices.data()), static_cast<std::streamsize>(knn.indices.size() * 4));
      out.write(reinterpret_cast<const char*>(knn.distances.data()),
                static_cast<std::streamsize>(knn.distances.size() * 4));
    }
  }
  auto t = Clock::now();
  const CsrMatrix graph = fuzzy_simplicial_set(knn);
  fmt::print("fuzzy set {:.3f} s\n", since(t));
  t = Clock::now();
  auto init = spectral_layout(graph, 2, X, 7).embedding;
  fmt::print("spectral {:.3f} s\n", since(t));
  // As umap_fit: noiseless rescale to [0, 10] per column, prune below max/200.
  for (std::size_t k = 0; k < 2; ++k) {
    float lo = HUGE_VALF, hi = -HUGE_VALF;
    for (std::size_t i = 0; i < n; ++i) lo = std::min(lo, init[i * 2 + k]), hi = std::max(hi, init[i * 2 + k]);
    for (std::size_t i = 0; i < n; ++i) init[i * 2 + k] = 10.0f * (init[i * 2 + k] - lo) / (hi - lo);
  }
  CsrMatrix edges;
  edges.rows = edges.cols = n;
  edges.indptr.push_back(0);
  const float largest = *std::max_element(graph.data.begin(), graph.data.end());
  for (std::size_t i = 0; i < n; ++i) {
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) {
      if (graph.data[e] < largest / 200.0f) continue;
      edges.indices.push_back(graph.indices[e]);
      edges.data.push_back(graph.data[e]);
    }
    edges.indptr.push_back(static_cast<std::int64_t>(edges.indices.size()));
  }
  LayoutParams p;
  p.ab = find_ab_params(1.0, 0.1);
  p.initial_alpha = 1.0;
  p.negative_sample_rate = 5.0;
  p.attraction_moves = 2.0;
  p.n_epochs = 200;
  p.seed = 3;
  p.num_threads = threads;
  double best = HUGE_VAL, best_cpu = HUGE_VAL;
  std::vector<float> embedding;
  for (int r = 0; r < repeats; ++r) {
    embedding = init;
    t = Clock::now();
    const double cpu = cpu_seconds();
    optimize_layout(embedding.data(), n, nullptr, n, 2, edges, p);
    best = std::min(best, since(t));
    best_cpu = std::min(best_cpu, cpu_seconds() - cpu);
  }
  double checksum = 0;
  for (std::size_t i = 0; i < embedding.size(); ++i) checksum += embedding[i] * static_cast<double>(i % 7 + 1);
  fmt::print("layout {:.3f} s, {:.3f} CPU s (best of {}), checksum {:.9g}\n", best, best_cpu, repeats, checksum);
  if (queries == 0) return 0;
  TrustworthinessOptions topt;
  topt.n_neighbors = 10;
  topt.max_queries = queries;
  topt.num_threads = threads;
  fmt::print("trustworthiness {:.4f}\n", trustworthiness(X, ConstMatrixF(embedding.data(), n, 2), topt));
}
