#include "spatialembed/manifold/spectral_init.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace spatialembed;

namespace {
// Ring of n vertices, or two rings, as a CSR graph with unit weights.
CsrMatrix rings(std::size_t n, std::size_t count) {
  CsrMatrix g;
  g.rows = g.cols = n * count;
  g.indptr.push_back(0);
  for (std::size_t r = 0; r < count; ++r) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto prev = static_cast<std::int32_t>(r * n + (i + n - 1) % n), next = static_cast<std::int32_t>(r * n + (i + 1) % n);
      g.indices.push_back(std::min(prev, next));
      g.indices.push_back(std::max(prev, next));
      g.data.push_back(1.0f);
      g.data.push_back(1.0f);
      g.indptr.push_back(static_cast<std::int64_t>(g.indices.size()));
    }
  }
  return g;
}
}  // namespace

TEST_CASE("spectral layout orders a path along its first coordinate", "[manifold][spectral]") {
  // Path 0 – 1 – … – n−1: the Fiedler vector of I − D^{−1/2}WD^{−1/2} is D^{1/2} times a half
  // cosine wave, so monotone along the path except at the two ends, whose degree is 1.
  const std::size_t n = 50;
  CsrMatrix path;
  path.rows = path.cols = n;
  path.indptr.push_back(0);
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) path.indices.push_back(static_cast<std::int32_t>(i - 1));
    if (i + 1 < n) path.indices.push_back(static_cast<std::int32_t>(i + 1));
    path.data.resize(path.indices.size(), 1.0f);
    path.indptr.push_back(static_cast<std::int64_t>(path.indices.size()));
  }
  const auto layout = spectral_layout(path, 2, {}, 0);
  CHECK_FALSE(layout.fell_back);
  const double sign = layout.embedding[0] < layout.embedding[2 * (n - 1)] ? 1.0 : -1.0;
  for (std::size_t i = 2; i + 1 < n; ++i) REQUIRE(sign * (layout.embedding[2 * i] - layout.embedding[2 * (i - 1)]) > 0);
}

TEST_CASE("spectral layout separates connected components", "[manifold][spectral]") {
  const std::size_t n = 40;
  const auto layout = spectral_layout(rings(n, 2), 2, {}, 1);
  double mean[2][2] = {};
  for (std::size_t c = 0; c < 2; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t k = 0; k < 2; ++k) mean[c][k] += layout.embedding[(c * n + i) * 2 + k] / n;
    }
  }
  CHECK(std::hypot(mean[0][0] - mean[1][0], mean[0][1] - mean[1][1]) > 1.2);  // placed at e_1 and e_2 (√2 apart)
}
