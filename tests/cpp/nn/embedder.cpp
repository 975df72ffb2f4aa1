// Embedder with the real npm ResNet-50 weights: photos classified, ion images embedded, and
// the bad-input errors.

#include "spatialembed/nn/embedder.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "msi/msi_test_util.hpp"
#include "nn/nn_test_util.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;

namespace {

EmbedderOptions resnet_options() {
  EmbedderOptions o;
  const auto path = resnet_weights();
  INFO("run scripts/fetch_weights.sh: " << path << " is missing");
  REQUIRE(std::filesystem::exists(path + "/model.json"));
  o.weights = path;
  return o;
}

IonImageStack subset(const IonImageStack& stack, std::vector<std::size_t> images) {
  IonImageStack out = stack;
  out.images.clear();
  out.mz.clear();
  for (auto k : images) {
    out.images.insert(out.images.end(), stack.image(k), stack.image(k) + stack.n_pixels());
    out.mz.push_back(stack.mz[k]);
  }
  return out;
}

}  // namespace

TEST_CASE("ResNet-50 with the npm weights classifies real photos", "[nn][embedder][real]") {
  auto options = resnet_options();
  options.logits = true;
  const Embedder embedder(options);
  REQUIRE(embedder.output_dim() == 1000);
  struct Case {
    const char* file;
    std::size_t expected;  // ImageNet class index
  };
  for (const Case c : {Case{"dog.jpg", 249 /* malamute */}, Case{"eagle.jpg", 22 /* bald eagle */}}) {
    const auto image = read_jpeg(photo(c.file));
    const auto logits = embedder.transform_rgb(image.pixels.data(), 1, image.height, image.width);
    const auto p = softmax(logits.data(), 1000);
    const auto top = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    INFO(c.file << ": top-1 class " << top << " with p = " << p[top]);
    CHECK(top == c.expected);
    CHECK(p[top] > 0.4);
  }
}

TEST_CASE("Ion images of the bladder become 2048-d features", "[nn][embedder][real]") {
  const auto root = data_dir();
  if (root.empty()) return;
  const auto bladder = read_png_stack(root + "/msi/mouse_bladder_png");
  const auto stack = subset(bladder, {0, 40, 80});
  auto options = resnet_options();
  options.batch_size = 2;  // batches of 2 + 1
  std::size_t calls = 0;
  options.progress = [&](std::size_t done, std::size_t total) {
    ++calls;
    CHECK(total == 3);
    CHECK(done <= total);
    return true;
  };
  const Embedder embedder(options);
  const auto features = embedder.transform(stack);
  REQUIRE(features.size() == 3 * 2048);
  CHECK(calls == 2);
  CHECK(std::all_of(features.begin(), features.end(), [](float v) { return std::isfinite(v) && v >= 0; }));
  // Batching and thread count do not change the result beyond float rounding.
  options.batch_size = 3;
  options.num_threads = 1;
  options.progress = {};
  const auto again = Embedder(options).transform(stack);
  for (std::size_t i = 0; i < features.size(); ++i) REQUIRE(again[i] == Approx(features[i]).epsilon(1e-4).margin(1e-5));
  // Images that differ give features that differ.
  double diff = 0;
  for (std::size_t j = 0; j < 2048; ++j) diff += std::abs(features[j] - features[2048 + j]);
  CHECK(diff > 1.0);

  SECTION("cancelled by the progress callback") {
    options.progress = [](std::size_t, std::size_t) { return false; };
    CHECK_THROWS_AS(Embedder(options).transform(stack), Cancelled);
  }
}

TEST_CASE("Embedder bad input is a clear error", "[nn][embedder][bad]") {
  EmbedderOptions o;
  o.backbone = "vgg16";
  CHECK_THROWS_WITH(Embedder(o), Contains("backbone") && Contains("vgg16"));
  o = {};
  o.batch_size = 0;
  CHECK_THROWS_WITH(Embedder(o), Contains("batch_size"));
  o = {};
  o.device = "tpu";
  CHECK_THROWS_WITH(Embedder(o), Contains("device"));
  o = {};
  o.dtype = "bfloat16";
  CHECK_THROWS_WITH(Embedder(o), Contains("dtype") && Contains("cuda"));
  o = {};
  o.preprocess.tic_normalize = true;
  CHECK_THROWS_WITH(Embedder(o), Contains("tic_normalize"));
  o = {};
  o.backbone = "torchscript";
  CHECK_THROWS_WITH(Embedder(o), Contains("weights"));
  o = {};
  o.backbone = "xception";
  CHECK_THROWS_WITH(Embedder(o), Contains("xception_weights_tf_dim_ordering_tf_kernels_notop.h5"));
  o = {};
  o.weights = "/nonexistent/ResNet50";
  CHECK_THROWS_WITH(Embedder(o), Contains("fetch_weights.sh"));
  if (!cuda_available()) {
    o = resnet_options();
    o.device = "cuda";
    CHECK_THROWS_WITH(Embedder(o), Contains("CUDA"));
  }

  const Embedder embedder(resnet_options());
  IonImageStack stack;
  stack.height = 4, stack.width = 0;
  CHECK_THROWS_AS(embedder.transform(stack), InvalidArgument);  // size 0
  stack.height = 2, stack.width = 2;
  stack.images = {0.0f, NAN, 1.0f, 2.0f};
  stack.mask = {1, 1, 1, 1};
  stack.mz = {500.0};
  CHECK_THROWS_WITH(embedder.transform(stack), Contains("nan") && Contains("m/z 500"));
  stack.mask = {1, 0, 1, 1};  // NaN in an unmeasured pixel is ignored
  CHECK(embedder.transform(stack).size() == 2048);
  stack.images.pop_back();
  CHECK_THROWS_AS(embedder.transform(stack), InvalidArgument);  // sizes disagree
  const std::vector<std::uint8_t> tile(3, 0);
  CHECK_THROWS_AS(embedder.transform_rgb(tile.data(), 1, 0, 1), InvalidArgument);
  const std::vector<float> input(3 * 8 * 8, NAN);
  CHECK_THROWS_AS(embedder.forward(input.data(), 1, 8, 8), InvalidArgument);
  const std::vector<float> small(3 * 8 * 8, 0.0f);
  CHECK_THROWS_WITH(embedder.forward(small.data(), 1, 8, 8), Contains("H, W >= 32"));

  SECTION("corrupt weights: a truncated shard") {
    ScratchDir dir("corrupt_resnet");
    for (const auto& entry : std::filesystem::directory_iterator(resnet_weights()))
      std::filesystem::create_symlink(entry.path(), dir.path / entry.path().filename());
    std::filesystem::remove(dir.path / "group1-shard7of25.bin");
    write_text(dir.file("group1-shard7of25.bin"), "short");
    EmbedderOptions bad;
    bad.weights = dir.path.string();
    CHECK_THROWS_WITH(Embedder(bad), Contains("truncated") && Contains("byte"));
  }
}

TEST_CASE("Embedder pooling variants: shapes, avg inside the pyramid, blob position", "[nn][embedder][pooling]") {
  // One Gaussian blob in the top-left and the same blob in the bottom-right quadrant.
  IonImageStack stack;
  stack.height = stack.width = 64;
  stack.mask.assign(64 * 64, 1);
  // Blob 0 (radius 6) top-left, blob 1 the same bottom-right, blob 2 radius 3 top-left.
  const double blobs[][2] = {{16.0, 6.0}, {47.0, 6.0}, {16.0, 3.0}};
  for (const auto& b : blobs) {
    for (std::size_t y = 0; y < 64; ++y)
      for (std::size_t x = 0; x < 64; ++x) {
        const double dy = y - b[0], dx = x - b[0];
        stack.images.push_back(static_cast<float>(std::exp(-(dy * dy + dx * dx) / (2 * b[1] * b[1]))));
      }
    stack.mz.push_back(b[0] + b[1]);
  }
  auto features = [&](EmbedderPooling pooling, std::size_t expected_dim) {
    auto options = resnet_options();
    options.pooling = pooling;
    options.preprocess.hotspot_quantile = 1.0;
    const Embedder embedder(options);
    REQUIRE(embedder.output_dim() == expected_dim);
    auto f = embedder.transform(stack);
    REQUIRE(f.size() == 3 * expected_dim);
    return f;
  };
  // |f_0 - f_k| / mean |f_i|.
  auto relative_distance = [](const std::vector<float>& f, std::size_t D, std::size_t k) {
    double d = 0, norms = 0;
    for (std::size_t j = 0; j < D; ++j) d += (f[j] - f[k * D + j]) * (f[j] - f[k * D + j]);
    for (std::size_t i = 0; i < 3; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < D; ++j) s += double(f[i * D + j]) * f[i * D + j];
      norms += std::sqrt(s) / 3;
    }
    return std::sqrt(d) / norms;
  };
  const auto avg = features(EmbedderPooling::avg, 2048);
  const auto spp = features(EmbedderPooling::spatial_pyramid, 21 * 2048);
  const auto ml = features(EmbedderPooling::multi_layer, 512 + 1024 + 2048);
  // The pyramid's 1×1 level is the global average.
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2048; ++j)
      REQUIRE(spp[i * 21 * 2048 + j] == Approx(avg[i * 2048 + j]).epsilon(1e-4).margin(1e-5));
  // Each stage of multi_layer has unit norm.
  for (std::size_t i = 0; i < 3; ++i) {
    std::size_t begin = i * 3584;
    for (std::size_t c : {512, 1024, 2048}) {
      double s = 0;
      for (std::size_t j = begin; j < begin + c; ++j) s += double(ml[j]) * ml[j];
      CHECK(std::sqrt(s) == Approx(1.0).epsilon(1e-4));
      begin += c;
    }
  }
  // Moving the blob changes the avg vector no more than resizing it; under the pyramid the
  // position dominates (Python test: 0.33 vs 0.35 and 0.94 vs 0.43).
  const double avg_moved = relative_distance(avg, 2048, 1), avg_resized = relative_distance(avg, 2048, 2);
  const double spp_moved = relative_distance(spp, 21 * 2048, 1), spp_resized = relative_distance(spp, 21 * 2048, 2);
  INFO("moved / resized: avg " << avg_moved << " / " << avg_resized << ", spatial_pyramid " << spp_moved << " / "
                               << spp_resized);
  CHECK(avg_moved < 1.1 * avg_resized);
  CHECK(spp_moved > 1.8 * spp_resized);
  CHECK(spp_moved > 2.5 * avg_moved);

  CHECK(parse_embedder_pooling("multi_layer") == EmbedderPooling::multi_layer);
  CHECK(std::string(to_string(EmbedderPooling::spatial_pyramid)) == "spatial_pyramid");
  CHECK_THROWS_WITH(parse_embedder_pooling("max"), Contains("pooling") && Contains("max"));
  EmbedderOptions bad;
  bad.pooling = EmbedderPooling::spatial_pyramid;
  bad.logits = true;
  CHECK_THROWS_WITH(bad.validate(), Contains("pooling") && Contains("logits"));
}
