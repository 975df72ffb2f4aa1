// The clip and bleep losses against their formulas written out here, and the gradients that
// reach both encoders, the backbone and logit_scale.

#include "spatialembed/contrastive/loss.hpp"

#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "contrastive/network.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;

namespace {

std::vector<float> random_rows(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> x(n * d);
  for (auto& v : x) v = static_cast<float>(scale * rng.normal());
  return x;
}

using Matrix = std::vector<std::vector<double>>;

Matrix product(const std::vector<float>& a, const std::vector<float>& b, std::size_t n, std::size_t d) {
  Matrix out(n, std::vector<double>(n, 0.0));  // a bᵀ
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t c = 0; c < d; ++c) out[i][j] += double(a[i * d + c]) * double(b[j * d + c]);
  return out;
}

std::vector<double> log_softmax(const std::vector<double>& row) {
  double max = row[0], sum = 0;
  for (double v : row) max = std::max(max, v);
  for (double v : row) sum += std::exp(v - max);
  std::vector<double> out;
  for (double v : row) out.push_back(v - max - std::log(sum));
  return out;
}

Matrix transpose(const Matrix& m) {
  Matrix t(m[0].size(), std::vector<double>(m.size()));
  for (std::size_t i = 0; i < m.size(); ++i)
    for (std::size_t j = 0; j < m[i].size(); ++j) t[j][i] = m[i][j];
  return t;
}

// CLIP: rows normalised, L = e^t U Vᵀ, ½ (CE(L) + CE(Lᵀ)) with the diagonal as labels.
double clip_formula(std::vector<float> u, std::vector<float> v, std::size_t n, std::size_t d, double t) {
  for (auto* x : {&u, &v})
    for (std::size_t i = 0; i < n; ++i) {
      double norm = 0;
      for (std::size_t c = 0; c < d; ++c) norm += double((*x)[i * d + c]) * (*x)[i * d + c];
      for (std::size_t c = 0; c < d; ++c) (*x)[i * d + c] = static_cast<float>((*x)[i * d + c] / std::sqrt(norm));
    }
  Matrix L = product(u, v, n, d);
  for (auto& row : L)
    for (auto& x : row) x *= std::exp(t);
  const Matrix Lt = transpose(L);
  double a = 0, b = 0;
  for (std::size_t i = 0; i < n; ++i) a -= log_softmax(L[i])[i], b -= log_softmax(Lt[i])[i];
  return (a / n + b / n) / 2;
}

// BLEEP: logits G Iᵀ / τ, targets softmax((I Iᵀ + G Gᵀ)/2 · τ), mean of the two soft CEs.
double bleep_formula(const std::vector<float>& img, const std::vector<float>& gene, std::size_t n, std::size_t d,
                     double tau) {
  Matrix logits = product(gene, img, n, d), ii = product(img, img, n, d), gg = product(gene, gene, n, d);
  Matrix targets(n, std::vector<double>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& x : logits[i]) x /= tau;
    std::vector<double> row(n);
    for (std::size_t j = 0; j < n; ++j) row[j] = (ii[i][j] + gg[i][j]) / 2 * tau;
    const auto ls = log_softmax(row);
    for (std::size_t j = 0; j < n; ++j) targets[i][j] = std::exp(ls[j]);
  }
  const Matrix Lt = transpose(logits), Tt = transpose(targets);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = log_softmax(logits[i]), b = log_softmax(Lt[i]);
    double spots = 0, images = 0;
    for (std::size_t j = 0; j < n; ++j) spots -= targets[i][j] * a[j], images -= Tt[i][j] * b[j];
    total += (spots + images) / 2;
  }
  return total / n;
}

}  // namespace

TEST_CASE("clip loss equals the symmetric InfoNCE formula", "[contrastive][loss]") {
  const std::size_t n = 6, d = 5;
  const auto img = random_rows(n, d, 1, 3.0), gene = random_rows(n, d, 2);
  for (double t : {0.0, std::log(1 / 0.07), std::log(100.0)}) {
    const double expected = clip_formula(img, gene, n, d, t);
    CHECK(clip_loss(img.data(), gene.data(), n, d, t) == Approx(expected).epsilon(1e-5));
    auto I = torch::from_blob(const_cast<float*>(img.data()), {6, 5}).clone();
    auto G = torch::from_blob(const_cast<float*>(gene.data()), {6, 5}).clone();
    CHECK(clip_loss(I, G, torch::tensor(t, torch::kFloat32)).item<double>() == Approx(expected).epsilon(1e-5));
  }
  // Identical, well separated pairs at scale 100: the loss goes to 0.
  std::vector<float> eye(n * n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) eye[i * n + i] = 1.0f;
  CHECK(clip_loss(eye.data(), eye.data(), n, n, std::log(100.0)) < 1e-6);
  // One pair: nothing to contrast, loss 0.
  CHECK(clip_loss(img.data(), gene.data(), 1, d, 1.0) == Approx(0.0).margin(1e-7));
}

TEST_CASE("bleep loss equals BLEEP's soft-target formula", "[contrastive][loss]") {
  const std::size_t n = 5, d = 4;
  const auto img = random_rows(n, d, 3, 0.7), gene = random_rows(n, d, 4, 0.5);
  for (double tau : {1.0, 0.5, 2.0}) {
    const double expected = bleep_formula(img, gene, n, d, tau);
    CHECK(bleep_loss(img.data(), gene.data(), n, d, tau) == Approx(expected).epsilon(1e-5));
  }
  // Identical embeddings with large norms: targets and logits both near the identity, loss → 0.
  std::vector<float> eye(n * n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) eye[i * n + i] = 20.0f;
  CHECK(bleep_loss(eye.data(), eye.data(), n, n) < 1e-6);
}

TEST_CASE("loss bad input is a clear error", "[contrastive][loss][bad]") {
  auto a = torch::zeros({4, 3}), b = torch::zeros({4, 2});
  CHECK_THROWS_WITH(clip_loss(a, b, torch::tensor(1.0)), Contains("4 x 3") && Contains("4 x 2"));
  CHECK_THROWS_WITH(bleep_loss(a, a, 0.0), Contains("temperature"));
  CHECK_THROWS_WITH(clip_loss(a, a, torch::zeros({2})), Contains("logit_scale"));
  CHECK_THROWS_AS(parse_contrastive_loss("infonce"), InvalidArgument);
  CHECK(parse_contrastive_loss(to_string(ContrastiveLoss::bleep)) == ContrastiveLoss::bleep);
}

TEST_CASE("gradients reach both encoders and logit_scale", "[contrastive][loss][grad]") {
  ContrastiveOptions o;
  o.backbone = "features";
  o.latent_dim = 8;
  const std::size_t n = 6, F = 10, G = 7;
  const auto feats = random_rows(n, F, 5), expr = random_rows(n, G, 6);
  for (auto encoder : {GeneEncoder::linear, GeneEncoder::projection_head, GeneEncoder::mlp}) {
    for (auto loss : {ContrastiveLoss::clip, ContrastiveLoss::bleep}) {
      o.gene_encoder = encoder;
      o.loss = loss;
      o.mlp_hidden = {9, 5};
      ContrastiveModel model(o, G, F);
      auto& m = model.impl();
      Rng rng(0);
      auto img = m.image_head->forward(torch::from_blob(const_cast<float*>(feats.data()), {6, 10}), &rng);
      auto gene = m.gene_head->forward(torch::from_blob(const_cast<float*>(expr.data()), {6, 7}), &rng);
      auto value = loss == ContrastiveLoss::clip ? clip_loss(img, gene, m.logit_scale) : bleep_loss(img, gene);
      value.backward();
      const auto params = m.trainable_parameters();
      std::size_t image_side = 0, gene_side = 0, scale = 0;
      for (const auto& [name, p] : params) {
        INFO(name);
        REQUIRE(p.grad().defined());
        CHECK(p.grad().abs().sum().item<double>() > 0);
        image_side += name.rfind("image_head.", 0) == 0;
        gene_side += name.rfind("gene_head.", 0) == 0;
        scale += name == "logit_scale";
      }
      CHECK(image_side >= 2);
      CHECK(gene_side >= (encoder == GeneEncoder::mlp ? 6u : 2u));
      CHECK(scale == (loss == ContrastiveLoss::clip ? 1u : 0u));
    }
  }
}

TEST_CASE("gradients reach the trained stage of the backbone only", "[contrastive][loss][grad]") {
  ContrastiveOptions o;
  o.weights = "random";
  o.input_size = 32;
  o.latent_dim = 4;
  o.gene_encoder = GeneEncoder::linear;
  o.train_backbone = TrainBackbone::last_stage;
  ContrastiveModel model(o, 3);
  auto& m = model.impl();
  std::vector<std::uint8_t> tiles(4 * 8 * 8 * 3);
  Rng rng(7);
  for (auto& v : tiles) v = static_cast<std::uint8_t>(rng.below(256));
  auto x = m.prepare_tiles(tiles.data(), {0, 1, 2, 3}, 8, 8, nullptr);
  const auto expr = random_rows(4, 3, 8);
  auto img = m.image_head->forward(m.backbone_forward(x));
  auto gene = m.gene_head->forward(torch::from_blob(const_cast<float*>(expr.data()), {4, 3}));
  clip_loss(img, gene, m.logit_scale).backward();
  std::size_t stage5 = 0;
  for (auto& item : m.keras->named_parameters(true)) {
    const bool last = item.key().rfind("res5", 0) == 0 || item.key().rfind("bn5", 0) == 0;
    INFO(item.key());
    CHECK(item.value().requires_grad() == last);
    if (last) {
      REQUIRE(item.value().grad().defined());
      stage5 += item.value().grad().abs().sum().item<double>() > 0;
    } else {
      CHECK(!item.value().grad().defined());
    }
  }
  CHECK(stage5 > 20);

  // Xception's last stage: the exit flow (blocks 13, 14 and block 13's shortcut).
  o.backbone = "xception";
  o.input_size = 71;
  ContrastiveModel xception(o, 3);
  std::size_t trained = 0;
  for (auto& item : xception.impl().keras->named_parameters(true)) {
    const std::string& name = item.key();
    const bool exit_flow = name.rfind("block13", 0) == 0 || name.rfind("block14", 0) == 0 ||
                           name.rfind("conv2d_7.", 0) == 0 || name.rfind("batch_normalization_7.", 0) == 0;
    INFO(name);
    CHECK(item.value().requires_grad() == exit_flow);
    trained += exit_flow;
  }
  CHECK(trained == 4 * 4 + 1 + 2);  // 4 × (depthwise, pointwise, BN γ, β); shortcut kernel; its BN γ, β
  // 3 blocks × (3 convolutions + 3 BatchNorms) + the shortcut's pair, weight and bias each.
  CHECK(model.parameter_count(true) > 14'000'000);
  CHECK(model.parameter_count(true) < model.parameter_count());
}
