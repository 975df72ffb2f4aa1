// Reading TF.js layers models and Keras HDF5 files: a hand-written TF.js model, the real npm
// ResNet-50 folder, and every bad-file case.

#include "spatialembed/nn/keras_weights.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "msi/msi_test_util.hpp"
#include "nn/nn_test_util.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

std::vector<char> floats(std::initializer_list<float> values) {
  std::vector<char> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

const char* kTinyModel = R"({
  "format": "layers-model",
  "modelTopology": {"model_config": {"class_name": "Model", "config": {"layers": [
    {"name": "conv", "class_name": "Conv2D", "config": {"name": "conv"}},
    {"name": "bn", "class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": 0.002}}]}}},
  "weightsManifest": [{"paths": ["shard1", "shard2"], "weights": [
    {"name": "conv_1/kernel", "shape": [1, 1, 1, 2], "dtype": "float32"},
    {"name": "bn/gamma", "shape": [2], "dtype": "float32"},
    {"name": "bn/beta", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}}]}]
})";

}  // namespace

TEST_CASE("A TF.js layers model: shards concatenated, names paired, epsilon, quantisation", "[nn][weights]") {
  ScratchDir dir("tfjs");
  write_text(dir.file("model.json"), kTinyModel);
  auto shard1 = floats({1.5f, -2.0f, 3.0f});
  auto shard2 = floats({4.0f});
  shard2.push_back(static_cast<char>(0));
  shard2.push_back(static_cast<char>(6));
  write_bytes(dir.file("shard1"), shard1);
  write_bytes(dir.file("shard2"), shard2);
  const auto w = read_keras_weights(dir.path.string());
  REQUIRE(w.layers.size() == 2);
  CHECK(w.layer("conv").weights.at("kernel").shape == std::vector<std::int64_t>{1, 1, 1, 2});
  CHECK(w.layer("conv").weights.at("kernel").values == std::vector<float>{1.5f, -2.0f});
  CHECK(w.layer("bn").weights.at("gamma").values == std::vector<float>{3.0f, 4.0f});
  CHECK(w.layer("bn").weights.at("beta").values == std::vector<float>{-1.0f, 2.0f});
  CHECK(w.layer("bn").epsilon == 0.002);
  CHECK(w.layer("bn").class_name == "BatchNormalization");
  CHECK_THROWS_WITH(w.layer("dense"), Contains("dense"));

  SECTION("truncated shard: names the shard and byte offset") {
    write_bytes(dir.file("shard2"), floats({4.0f}));
    CHECK_THROWS_WITH(read_tfjs_layers_model(dir.file("model.json")), Contains("truncated") && Contains("shard2"));
  }
  SECTION("extra bytes") {
    shard2.push_back(0);
    write_bytes(dir.file("shard2"), shard2);
    CHECK_THROWS_WITH(read_tfjs_layers_model(dir.file("model.json")), Contains("extra data"));
  }
  SECTION("missing shard") {
    std::filesystem::remove(dir.file("shard1"));
    CHECK_THROWS_AS(read_tfjs_layers_model(dir.file("model.json")), IOError);
  }
  SECTION("corrupt JSON") {
    write_text(dir.file("model.json"), std::string(kTinyModel).substr(0, 200));
    CHECK_THROWS_AS(read_tfjs_layers_model(dir.path.string()), FormatError);
  }
  SECTION("a weight of no layer") {
    std::string text = kTinyModel;
    text.replace(text.find("bn/gamma"), 8, "xx/gamma");
    write_text(dir.file("model.json"), text);
    CHECK_THROWS_WITH(read_tfjs_layers_model(dir.path.string()), Contains("xx/gamma"));
  }
}

TEST_CASE("The npm ResNet-50 weights read completely", "[nn][weights][real]") {
  const auto path = resnet_weights();
  INFO("run scripts/fetch_weights.sh: " << path << " is missing");
  REQUIRE(std::filesystem::exists(path + "/model.json"));
  const auto w = read_keras_weights(path);
  CHECK(w.total_values() == 25636712);
  CHECK(w.layers.size() == 107);  // 53 Conv2D + 53 BatchNormalization + fc1000
  CHECK(w.layer("bn2a_branch1").weights.at("moving_variance").shape == std::vector<std::int64_t>{256});
  CHECK(w.layer("bn2a_branch1").epsilon == 0.001);
  CHECK(w.layer("fc1000").weights.at("kernel").shape == std::vector<std::int64_t>{2048, 1000});
}

TEST_CASE("Bad weight files are clear errors", "[nn][weights][bad]") {
  ScratchDir dir("badweights");
  CHECK_THROWS_AS(read_keras_weights(dir.file("nothing.h5")), IOError);
  write_text(dir.file("garbage.h5"), "this is not HDF5");
  CHECK_THROWS_WITH(read_keras_weights(dir.file("garbage.h5")), Contains("not an HDF5 file"));
  // HDF5 signature, then garbage: a corrupt file.
  write_text(dir.file("corrupt.h5"), std::string("\x89HDF\r\n\x1a\n", 8) + std::string(600, 'x'));
  CHECK_THROWS_WITH(read_keras_weights(dir.file("corrupt.h5")), Contains("corrupt.h5"));
  write_text(dir.file("weights.bin"), "abc");
  CHECK_THROWS_AS(read_keras_weights(dir.file("weights.bin")), FormatError);
  const auto root = data_dir();
  if (!root.empty())  // the shared Xception model.json lists 22 shards that are not there
    CHECK_THROWS_WITH(read_keras_weights(root + "/weights/xception_keras_tfjs"), Contains("group1-shard1of22.bin"));
}
