#include "manifold/layout.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "spatialembed/common/random.hpp"
#include "spatialembed/manifold/ab_params.hpp"

using namespace spatialembed;

namespace {
double attractive(double a, double b, double d2) { return -2.0 * a * b * std::pow(d2, b - 1.0) / (1.0 + a * std::pow(d2, b)); }
double repulsive(double a, double b, double gamma, double d2) {
  return 2.0 * gamma * b / ((0.001 + d2) * (1.0 + a * std::pow(d2, b)));
}
}  // namespace

TEST_CASE("UMAP gradient coefficients are tabulated to 1e-4 relative", "[manifold][umap][layout]") {
  struct Case {
    double a, b, gamma;
  };
  std::vector<Case> cases;
  for (const auto& [spread, min_dist] : {std::pair{1.0, 0.1}, {1.0, 0.0}, {1.0, 0.5}, {1.0, 0.99}, {3.0, 0.1}, {0.5, 0.05}}) {
    const auto ab = find_ab_params(spread, min_dist);
    cases.push_back({ab.a, ab.b, 1.0});
  }
  cases.push_back({1.577, 0.895, 0.3});
  cases.push_back({1.0, 2.5, 1.0});
  cases.push_back({1.0, 6.0, 1.0});  // too sharp for the table at 1e-4: exact
  Rng rng(5);
  for (const auto& c : cases) {
    CAPTURE(c.a, c.b, c.gamma);
    const GradientCoefficients g(c.a, c.b, c.gamma);
    // The float32 parameters the layout uses.
    const double a = static_cast<float>(c.a), b = static_cast<float>(c.b), gamma = static_cast<float>(c.gamma);
    if (c.b < 1.0) {  // UMAP's usual curves (b ≈ 0.8–0.9) must be tabulated
      CHECK(g.attractive_table().usable());
      CHECK(g.repulsive_table().usable());
    }
    if (g.repulsive_table().usable()) CHECK(g.repulsive_table().max_relative_error() <= GradientCoefficients::kTolerance);
    CHECK(g.attractive(0.0f) == 0.0f);
    CHECK(g.repulsive(0.0f) == 0.0f);
    double worst_attractive = 0, worst_repulsive = 0;
    // log-uniform over the table's range [2^-16, 2^16] and beyond, as far as d2^b stays a
    // normal float32 (the exact float32 formula's own limit)
    const double octaves = c.b < 3.0 ? 20.0 : 16.0;
    for (int i = 0; i < 200000; ++i) {
      const auto d2 = static_cast<float>(std::exp2(octaves * (2.0 * rng.uniform() - 1.0)));
      worst_attractive = std::max(worst_attractive, std::abs(g.attractive(d2) / attractive(a, b, d2) - 1.0));
      worst_repulsive = std::max(worst_repulsive, std::abs(g.repulsive(d2) / repulsive(a, b, gamma, d2) - 1.0));
    }
    // 1e-4 from the table, a few float32 roundings on top
    CHECK(worst_attractive < 1.01e-4);
    CHECK(worst_repulsive < 1.01e-4);
  }
}

TEST_CASE("UMAP repulsion without strength is zero everywhere", "[manifold][umap][layout]") {
  const GradientCoefficients g(1.577, 0.895, 0.0);
  for (const float d2 : {0.0f, 1e-9f, 1e-3f, 1.0f, 37.5f, 1e9f}) CHECK(g.repulsive(d2) == 0.0f);
}
