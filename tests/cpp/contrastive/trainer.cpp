// ContrastiveModel and ContrastiveTrainer: overfitting a tiny set, the feature cache, resume,
// thread-count independence, early stopping, files and bad input. Tiny models, few steps.

#include "spatialembed/contrastive/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "contrastive/network.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/contrastive/evaluation.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

struct Pairs {
  std::size_t n = 0, G = 0, F = 0, H = 0, W = 0;
  std::vector<float> expression, features;
  std::vector<std::uint8_t> tiles;
  std::vector<std::int32_t> group;

  PairedData data() const {
    PairedData d;
    d.n = n;
    d.expression = expression.data();
    d.n_genes = G;
    if (!features.empty()) d.features = features.data(), d.feature_dim = F;
    if (!tiles.empty()) d.tiles = tiles.data(), d.height = H, d.width = W;
    d.group = group;
    return d;
  }
};

// Expression: log1p of Poisson-like counts; features: a random linear map of the expression
// plus noise (so image and genes share information); tiles: random RGB.
Pairs make_pairs(std::size_t n, std::size_t G, std::size_t F, std::size_t tile, std::uint64_t seed) {
  Pairs p;
  p.n = n, p.G = G, p.F = F, p.H = p.W = tile;
  Rng rng(seed);
  p.expression.resize(n * G);
  for (auto& v : p.expression) v = static_cast<float>(std::log1p(std::floor(4 * rng.uniform() * rng.uniform() * 5)));
  if (F) {
    std::vector<double> map(G * F);
    for (auto& v : map) v = rng.normal();
    p.features.assign(n * F, 0.0f);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t f = 0; f < F; ++f) {
        double s = 0.3 * rng.normal();
        for (std::size_t g = 0; g < G; ++g) s += map[g * F + f] * p.expression[i * G + g];
        p.features[i * F + f] = static_cast<float>(s);
      }
  }
  if (tile) {
    p.tiles.resize(n * tile * tile * 3);
    for (auto& v : p.tiles) v = static_cast<std::uint8_t>(rng.below(256));
  }
  return p;
}

std::vector<torch::Tensor> state_of(const ContrastiveModel& model) {
  std::vector<torch::Tensor> out;
  for (auto& item : model.impl().saved_state()) out.push_back(item.second.detach().clone());
  return out;
}

bool identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  return m;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) : path(fs::temp_directory_path() / ("spatialembed_contrastive_" + name)) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A tiny TorchScript CNN (3×3 conv, stride 2, ReLU, global mean): N×3×S×S → N×8.
std::string tiny_script(const TempDir& dir) {
  torch::jit::Module m("TinyNet");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  m.register_parameter("weight", torch::empty({8, 3, 3, 3}).uniform_(-0.3, 0.3, gen), false);
  m.register_parameter("bias", torch::empty({8}).uniform_(-0.1, 0.1, gen), false);
  m.define(R"JIT(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.weight, self.bias, [2, 2], [1, 1]))
    return torch.mean(y, [2, 3])
)JIT");
  const std::string path = dir.file("tiny.pt");
  m.save(path);
  return path;
}

ContrastiveOptions script_options(const std::string& path) {
  ContrastiveOptions o;
  o.backbone = "torchscript";
  o.weights = path;
  o.input_size = 16;
  o.latent_dim = 8;
  o.batch_size = 4;
  o.epochs = 2;
  o.num_threads = 1;
  return o;
}

ContrastiveOptions feature_options() {
  ContrastiveOptions o;
  o.backbone = "features";
  o.latent_dim = 16;
  o.batch_size = 8;
  o.epochs = 3;
  o.num_threads = 1;
  return o;
}

}  // namespace

TEST_CASE("a tiny model overfits a tiny set: loss near 0, top-1 retrieval 100 %", "[contrastive][trainer]") {
  const Pairs p = make_pairs(16, 12, 24, 0, 11);
  for (auto loss : {ContrastiveLoss::clip, ContrastiveLoss::bleep}) {
    INFO(to_string(loss));
    ContrastiveOptions o = feature_options();
    o.loss = loss;
    o.gene_encoder = loss == ContrastiveLoss::clip ? GeneEncoder::linear : GeneEncoder::projection_head;
    o.dropout = 0;
    o.batch_size = 16;
    o.epochs = 300;
    o.lr = 1e-2;
    o.weight_decay = 0;
    o.schedule = LrSchedule::constant;
    ContrastiveTrainer trainer(o);
    const auto result = trainer.fit(p.data());
    CHECK(result.steps == 300);
    CHECK(result.epoch_loss.size() == 300);
    CHECK(result.epoch_loss.front() > 1.0);
    CHECK(result.final_loss < 0.05);
    const auto& model = trainer.model();
    const auto img = model.encode_features(p.features.data(), p.n);
    const auto gene = model.encode_genes(p.expression.data(), p.n);
    CHECK(top1_accuracy(img.data(), p.n, gene.data(), p.n, o.latent_dim) == 1.0);
    CHECK(top1_accuracy(gene.data(), p.n, img.data(), p.n, o.latent_dim) == 1.0);
    if (loss == ContrastiveLoss::clip) CHECK(model.logit_scale() > o.logit_scale_init);  // sharper with training
  }

  SECTION("logit_scale is clamped to [0, logit_scale_max] after each step") {
    ContrastiveOptions o = feature_options();  // the clip run above, whose scale grew
    o.gene_encoder = GeneEncoder::linear;
    o.batch_size = 16;
    o.epochs = 300;
    o.lr = 1e-2;
    o.weight_decay = 0;
    o.schedule = LrSchedule::constant;
    o.logit_scale_max = o.logit_scale_init + 0.05;
    std::vector<double> scales;
    o.callback = [&](const ContrastiveStep& s) {
      scales.push_back(s.logit_scale);
      return true;
    };
    ContrastiveTrainer trainer(o);
    trainer.fit(p.data());
    CHECK(*std::max_element(scales.begin(), scales.end()) == Approx(o.logit_scale_max));
    CHECK(trainer.model().logit_scale() <= o.logit_scale_max + 1e-6);
    o.learn_logit_scale = false;
    ContrastiveTrainer fixed(o);
    fixed.fit(p.data());
    CHECK(fixed.model().logit_scale() == Approx(o.logit_scale_init));
  }
}

TEST_CASE("cached features train exactly as the frozen backbone run per step", "[contrastive][trainer][cache]") {
  TempDir dir("cache");
  const Pairs p = make_pairs(12, 6, 0, 10, 12);
  ContrastiveOptions o = script_options(tiny_script(dir));
  o.feature_batch_size = 5;
  ContrastiveTrainer cached(o);
  const auto a = cached.fit(p.data());
  o.cache_features = false;
  ContrastiveTrainer direct(o);
  const auto b = direct.fit(p.data());
  CHECK(a.features_cached);
  CHECK(!b.features_cached);
  CHECK(a.steps == 6);
  const auto sa = state_of(cached.model()), sb = state_of(direct.model());
  CHECK(max_difference(sa, sb) < 1e-5);
  CHECK(a.final_loss == Approx(b.final_loss).epsilon(1e-5));
  // The trained image encoder on tiles equals features → projection.
  const auto feats = cached.model().image_features(p.tiles.data(), p.n, p.H, p.W);
  const auto via_tiles = cached.model().encode_images(p.tiles.data(), p.n, p.H, p.W);
  const auto via_features = cached.model().encode_features(feats.data(), p.n);
  for (std::size_t i = 0; i < via_tiles.size(); ++i) CHECK(via_tiles[i] == Approx(via_features[i]).margin(1e-6));
}

TEST_CASE("a TorchScript backbone trains with train_backbone all; saved and loaded with it",
          "[contrastive][trainer][torchscript]") {
  TempDir dir("script");
  const Pairs p = make_pairs(16, 6, 0, 12, 21);
  ContrastiveOptions o = script_options(tiny_script(dir));
  o.train_backbone = TrainBackbone::all;
  o.flips = o.rotations = true;
  o.epochs = 3;
  o.lr = 1e-2;
  ContrastiveModel initial(o, p.G);
  ContrastiveTrainer trainer(o);
  const auto r = trainer.fit(p.data());
  CHECK(!r.features_cached);
  const auto& m = trainer.model().impl();
  REQUIRE(m.script_parameters.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    INFO(m.script_parameters[i].first);
    CHECK(m.script_parameters[i].second.requires_grad());
    CHECK(!torch::equal(m.script_parameters[i].second, initial.impl().script_parameters[i].second));
  }
  CHECK(trainer.model().parameter_count(true) == trainer.model().parameter_count());
  trainer.model().save(dir.file("model.pt"));
  const auto loaded = ContrastiveModel::load(dir.file("model.pt"));
  CHECK(loaded.encode_images(p.tiles.data(), p.n, p.H, p.W) ==
        trainer.model().encode_images(p.tiles.data(), p.n, p.H, p.W));
  // The file on disk is still the untrained network: the trained one came from the model file.
  CHECK(loaded.encode_images(p.tiles.data(), p.n, p.H, p.W) != initial.encode_images(p.tiles.data(), p.n, p.H, p.W));
}

TEST_CASE("a resumed run equals the uninterrupted run exactly", "[contrastive][trainer][resume]") {
  TempDir dir("resume");
  Pairs p = make_pairs(40, 10, 12, 0, 13);
  p.group.assign(p.n, 0);
  for (std::size_t i = 30; i < p.n; ++i) p.group[i] = 1;
  ContrastiveOptions o = feature_options();
  o.validation_groups = {1};
  o.epochs = 4;
  o.warmup_steps = 3;
  o.grad_clip = 1.0;
  o.patience = 3;

  o.log_csv = dir.file("full.csv");
  ContrastiveTrainer full(o);
  const auto whole = full.fit(p.data());
  CHECK(whole.steps == 12);  // 30 training pairs / batch 8 = 3 steps per epoch
  CHECK(whole.validation_loss.size() == 4);

  for (std::size_t stop_after : {5u, 6u}) {  // mid-epoch and at an epoch end
    INFO("stopped after step " << stop_after);
    ContrastiveOptions first = o;
    first.checkpoint = dir.file("run.ckpt");
    first.log_csv = dir.file("part.csv");
    first.callback = [&](const ContrastiveStep& s) { return s.step < stop_after; };
    ContrastiveTrainer interrupted(first);
    CHECK_THROWS_AS(interrupted.fit(p.data()), Cancelled);
    REQUIRE(fs::exists(first.checkpoint));

    ContrastiveOptions second = o;
    second.resume = first.checkpoint;
    second.log_csv = dir.file("part.csv");
    ContrastiveTrainer resumed(second);
    const auto rest = resumed.fit(p.data());
    CHECK(rest.steps == whole.steps);
    CHECK(rest.epoch_loss == whole.epoch_loss);
    CHECK(rest.validation_loss == whole.validation_loss);
    CHECK(identical(state_of(resumed.model()), state_of(full.model())));
    // The two logs together hold every step once, with the same losses.
    auto rows = [](const std::string& path) {
      std::ifstream in(path);
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) {  // step, epoch, loss
        std::size_t end = 0;
        for (int field = 0; field < 3 && end != std::string::npos; ++field) end = line.find(',', end + (field > 0));
        lines.push_back(line.substr(0, end));
      }
      return lines;
    };
    CHECK(rows(dir.file("part.csv")) == rows(dir.file("full.csv")));
  }
}

TEST_CASE("same seed, 1 or 2 threads: identical parameters", "[contrastive][trainer][threads]") {
  // Batch 256 × latent 256: the logit matrix and the head gradients are past LibTorch's
  // parallel grain (32768 elements), so thread-dependent reductions would show.
  const Pairs p = make_pairs(512, 50, 300, 0, 14);
  ContrastiveOptions o = feature_options();
  o.latent_dim = 256;
  o.batch_size = 256;
  o.epochs = 2;
  o.weight_decay = 0.1;
  o.grad_clip = 0.5;
  ContrastiveTrainer one(o);
  one.fit(p.data());
  o.num_threads = 2;
  ContrastiveTrainer two(o);
  two.fit(p.data());
  CHECK(identical(state_of(one.model()), state_of(two.model())));
  o.seed = 1;
  ContrastiveTrainer other(o);
  other.fit(p.data());
  CHECK(!identical(state_of(one.model()), state_of(other.model())));

  SECTION("tiles through a trained backbone stage, with augmentation") {
    const Pairs t = make_pairs(6, 5, 0, 12, 15);
    ContrastiveOptions b;
    b.weights = "random";
    b.input_size = 32;
    b.latent_dim = 8;
    b.batch_size = 3;
    b.epochs = 1;
    b.train_backbone = TrainBackbone::last_stage;
    b.flips = b.rotations = true;
    b.num_threads = 1;
    ContrastiveTrainer a1(b);
    a1.fit(t.data());
    b.num_threads = 2;
    ContrastiveTrainer a2(b);
    a2.fit(t.data());
    CHECK(identical(state_of(a1.model()), state_of(a2.model())));
  }
}

TEST_CASE("validation, early stopping and the best epoch restored", "[contrastive][trainer][validation]") {
  // Validation pairs whose expression is unrelated to their features: the validation loss
  // rises while the training loss falls.
  Pairs p = make_pairs(48, 10, 12, 0, 16);
  p.group.assign(p.n, 0);
  Rng rng(99);
  for (std::size_t i = 32; i < p.n; ++i) {
    p.group[i] = 3;
    for (std::size_t g = 0; g < p.G; ++g) p.expression[i * p.G + g] = static_cast<float>(rng.uniform() * 2);
  }
  ContrastiveOptions o = feature_options();
  o.validation_groups = {3};
  o.batch_size = 16;
  o.epochs = 60;
  o.patience = 4;
  o.lr = 1e-2;
  o.dropout = 0;
  ContrastiveTrainer trainer(o);
  const auto r = trainer.fit(p.data());
  CHECK(r.validation_pairs == 16);
  CHECK(r.stopped_early);
  CHECK(r.epochs < 60);
  CHECK(r.validation_loss.size() == r.epochs);
  CHECK(r.best_epoch + o.patience + 1 == r.epochs);
  CHECK(r.best_validation_loss == *std::min_element(r.validation_loss.begin(), r.validation_loss.end()));
  // The restored model's loss on the validation pairs, from its embeddings: the best one.
  const auto& model = trainer.model();
  const auto img = model.encode_features(p.features.data() + 32 * p.F, 16, false);
  const auto gene = model.encode_genes(p.expression.data() + 32 * p.G, 16, false);
  CHECK(clip_loss(img.data(), gene.data(), 16, o.latent_dim, model.logit_scale()) ==
        Approx(r.best_validation_loss).epsilon(1e-5));
}

TEST_CASE("model files: save, load, encode the same; CSV log", "[contrastive][trainer][files]") {
  TempDir dir("files");
  const Pairs p = make_pairs(24, 9, 7, 0, 17);
  ContrastiveOptions o = feature_options();
  o.gene_encoder = GeneEncoder::mlp;
  o.mlp_hidden = {20};
  o.log_csv = dir.file("log.csv");
  std::vector<ContrastiveStep> steps;
  o.callback = [&](const ContrastiveStep& s) {
    steps.push_back(s);
    return true;
  };
  ContrastiveTrainer trainer(o);
  const auto r = trainer.fit(p.data());
  REQUIRE(steps.size() == 9);
  CHECK(steps.back().step == 9);
  CHECK(steps.back().total_steps == 9);
  CHECK(steps[0].lr == Approx(o.lr));                     // cosine: full lr at step 0
  CHECK(steps[4].lr == Approx(o.lr * 0.5 * (1 + std::cos(M_PI * 4 / 9))));
  CHECK(steps[0].samples_per_second > 0);
  CHECK(std::isnan(steps[0].validation_loss));
  CHECK(r.epoch_loss[2] == Approx((steps[6].loss + steps[7].loss + steps[8].loss) / 3));
  std::ifstream csv(o.log_csv);
  std::string header, line;
  std::getline(csv, header);
  CHECK(header == "step,epoch,loss,logit_scale,lr,samples_per_second,validation_loss");
  std::size_t lines = 0;
  while (std::getline(csv, line)) ++lines;
  CHECK(lines == 9);

  trainer.model().save(dir.file("model.pt"));
  const auto loaded = ContrastiveModel::load(dir.file("model.pt"));
  CHECK(loaded.architecture() == trainer.model().architecture());
  CHECK(loaded.encode_genes(p.expression.data(), p.n) == trainer.model().encode_genes(p.expression.data(), p.n));
  CHECK(loaded.encode_features(p.features.data(), p.n) == trainer.model().encode_features(p.features.data(), p.n));
  CHECK(loaded.logit_scale() == trainer.model().logit_scale());
}

TEST_CASE("contrastive bad input is a clear error", "[contrastive][trainer][bad]") {
  TempDir dir("bad");
  const Pairs p = make_pairs(12, 5, 6, 0, 18);
  ContrastiveOptions o = feature_options();

  SECTION("options") {
    ContrastiveOptions b = o;
    b.batch_size = 1;
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("batch_size"));
    b = o;
    b.lr = -1;
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("lr"));
    b = o;
    b.dropout = 1;
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("dropout"));
    b = o;
    b.train_backbone = TrainBackbone::all;
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("train_backbone"));
    b = ContrastiveOptions{};
    b.backbone = "vgg";
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("backbone") && Contains("vgg"));
    b = ContrastiveOptions{};
    b.device = "tpu";
    CHECK_THROWS_WITH(ContrastiveTrainer(b), Contains("device"));
    CHECK_THROWS_WITH(parse_gene_encoder("transformer"), Contains("gene_encoder"));
    CHECK_THROWS_WITH(parse_train_backbone("half"), Contains("train_backbone"));
  }
  SECTION("data") {
    ContrastiveOptions b = o;
    b.batch_size = 13;
    CHECK_THROWS_WITH(ContrastiveTrainer(b).fit(p.data()), Contains("batch_size 13") && Contains("12 training pairs"));
    Pairs nan = p;
    nan.expression[3 * p.G + 2] = NAN;
    CHECK_THROWS_WITH(ContrastiveTrainer(o).fit(nan.data()), Contains("pair 3 gene 2") && Contains("nan"));
    PairedData no_features = p.data();
    no_features.features = nullptr;
    CHECK_THROWS_AS(ContrastiveTrainer(o).fit(no_features), InvalidArgument);
    b = o;
    b.validation_groups = {7};
    CHECK_THROWS_WITH(ContrastiveTrainer(b).fit(p.data()), Contains("validation_groups") && Contains("no pair"));
    b.validation_groups = {0};
    CHECK_THROWS_WITH(ContrastiveTrainer(b).fit(p.data()), Contains("every pair"));
    PairedData short_group = p.data();
    short_group.group = {0, 1};
    CHECK_THROWS_WITH(ContrastiveTrainer(o).fit(short_group), Contains("group"));
    b = ContrastiveOptions{};
    b.weights = "random";
    b.input_size = 32;
    CHECK_THROWS_WITH(ContrastiveTrainer(b).fit(p.data()), Contains("tiles"));
    CHECK_THROWS_AS(ContrastiveTrainer(o).model(), Error);
  }
  SECTION("checkpoints of another architecture, gene count or run") {
    ContrastiveOptions b = o;
    b.checkpoint = dir.file("a.ckpt");
    ContrastiveTrainer(b).fit(p.data());
    ContrastiveOptions other = o;
    other.resume = b.checkpoint;
    other.latent_dim = 32;
    CHECK_THROWS_WITH(ContrastiveTrainer(other).fit(p.data()), Contains("another architecture") &&
                                                                   Contains("latent_dim 32") && Contains("latent_dim 16"));
    const Pairs more_genes = make_pairs(12, 6, 6, 0, 18);
    other = o;
    other.resume = b.checkpoint;
    CHECK_THROWS_WITH(ContrastiveTrainer(other).fit(more_genes.data()),
                      Contains("n_genes 5") && Contains("n_genes 6"));
    const Pairs other_data = make_pairs(12, 5, 6, 0, 19);
    CHECK_THROWS_WITH(ContrastiveTrainer(other).fit(other_data.data()), Contains("data_hash"));
    other.batch_size = 4;
    CHECK_THROWS_WITH(ContrastiveTrainer(other).fit(p.data()), Contains("batch_size"));
    ContrastiveTrainer done(o);
    done.fit(p.data());
    done.model().save(dir.file("model.pt"));
    other = o;
    other.resume = dir.file("model.pt");
    CHECK_THROWS_WITH(ContrastiveTrainer(other).fit(p.data()), Contains("not a training checkpoint"));
    other.resume = dir.file("missing.ckpt");
    CHECK_THROWS_AS(ContrastiveTrainer(other).fit(p.data()), IOError);
    std::ofstream(dir.file("junk.ckpt")) << "not a checkpoint";
    other.resume = dir.file("junk.ckpt");
    CHECK_THROWS_AS(ContrastiveTrainer(other).fit(p.data()), FormatError);
    CHECK_THROWS_AS(ContrastiveModel::load(dir.file("junk.ckpt")), FormatError);
  }
}
