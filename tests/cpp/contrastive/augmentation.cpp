// Colour jitter against the adjustments written out here, one at a time (torchvision's
// functional_tensor on uint8: float32 blends, clamp to [0, 255], truncation; HSV round trip),
// and the factor draws of ColorJitter.get_params. tests/python/test_contrastive_api.py
// compares whole jitters with torchvision itself.

#include "spatialembed/contrastive/augmentation.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;

namespace {

std::vector<std::uint8_t> random_tile(std::size_t h, std::size_t w, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint8_t> t(h * w * 3);
  for (auto& v : t) v = static_cast<std::uint8_t>(rng.below(256));
  return t;
}

ColorJitterFactors only(int op, double factor) {
  ColorJitterFactors f;
  if (op == 0) f.use_brightness = true, f.brightness = factor;
  if (op == 1) f.use_contrast = true, f.contrast = factor;
  if (op == 2) f.use_saturation = true, f.saturation = factor;
  if (op == 3) f.use_hue = true, f.hue = factor;
  return f;
}

// torchvision's _blend: a Python-float ratio; (1.0 - ratio) taken in double, both cast to float32.
std::uint8_t blend(double ratio, float x, float other) {
  const float v = static_cast<float>(ratio) * x + static_cast<float>(1.0 - ratio) * other;
  return static_cast<std::uint8_t>(std::min(255.0f, std::max(0.0f, v)));
}

}  // namespace

TEST_CASE("colour jitter: brightness, contrast and saturation as written out", "[contrastive][augmentation]") {
  const std::size_t H = 9, W = 7;
  const auto tile = random_tile(H, W, 3);
  auto gray = [&](std::size_t p) {
    return static_cast<float>(static_cast<std::uint8_t>(0.2989f * tile[3 * p] + 0.587f * tile[3 * p + 1] +
                                                        0.114f * tile[3 * p + 2]));
  };
  for (double f : {0.0, 0.6, 1.0, 1.7}) {
    auto b = tile, c = tile, s = tile;
    color_jitter(b.data(), H, W, only(0, f));
    color_jitter(c.data(), H, W, only(1, f));
    color_jitter(s.data(), H, W, only(2, f));
    double sum = 0;
    for (std::size_t p = 0; p < H * W; ++p) sum += gray(p);
    const float mean = static_cast<float>(sum / (H * W));
    for (std::size_t i = 0; i < tile.size(); ++i) {
      CHECK(b[i] == blend(f, tile[i], 0.0f));
      CHECK(c[i] == blend(f, tile[i], mean));
      CHECK(s[i] == blend(f, tile[i], gray(i / 3)));
    }
  }
}

TEST_CASE("colour jitter: hue shift", "[contrastive][augmentation]") {
  // Pure red shifted by a third of a turn is green, by two thirds blue.
  std::vector<std::uint8_t> red{255, 0, 0};
  auto green = red, blue = red, same = red;
  color_jitter(green.data(), 1, 1, only(3, 1.0 / 3.0));
  color_jitter(blue.data(), 1, 1, only(3, -1.0 / 3.0));
  color_jitter(same.data(), 1, 1, only(3, 0.0));
  CHECK(std::vector<int>(green.begin(), green.end()) == std::vector<int>{0, 255, 0});
  CHECK(std::vector<int>(blue.begin(), blue.end()) == std::vector<int>{0, 0, 255});
  CHECK(std::vector<int>(same.begin(), same.end()) == std::vector<int>{255, 0, 0});
  // hue 0 keeps every colour (the HSV round trip loses at most 1 per channel)
  const auto tile = random_tile(16, 16, 5);
  auto out = tile;
  color_jitter(out.data(), 16, 16, only(3, 0.0));
  for (std::size_t i = 0; i < tile.size(); ++i) CHECK(std::abs(int(out[i]) - int(tile[i])) <= 1);
  // gray pixels have no hue
  std::vector<std::uint8_t> gray{90, 90, 90};
  color_jitter(gray.data(), 1, 1, only(3, 0.4));
  CHECK(std::vector<int>(gray.begin(), gray.end()) == std::vector<int>{90, 90, 90});
}

TEST_CASE("colour jitter: draws as ColorJitter.get_params", "[contrastive][augmentation]") {
  ColorJitterOptions o{0.4, 1.5, 0.2, 0.1};
  Rng rng(7);
  std::vector<int> first(4, 0);
  for (int t = 0; t < 2000; ++t) {
    const auto f = draw_color_jitter(o, rng);
    CHECK((f.use_brightness && f.use_contrast && f.use_saturation && f.use_hue));
    CHECK((f.brightness >= 0.6 && f.brightness <= 1.4));
    CHECK((f.contrast >= 0.0 && f.contrast <= 2.5));
    CHECK((f.saturation >= 0.8 && f.saturation <= 1.2));
    CHECK((f.hue >= -0.1 && f.hue <= 0.1));
    auto sorted = f.order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::array<int, 4>{0, 1, 2, 3});
    ++first[static_cast<std::size_t>(f.order[0])];
  }
  for (int count : first) CHECK((count > 400 && count < 600));  // a uniform permutation
  ColorJitterOptions off;
  CHECK(!off.enabled());
  const auto f = draw_color_jitter(ColorJitterOptions{0, 0.5, 0, 0}, rng);
  CHECK((!f.use_brightness && f.use_contrast && !f.use_saturation && !f.use_hue));
  CHECK_THROWS_AS(ColorJitterOptions({0, 0, 0, 0.6}).validate(), InvalidArgument);
  CHECK_THROWS_AS(ColorJitterOptions({-1, 0, 0, 0}).validate(), InvalidArgument);
}
