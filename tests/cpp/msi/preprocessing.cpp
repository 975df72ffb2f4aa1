#include "spatialembed/msi/preprocessing.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;

namespace {

IonImageStack random_stack(std::size_t K, std::size_t H, std::size_t W, std::uint64_t seed) {
  Rng rng(seed);
  IonImageStack s;
  s.height = H, s.width = W;
  for (std::size_t k = 0; k < K; ++k) s.mz.push_back(100.0 + static_cast<double>(k));
  s.mask.resize(H * W);
  for (auto& m : s.mask) m = rng.uniform() < 0.8;
  s.images.resize(K * H * W);
  for (std::size_t k = 0; k < K; ++k) {
    for (std::size_t p = 0; p < H * W; ++p) s.images[k * H * W + p] = s.mask[p] ? static_cast<float>(std::exp(3 * rng.normal())) : 0.0f;
  }
  return s;
}

// numpy.quantile(values, q) with the default "linear" method, from a full sort.
double numpy_quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  return i + 1 < v.size() ? v[i] + (pos - static_cast<double>(i)) * (v[i + 1] - v[i]) : v[i];
}

}  // namespace

TEST_CASE("hotspot clipping at the numpy quantile of measured pixels", "[msi][preprocessing]") {
  auto s = random_stack(5, 13, 17, 1);
  const auto original = s;
  clip_hotspots(s, 0.95, 2);
  for (std::size_t k = 0; k < 5; ++k) {
    std::vector<double> measured;
    for (std::size_t p = 0; p < s.n_pixels(); ++p) {
      if (s.mask[p]) measured.push_back(original.image(k)[p]);
    }
    const auto limit = static_cast<float>(numpy_quantile(measured, 0.95));
    for (std::size_t p = 0; p < s.n_pixels(); ++p) REQUIRE(s.image(k)[p] == std::min(original.image(k)[p], limit));
  }
}

TEST_CASE("hotspot quantile over the non-zero measured pixels keeps a small structure", "[msi][preprocessing]") {
  // A 4-pixel spot in a 20 x 20 image: 1 % of the pixels. Over all pixels the 0.99 quantile is
  // 0 and the spot is erased; over its non-zero pixels (METASPACE) it survives.
  IonImageStack s;
  s.height = s.width = 20;
  s.mz = {500.0};
  s.mask.assign(400, 1);
  s.images.assign(400, 0.0f);
  const std::vector<float> spot = {3.0f, 5.0f, 4.0f, 6.0f};
  for (std::size_t i = 0; i < 4; ++i) s.images[(10 + i / 2) * 20 + 10 + i % 2] = spot[i];
  auto all = s, nonzero = s;
  clip_hotspots(all, 0.99, 1);
  CHECK(*std::max_element(all.images.begin(), all.images.end()) == Approx(numpy_quantile(std::vector<double>(s.images.begin(), s.images.end()), 0.99)));
  CHECK(*std::max_element(all.images.begin(), all.images.end()) < 0.3f);
  clip_hotspots(nonzero, 0.99, 1, true);
  const auto limit = static_cast<float>(numpy_quantile({3, 5, 4, 6}, 0.99));
  for (std::size_t p = 0; p < 400; ++p) REQUIRE(nonzero.images[p] == std::min(s.images[p], limit));
  auto zero = s;
  std::fill(zero.images.begin(), zero.images.end(), 0.0f);
  clip_hotspots(zero, 0.99, 1, true);  // no non-zero pixel: left as it is
  CHECK(std::all_of(zero.images.begin(), zero.images.end(), [](float v) { return v == 0.0f; }));
}

TEST_CASE("spike removal: each measured pixel at most the largest measured 8-neighbour", "[msi][preprocessing]") {
  auto s = random_stack(3, 9, 11, 5);
  const auto original = s;
  remove_spikes(s, 2);
  const long H = 9, W = 11;
  for (std::size_t k = 0; k < 3; ++k) {
    for (long y = 0; y < H; ++y) {
      for (long x = 0; x < W; ++x) {
        const auto p = static_cast<std::size_t>(y * W + x);
        if (!s.mask[p]) {
          REQUIRE(s.image(k)[p] == 0.0f);
          continue;
        }
        float highest = -1;
        for (long yy = y - 1; yy <= y + 1; ++yy) {
          for (long xx = x - 1; xx <= x + 1; ++xx) {
            if ((yy == y && xx == x) || yy < 0 || xx < 0 || yy >= H || xx >= W) continue;
            const auto q = static_cast<std::size_t>(yy * W + xx);
            if (s.mask[q]) highest = std::max(highest, original.image(k)[q]);
          }
        }
        REQUIRE(s.image(k)[p] == (highest < 0 ? original.image(k)[p] : std::min(original.image(k)[p], highest)));
      }
    }
  }
  // A one-pixel hotspot on a flat 3 x 3 patch goes; the patch and a 1-pixel-wide line stay.
  IonImageStack t;
  t.height = t.width = 8;
  t.mz = {500.0};
  t.mask.assign(64, 1);
  t.images.assign(64, 0.0f);
  for (std::size_t y = 1; y <= 3; ++y)
    for (std::size_t x = 1; x <= 3; ++x) t.images[y * 8 + x] = 1.0f;
  t.images[2 * 8 + 2] = 80.0f;
  for (std::size_t x = 0; x < 8; ++x) t.images[6 * 8 + x] = 2.0f;
  auto expected = t.images;
  expected[2 * 8 + 2] = 1.0f;
  remove_spikes(t, 1);
  CHECK(t.images == expected);
}

TEST_CASE("median filter over measured neighbours, scaling to 0..1, TIC normalisation", "[msi][preprocessing]") {
  auto s = random_stack(3, 9, 11, 2);
  const auto original = s;
  median_filter(s, 3, 1);
  const std::size_t W = 11, H = 9;
  for (std::size_t y = 0; y < H; ++y) {
    for (std::size_t x = 0; x < W; ++x) {
      const std::size_t p = y * W + x;
      if (!s.mask[p]) {
        CHECK(s.image(1)[p] == 0.0f);
        continue;
      }
      std::vector<double> window;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const long yy = static_cast<long>(y) + dy, xx = static_cast<long>(x) + dx;
          if (yy < 0 || xx < 0 || yy >= static_cast<long>(H) || xx >= static_cast<long>(W)) continue;
          if (s.mask[static_cast<std::size_t>(yy) * W + static_cast<std::size_t>(xx)]) {
            window.push_back(original.image(1)[static_cast<std::size_t>(yy) * W + static_cast<std::size_t>(xx)]);
          }
        }
      }
      std::sort(window.begin(), window.end());
      const std::size_t n = window.size();
      const double median = n % 2 ? window[n / 2] : 0.5 * (window[n / 2 - 1] + window[n / 2]);
      REQUIRE(s.image(1)[p] == Approx(median));
    }
  }
  scale_to_unit(s);
  float lo = 1, hi = 0;
  for (std::size_t p = 0; p < s.n_pixels(); ++p) {
    if (s.mask[p]) lo = std::min(lo, s.image(2)[p]), hi = std::max(hi, s.image(2)[p]);
  }
  CHECK(lo == 0.0f);
  CHECK(hi == 1.0f);
  auto t = random_stack(4, 5, 5, 3);
  tic_normalize_pixels(t);
  for (std::size_t p = 0; p < t.n_pixels(); ++p) {
    double sum = 0;
    for (std::size_t k = 0; k < 4; ++k) sum += t.image(k)[p];
    CHECK(sum == Approx(t.mask[p] ? 1.0 : 0.0).margin(1e-6));
  }
}

TEST_CASE("preprocess: options are validated, results independent of threads", "[msi][preprocessing]") {
  auto a = random_stack(6, 10, 10, 4), b = a;
  PreprocessOptions o;
  o.median_filter = 3;
  o.tic_normalize = true;
  o.num_threads = 1;
  preprocess(a, o);
  o.num_threads = 3;
  preprocess(b, o);
  CHECK(a.images == b.images);
  o.median_filter = 4;
  CHECK_THROWS_WITH(preprocess(a, o), Contains("median_filter") && Contains("4"));
  o = {};
  o.hotspot_quantile = 0;
  CHECK_THROWS_WITH(preprocess(a, o), Contains("hotspot_quantile"));
  a.mask.pop_back();
  CHECK_THROWS_AS(preprocess(a, PreprocessOptions{}), InvalidArgument);
}

TEST_CASE("PreprocessOptions: every field visited once; same_preprocessing and describe over them",
          "[msi][preprocessing]") {
  std::vector<std::string> names;
  PreprocessOptions::for_each_field([&](const char* name, auto, const char* doc) {
    names.emplace_back(name);
    CHECK(std::string(doc).size() > 10);
  });
  for (const char* field : {"tic_normalize", "remove_spikes", "hotspot_quantile", "hotspot_ignore_zeros", "median_filter",
                            "scale", "num_threads"})
    CHECK(std::count(names.begin(), names.end(), field) == 1);

  PreprocessOptions a, b;
  b.num_threads = 3;
  CHECK(same_preprocessing(a, b));
  b.scale = false;
  CHECK_FALSE(same_preprocessing(a, b));
  CHECK(a.describe() ==
        "tic_normalize = false, remove_spikes = true, hotspot_quantile = 0.99, hotspot_ignore_zeros = true, "
        "median_filter = 0, scale = true");
}
