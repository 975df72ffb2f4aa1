// A C++ program that trains a ContrastiveTrainer data-parallel, launched by torchrun (or any
// launcher that sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as Slurm's srun can):
//
//   torchrun --nproc_per_node 2 --no_python ./distributed_train OUT_PREFIX [pairs] [batch] [epochs] [loss]
//
// It trains on seeded synthetic pairs (expression, and features that are a noisy linear map of
// it) with backbone "features"; rank r writes OUT_PREFIX.r.txt: its step losses, then the
// model's gene and image embeddings of every pair and its logit_scale (tests/cpp/contrastive/
// distributed.cpp compares them with one process on the global batch). Nothing in the program
// is specific to several processes: the trainer reads the environment.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include "spatialembed/common/random.hpp"
#include "spatialembed/contrastive/trainer.hpp"

namespace se = spatialembed;

// n × genes log1p(counts) and n × dim features = expression · M + noise, from Rng(seed).
void synthetic_pairs(std::size_t n, std::size_t genes, std::size_t dim, std::uint64_t seed, std::vector<float>& expression,
                     std::vector<float>& features) {
  se::Rng rng(seed);
  expression.resize(n * genes);
  for (auto& v : expression) v = static_cast<float>(std::log1p(std::floor(4.0 * rng.uniform() * rng.uniform() * 2)));
  std::vector<float> m(genes * dim);
  for (auto& v : m) v = static_cast<float>(rng.uniform() * 2 - 1);
  features.assign(n * dim, 0.f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dim; ++k) {
      double s = 0.3 * (rng.uniform() - 0.5);
      for (std::size_t g = 0; g < genes; ++g) s += expression[i * genes + g] * m[g * dim + k];
      features[i * dim + k] = static_cast<float>(s);
    }
}

se::ContrastiveOptions example_options(std::size_t batch, std::size_t epochs, const std::string& loss) {
  se::ContrastiveOptions o;
  o.backbone = "features";
  o.latent_dim = 8;
  o.dropout = 0;
  o.lr = loss == "bleep" ? 1e-3 : 1e-2;
  o.weight_decay = 0.1;
  o.warmup_steps = 2;
  o.grad_clip = 1.0;
  o.batch_size = batch;
  o.epochs = epochs;
  o.seed = 7;
  o.num_threads = 1;
  o.loss = se::parse_contrastive_loss(loss);
  return o;
}

#ifndef SPATIALEMBED_EXAMPLE_NO_MAIN  // the test reuses the functions above
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_PREFIX [pairs=64] [batch=8] [epochs=2] [loss=clip]\n", argv[0]);
    return 2;
  }
  try {
    const std::size_t n = argc > 2 ? std::stoul(argv[2]) : 64, batch = argc > 3 ? std::stoul(argv[3]) : 8,
                      epochs = argc > 4 ? std::stoul(argv[4]) : 2;
    const std::string loss = argc > 5 ? argv[5] : "clip";
    const std::size_t genes = 10, dim = 24;
    std::vector<float> expression, features;
    synthetic_pairs(n, genes, dim, 1, expression, features);
    se::PairedData data;
    data.n = n;
    data.expression = expression.data();
    data.n_genes = genes;
    data.features = features.data();
    data.feature_dim = dim;
    se::ContrastiveOptions o = example_options(batch, epochs, loss);
    std::vector<double> losses;
    o.callback = [&](const se::ContrastiveStep& step) {
      losses.push_back(step.loss);
      return true;
    };
    se::ContrastiveTrainer trainer(o);
    const se::ContrastiveFitResult result = trainer.fit(data);
    const std::string path = std::string(argv[1]) + "." + std::to_string(result.rank) + ".txt";
    std::ofstream out(path);
    out.precision(9);
    out << result.world_size << ' ' << losses.size() << '\n';
    for (double l : losses) out << l << '\n';
    for (float v : trainer.model().encode_genes(expression.data(), n, false)) out << v << '\n';
    for (float v : trainer.model().encode_features(features.data(), n, false)) out << v << '\n';
    out << trainer.model().logit_scale() << '\n';
    std::printf("rank %zu of %zu: %zu steps, final loss %.6f, %.0f samples/s\n", result.rank, result.world_size,
                result.steps, result.final_loss, result.samples_per_second);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distributed_train: %s\n", e.what());
    return 1;
  }
}
#endif
