// The Keras-layout networks: parameter counts and layer names as Keras's, TF "same" pooling,
// weight layout conversion, and every loading error naming the layer.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <torch/nn/functional/pooling.h>

#include <fstream>
#include <set>

#include "msi/msi_test_util.hpp"
#include "nn/nn_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/nn/resnet50.hpp"
#include "spatialembed/nn/xception.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

// Keras layer names that hold weights, read from a TF.js model.json.
std::set<std::string> weighted_layers(const std::string& model_json) {
  std::ifstream in(model_json);
  const auto model = nlohmann::json::parse(in);
  std::set<std::string> names;
  for (const auto& layer : model["modelTopology"]["model_config"]["config"]["layers"]) {
    const std::string cls = layer["class_name"];
    if (cls == "Conv2D" || cls == "SeparableConv2D" || cls == "BatchNormalization" || cls == "Dense")
      names.insert(layer["name"].get<std::string>());
  }
  return names;
}

// Random Keras-layout weights for every layer of `net` (shapes from the torch modules).
KerasWeights random_keras_weights(KerasBackboneImpl& net, std::uint64_t seed) {
  torch::manual_seed(seed);
  KerasWeights w;
  w.source = "random";
  auto put = [](KerasLayer& layer, const std::string& name, const torch::Tensor& t) {
    auto c = t.contiguous();
    KerasTensor k;
    k.shape.assign(c.sizes().begin(), c.sizes().end());
    k.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    layer.weights[name] = std::move(k);
  };
  for (const auto& named : net.named_children()) {
    KerasLayer& layer = w.layers[named.key()];
    if (auto* conv = named.value()->as<torch::nn::Conv2d>()) {
      auto s = conv->weight.sizes();
      put(layer, "kernel", torch::randn({s[2], s[3], s[1], s[0]}) * 0.1);
      if (conv->options.bias()) put(layer, "bias", torch::randn({s[0]}) * 0.1);
    } else if (auto* sep = named.value()->as<SeparableConv2d>()) {
      auto d = sep->depthwise->weight.sizes(), p = sep->pointwise->weight.sizes();
      put(layer, "depthwise_kernel", torch::randn({d[2], d[3], d[0], 1}) * 0.3);
      put(layer, "pointwise_kernel", torch::randn({1, 1, p[1], p[0]}) / std::sqrt(double(p[1])));
    } else if (auto* bn = named.value()->as<torch::nn::BatchNorm2d>()) {
      const auto c = bn->weight.size(0);
      put(layer, "gamma", torch::rand({c}) + 0.5);
      put(layer, "beta", torch::randn({c}) * 0.1);
      put(layer, "moving_mean", torch::randn({c}) * 0.1);
      put(layer, "moving_variance", torch::rand({c}) + 0.5);
    } else if (auto* fc = named.value()->as<torch::nn::Linear>()) {
      auto s = fc->weight.sizes();
      put(layer, "kernel", torch::randn({s[1], s[0]}) * 0.02);
      put(layer, "bias", torch::randn({s[0]}) * 0.02);
    }
  }
  return w;
}

}  // namespace

TEST_CASE("ResNet-50 has Keras's parameter count and layer names", "[nn][resnet50]") {
  ResNet50 net;
  CHECK(net->keras_parameter_count(true) == 25636712);
  CHECK(net->keras_parameter_count(false) == 23587712);
  CHECK(net->feature_dim() == 2048);
  const auto names = net->keras_layer_names();
  CHECK(names.front() == "conv1");
  CHECK(names[1] == "bn_conv1");
  CHECK(names.back() == "fc1000");
  const std::string json = resnet_weights() + "/model.json";
  INFO("run scripts/fetch_weights.sh: " << json << " is missing");
  REQUIRE(std::filesystem::exists(json));
  CHECK(std::set<std::string>(names.begin(), names.end()) == weighted_layers(json));
}

TEST_CASE("Xception has Keras's parameter counts and the layer names of the shared model.json", "[nn][xception]") {
  Xception net;
  CHECK(net->keras_parameter_count(true) == 22910480);
  CHECK(net->keras_parameter_count(false) == 20861480);
  const auto root = data_dir();
  if (root.empty()) return;
  const auto names = net->keras_layer_names();
  CHECK(std::set<std::string>(names.begin(), names.end()) ==
        weighted_layers(root + "/weights/xception_keras_tfjs/model.json"));
}

TEST_CASE("max_pool_same pads as TensorFlow: the odd cell after, never the maximum", "[nn][xception]") {
  for (std::int64_t n : {4, 5, 7, 8}) {
    auto x = torch::randn({1, 2, n, n + 1});
    auto y = max_pool_same(x, 3, 2);
    const std::int64_t out_h = (n + 1) / 2, out_w = (n + 2) / 2;
    REQUIRE(y.size(2) == out_h);
    REQUIRE(y.size(3) == out_w);
    // Brute force: window rows [i*2 - pad_top, +3) clipped to the image.
    auto pad_before = [](std::int64_t size) {
      const std::int64_t out = (size + 1) / 2;
      return std::max<std::int64_t>((out - 1) * 2 + 3 - size, 0) / 2;
    };
    const std::int64_t ph = pad_before(n), pw = pad_before(n + 1);
    auto acc = x.accessor<float, 4>();
    auto out = y.accessor<float, 4>();
    for (std::int64_t c = 0; c < 2; ++c)
      for (std::int64_t i = 0; i < out_h; ++i)
        for (std::int64_t j = 0; j < out_w; ++j) {
          float best = -INFINITY;
          for (std::int64_t a = i * 2 - ph; a < i * 2 - ph + 3; ++a)
            for (std::int64_t b = j * 2 - pw; b < j * 2 - pw + 3; ++b)
              if (a >= 0 && a < n && b >= 0 && b < n + 1) best = std::max(best, acc[0][c][a][b]);
          CHECK(out[0][c][i][j] == best);
        }
  }
}

TEST_CASE("Keras weights load with the layout conversions", "[nn][weights]") {
  ResNet50 net;
  auto weights = random_keras_weights(*net, 1);
  weights.layers["bn_conv1"].epsilon = 2e-3;
  net->load_keras_weights(weights, true);
  CHECK(net->has_classifier());
  // conv1 kernel (7, 7, 3, 64) HWIO: torch weight[o][i][h][w] = kernel[h][w][i][o].
  const auto& k = weights.layers["conv1"].weights["kernel"].values;
  auto w = net->named_parameters()["conv1.weight"];
  CHECK(w[5][2][1][3].item<float>() == k[((1 * 7 + 3) * 3 + 2) * 64 + 5]);
  // Dense (2048, 1000): torch weight[o][i] = kernel[i][o].
  const auto& d = weights.layers["fc1000"].weights["kernel"].values;
  CHECK(net->named_parameters()["fc1000.weight"][7][100].item<float>() == d[100 * 1000 + 7]);
  auto* bn = net->named_children()["bn_conv1"]->as<torch::nn::BatchNorm2d>();
  CHECK(bn->options.eps() == 2e-3);
  // Depthwise (3, 3, in, 1) -> (in, 1, 3, 3).
  Xception x;
  auto xw = random_keras_weights(*x, 2);
  xw.layers.erase("predictions");  // a "notop" file
  x->load_keras_weights(xw);
  CHECK_FALSE(x->has_classifier());
  const auto& dk = xw.layers["block2_sepconv1"].weights["depthwise_kernel"].values;
  CHECK(x->named_parameters()["block2_sepconv1.depthwise.weight"][10][0][2][1].item<float>() ==
        dk[(2 * 3 + 1) * 64 + 10]);
  auto y = x->features(torch::zeros({1, 3, 80, 80}));
  CHECK(y.sizes() == torch::IntArrayRef({1, 2048}));
  CHECK_THROWS_WITH(x->logits(y), Contains("notop"));
  CHECK_THROWS_WITH(x->load_keras_weights(xw, true), Contains("predictions"));
}

TEST_CASE("Xception shortcut layers with other automatic numbers pair by rank", "[nn][weights]") {
  Xception net;
  auto w = random_keras_weights(*net, 3);
  auto expected = w.layers["conv2d_6"].weights["kernel"].values;
  for (int i = 4; i <= 7; ++i) {  // as in the Keras release files: conv2d_1 … conv2d_4
    w.layers["conv2d_" + std::to_string(i - 3) + "x"] = std::move(w.layers["conv2d_" + std::to_string(i)]);
    w.layers.erase("conv2d_" + std::to_string(i));
  }
  for (int i = 1; i <= 4; ++i) {
    w.layers["conv2d_" + std::to_string(i)] = std::move(w.layers["conv2d_" + std::to_string(i) + "x"]);
    w.layers.erase("conv2d_" + std::to_string(i) + "x");
  }
  net->load_keras_weights(w);
  auto t = net->named_parameters()["conv2d_6.weight"].permute({2, 3, 1, 0}).contiguous();
  CHECK(std::equal(expected.begin(), expected.end(), t.data_ptr<float>()));
}

TEST_CASE("Loading errors name the layer", "[nn][weights][bad]") {
  ResNet50 net;
  auto weights = random_keras_weights(*net, 4);
  auto missing = weights;
  missing.layers.erase("res3b_branch2b");
  CHECK_THROWS_WITH(net->load_keras_weights(missing), Contains("res3b_branch2b"));
  auto wrong_shape = weights;
  wrong_shape.layers["bn4c_branch2a"].weights["gamma"].shape = {255};
  wrong_shape.layers["bn4c_branch2a"].weights["gamma"].values.resize(255);
  CHECK_THROWS_WITH(net->load_keras_weights(wrong_shape), Contains("bn4c_branch2a") && Contains("[256]"));
  auto missing_weight = weights;
  missing_weight.layers["conv1"].weights.erase("bias");
  CHECK_THROWS_WITH(net->load_keras_weights(missing_weight), Contains("conv1") && Contains("bias"));
  auto wrong_kind = weights;
  wrong_kind.layers["bn_conv1"].class_name = "Conv2D";
  CHECK_THROWS_WITH(net->load_keras_weights(wrong_kind), Contains("bn_conv1"));
  Xception x;
  CHECK_THROWS_AS(x->load_keras_weights(weights), FormatError);  // ResNet weights into Xception
  CHECK_THROWS_AS(net->features(torch::zeros({1, 1, 224, 224})), InvalidArgument);  // one channel
}
