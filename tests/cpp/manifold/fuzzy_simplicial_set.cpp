#include "spatialembed/manifold/fuzzy_simplicial_set.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include "spatialembed/neighbors/exact_knn.hpp"
#include "test_data.hpp"

using namespace spatialembed;

TEST_CASE("smooth_knn_dist solves Σ exp(-(d - ρ)/σ) = log2(k)", "[manifold][fuzzy]") {
  const std::size_t n = 300, k = 15;
  const auto x = test::blobs(n, 5, 21);
  const auto knn = exact_knn(ConstMatrixF(x.data(), n, 5), k, Metric::euclidean, 1);
  const auto smooth = smooth_knn_dist(knn, static_cast<double>(k));
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(smooth.rhos[i] == knn.distances[i * k + 1]);  // nearest other point
    double psum = 0;
    for (std::size_t j = 1; j < k; ++j) psum += std::exp(-std::max(0.0, double(knn.distances[i * k + j]) - smooth.rhos[i]) / smooth.sigmas[i]);
    CHECK(psum == Approx(std::log2(double(k))).margin(1e-3));
  }
}

TEST_CASE("fuzzy union of a two-neighbour graph", "[manifold][fuzzy]") {
  // Points 0, 1, 3 on a line; each point's one neighbour has membership 1 (d = ρ).
  // Directed: 0→1, 1→0, 2→1; union: {0,1}: 1, {1,2}: 1 + 0 − 0 = 1.
  const KnnGraph knn{3, 2, {0, 1, 1, 0, 2, 1}, {0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 2.0f}};
  const auto graph = fuzzy_simplicial_set(knn, 1.0, 1.0);
  CHECK(graph.indptr == std::vector<std::int64_t>{0, 1, 3, 4});
  CHECK(graph.indices == std::vector<std::int32_t>{1, 0, 2, 1});
  CHECK(graph.data == std::vector<float>{1, 1, 1, 1});
  const auto intersection = fuzzy_simplicial_set(knn, 0.0, 1.0);  // only mutual edges survive
  CHECK(intersection.indices == std::vector<std::int32_t>{1, 0});
}

TEST_CASE("fuzzy graph is symmetric with memberships between 0 and 1", "[manifold][fuzzy]") {
  const std::size_t n = 200, k = 10;
  const auto x = test::blobs(n, 3, 22);
  const auto graph = fuzzy_simplicial_set(exact_knn(ConstMatrixF(x.data(), n, 3), k, Metric::euclidean, 1));
  std::vector<float> dense(n * n, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) dense[i * n + graph.indices[e]] = graph.data[e];
  }
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(dense[i * n + i] == 0.0f);
    for (std::size_t j = 0; j < n; ++j) {
      REQUIRE(dense[i * n + j] == Approx(dense[j * n + i]));
      REQUIRE(dense[i * n + j] <= 1.0f);
    }
  }
}

TEST_CASE("fuzzy_set_intersection keeps the edges both graphs hold", "[manifold][fuzzy]") {
  // Two views of the same 200 points: the left sees the first two coordinates, the right the
  // last two, so a pair near in both is near in all four.
  const std::size_t n = 200, k = 10;
  const auto x = test::blobs(n, 4, 23);
  std::vector<float> left_x, right_x;
  for (std::size_t i = 0; i < n; ++i) {
    left_x.insert(left_x.end(), x.begin() + i * 4, x.begin() + i * 4 + 2);
    right_x.insert(right_x.end(), x.begin() + i * 4 + 2, x.begin() + i * 4 + 4);
  }
  const auto left = fuzzy_simplicial_set(exact_knn(ConstMatrixF(left_x.data(), n, 2), k, Metric::euclidean, 1));
  const auto right = fuzzy_simplicial_set(exact_knn(ConstMatrixF(right_x.data(), n, 2), k, Metric::euclidean, 1));
  const auto dense = [n](const CsrMatrix& m) {
    std::vector<float> out(n * n, 0.0f);
    for (std::size_t i = 0; i < n; ++i)
      for (auto e = m.indptr[i]; e < m.indptr[i + 1]; ++e) out[i * n + m.indices[e]] = m.data[e];
    return out;
  };
  const auto l = dense(left), r = dense(right), both = dense(fuzzy_set_intersection(left, right, 0.5, double(k)));
  double in_both = 0, in_one = 0;
  std::size_t n_both = 0, n_one = 0;
  for (std::size_t i = 0; i < n; ++i) {
    float row_max = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      const float v = both[i * n + j];
      REQUIRE(v == Approx(both[j * n + i]));  // symmetric
      REQUIRE((v >= 0.0f && v <= 1.0f));
      REQUIRE((v > 0.0f) == (l[i * n + j] > 0.0f || r[i * n + j] > 0.0f));  // the union of the patterns
      row_max = std::max(row_max, v);
      if (l[i * n + j] > 0.5f && r[i * n + j] > 0.5f) in_both += v, ++n_both;
      if (l[i * n + j] > 0.5f && r[i * n + j] == 0.0f) in_one += v, ++n_one;
    }
    CHECK(row_max == Approx(1.0f));  // local connectivity restored: each point's strongest edge is certain
  }
  REQUIRE((n_both > 0 && n_one > 0));
  CHECK(in_both / n_both > 10 * (in_one / n_one));
}

TEST_CASE("fuzzy_set_intersection rejects mismatched graphs clearly", "[manifold][fuzzy]") {
  const CsrMatrix a{2, 2, {0, 1, 2}, {1, 0}, {1.0f, 1.0f}};
  const CsrMatrix b{3, 3, {0, 1, 2, 2}, {1, 0}, {1.0f, 1.0f}};
  const CsrMatrix empty{2, 2, {0, 0, 0}, {}, {}};
  CHECK_THROWS_WITH(fuzzy_set_intersection(a, b), Catch::Contains("2 x 2 and 3 x 3"));
  CHECK_THROWS_WITH(fuzzy_set_intersection(a, empty), Catch::Contains("no edges"));
  CHECK_THROWS_WITH(fuzzy_set_intersection(a, a, 1.5), Catch::Contains("mix_weight") && Catch::Contains("1.5"));
  CHECK_THROWS_WITH(fuzzy_set_intersection(a, a, 0.5, 1.0), Catch::Contains("k must be >= 2"));
}
