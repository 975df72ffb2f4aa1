#include "spatialembed/cluster/dbscan.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

namespace {

// scikit-learn's DBSCAN transcribed literally: all neighbourhoods stored, then the
// depth-first expansion of sklearn/cluster/_dbscan_inner.pyx.
DbscanResult reference_dbscan(const std::vector<float>& x, std::size_t n, std::size_t d, double eps,
                              double min_samples, Metric metric, const std::vector<double>& w = {}) {
  const SearchSpace space(ConstMatrixF(x.data(), n, d), metric, 1);
  std::vector<std::vector<std::size_t>> neighborhoods(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (squared_distance(space.point(i), space.point(j), d) <= space.squared_radius(eps)) neighborhoods[i].push_back(j);
    }
  }
  DbscanResult r;
  r.core_sample_mask.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    double count = 0;
    for (auto j : neighborhoods[i]) count += w.empty() ? 1.0 : w[j];
    r.core_sample_mask[i] = count >= min_samples;
  }
  r.labels.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (r.labels[i] != -1 || !r.core_sample_mask[i]) continue;
    std::vector<std::size_t> stack{i};
    while (!stack.empty()) {
      const auto p = stack.back();
      stack.pop_back();
      if (r.labels[p] != -1) continue;
      r.labels[p] = r.n_clusters;
      if (r.core_sample_mask[p]) {
        for (auto q : neighborhoods[p]) {
          if (r.labels[q] == -1) stack.push_back(q);
        }
      }
    }
    ++r.n_clusters;
  }
  return r;
}

DbscanResult run(const std::vector<float>& x, std::size_t n, std::size_t d, double eps, std::int64_t min_samples,
                 DbscanAlgorithm algorithm, int threads = 1, Metric metric = Metric::euclidean,
                 const std::vector<double>& w = {}) {
  DbscanOptions options;
  options.eps = eps;
  options.min_samples = min_samples;
  options.algorithm = algorithm;
  options.num_threads = threads;
  options.metric = metric;
  return DBSCAN(options).fit(ConstMatrixF(x.data(), n, d), w);
}

void require_same(const DbscanResult& got, const DbscanResult& want) {
  REQUIRE(got.n_clusters == want.n_clusters);
  REQUIRE(got.core_sample_mask == want.core_sample_mask);
  REQUIRE(got.labels == want.labels);
}

const DbscanAlgorithm kAlgorithms[] = {DbscanAlgorithm::automatic, DbscanAlgorithm::grid, DbscanAlgorithm::kdtree,
                                       DbscanAlgorithm::brute};

bool grid_applies(DbscanAlgorithm a, std::size_t d) { return a != DbscanAlgorithm::grid || d <= 4; }

}  // namespace

TEST_CASE("DBSCAN equals the sklearn procedure on random blobs, 1-D to 16-D", "[cluster][dbscan]") {
  for (std::size_t d : {1u, 2u, 3u, 4u, 7u, 16u}) {
    const std::size_t n = 300;
    const auto x = test::blobs(n, d, 100 + d, 3, 1.0, 4.0 * std::sqrt(static_cast<double>(d)) + 4.0);
    for (double eps : {0.3, 0.8, 1.5}) {
      for (std::int64_t min_samples : {1, 4, 10}) {
        const auto want = reference_dbscan(x, n, d, eps, static_cast<double>(min_samples), Metric::euclidean);
        for (auto algorithm : kAlgorithms) {
          if (!grid_applies(algorithm, d)) continue;
          INFO("d=" << d << " eps=" << eps << " min_samples=" << min_samples << " algorithm=" << to_string(algorithm));
          require_same(run(x, n, d, eps, min_samples, algorithm), want);
        }
      }
    }
  }
}

TEST_CASE("DBSCAN decides ties at exactly eps inclusively, with duplicates", "[cluster][dbscan]") {
  for (std::size_t d : {1u, 2u, 3u, 4u, 6u}) {
    const std::size_t n = 250;
    const auto x = test::lattice(n, d, 7 * d, 5);  // integer points: distances 1, √2, 2 … exactly
    for (double eps : {1.0, std::sqrt(2.0), 2.0}) {
      for (std::int64_t min_samples : {2, 5, 9}) {
        const auto want = reference_dbscan(x, n, d, eps, static_cast<double>(min_samples), Metric::euclidean);
        for (auto algorithm : kAlgorithms) {
          if (!grid_applies(algorithm, d)) continue;
          INFO("d=" << d << " eps=" << eps << " min_samples=" << min_samples << " algorithm=" << to_string(algorithm));
          require_same(run(x, n, d, eps, min_samples, algorithm), want);
        }
      }
    }
  }
}

TEST_CASE("DBSCAN border points take the lowest cluster among their core neighbours", "[cluster][dbscan]") {
  // Two dense groups on a line with one border point (index 0) within eps of both; the
  // right-hand group has the lower-index core point, so it is cluster 0.
  const std::vector<float> x = {5.0f,                     // border, exactly 1.0 from both groups
                                6.0f, 6.1f, 6.2f, 6.3f,   // cluster 0 (first core point: index 1)
                                4.0f, 3.9f, 3.8f, 3.7f};  // cluster 1
  for (auto algorithm : kAlgorithms) {
    const auto r = run(x, 9, 1, 1.0, 4, algorithm);
    CHECK(r.n_clusters == 2);
    CHECK(r.labels == std::vector<std::int32_t>{0, 0, 0, 0, 0, 1, 1, 1, 1});
    CHECK(r.core_sample_mask == std::vector<std::uint8_t>{0, 1, 1, 1, 1, 1, 1, 1, 1});
  }
}

TEST_CASE("DBSCAN edge cases: n = 0 and 1, all noise, one cluster", "[cluster][dbscan]") {
  for (auto algorithm : kAlgorithms) {
    const std::vector<float> none;
    const auto empty = run(none, 0, 3, 0.5, 5, algorithm);
    CHECK(empty.labels.empty());
    CHECK(empty.n_clusters == 0);

    const std::vector<float> one = {1, 2};
    CHECK(run(one, 1, 2, 0.5, 1, algorithm).labels == std::vector<std::int32_t>{0});
    CHECK(run(one, 1, 2, 0.5, 2, algorithm).labels == std::vector<std::int32_t>{-1});

    const std::vector<float> spread = {0, 10, 20, 30};
    const auto noise = run(spread, 4, 1, 1.0, 2, algorithm);
    CHECK(noise.labels == std::vector<std::int32_t>(4, -1));
    CHECK(noise.n_clusters == 0);

    const auto single = run(spread, 4, 1, 10.0, 2, algorithm);
    CHECK(single.labels == std::vector<std::int32_t>(4, 0));
  }
}

TEST_CASE("DBSCAN sample weights follow scikit-learn's meaning", "[cluster][dbscan]") {
  const std::size_t n = 300;
  for (std::size_t d : {2u, 5u}) {
    const auto x = test::blobs(n, d, 55 + d);
    Rng rng(9);
    std::vector<double> positive(n), mixed(n);
    for (std::size_t i = 0; i < n; ++i) {
      positive[i] = static_cast<double>(rng.below(4));
      mixed[i] = static_cast<double>(rng.below(7)) - 2.0;
    }
    for (const auto* w : {&positive, &mixed}) {
      const auto want = reference_dbscan(x, n, d, 0.7, 6, Metric::euclidean, *w);
      for (auto algorithm : kAlgorithms) {
        if (!grid_applies(algorithm, d)) continue;
        require_same(run(x, n, d, 0.7, 6, algorithm, 1, Metric::euclidean, *w), want);
      }
    }
  }
  // One heavy point is a core point on its own.
  const std::vector<float> x = {0, 5};
  CHECK(run(x, 2, 1, 1.0, 3, DbscanAlgorithm::automatic, 1, Metric::euclidean, {3.0, 1.0}).labels ==
        std::vector<std::int32_t>{0, -1});
}

TEST_CASE("DBSCAN with the cosine metric", "[cluster][dbscan]") {
  const std::size_t n = 300;
  for (std::size_t d : {2u, 3u, 10u}) {
    auto x = test::blobs(n, d, 77 + d, 4, 0.4, 3.0);
    for (auto& v : x) v -= 1.5f;
    for (double eps : {0.01, 0.05}) {
      const auto want = reference_dbscan(x, n, d, eps, 5, Metric::cosine);
      for (auto algorithm : kAlgorithms) {
        if (!grid_applies(algorithm, d)) continue;
        require_same(run(x, n, d, eps, 5, algorithm, 1, Metric::cosine), want);
      }
    }
  }
}

TEST_CASE("DBSCAN output does not depend on num_threads", "[cluster][dbscan]") {
  const std::size_t n = 4000;
  for (std::size_t d : {2u, 3u, 8u, 20u}) {
    const auto x = test::blobs(n, d, 31 + d, 5, 1.0, 12.0);
    for (auto algorithm : kAlgorithms) {
      if (!grid_applies(algorithm, d)) continue;
      const auto one = run(x, n, d, 1.0, 8, algorithm, 1);
      for (int threads : {2, 3, 0}) require_same(run(x, n, d, 1.0, 8, algorithm, threads), one);
    }
  }
}

TEST_CASE("DBSCAN on a precomputed radius graph equals DBSCAN on the points", "[cluster][dbscan]") {
  const std::size_t n = 300, d = 3;
  const auto x = test::blobs(n, d, 8);
  const double eps = 0.8;
  const SearchSpace space(ConstMatrixF(x.data(), n, d), Metric::euclidean, 1);
  std::vector<std::int64_t> indptr{0}, indices;
  std::vector<double> distances;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const double dist = std::sqrt(squared_distance(space.point(i), space.point(j), d));
      if (j != i && dist <= 1.5 * eps) {  // a wider graph than eps: entries above eps are ignored
        indices.push_back(static_cast<std::int64_t>(j));
        distances.push_back(dist);
      }
    }
    indptr.push_back(static_cast<std::int64_t>(indices.size()));
  }
  DbscanOptions options;
  options.eps = eps;
  options.min_samples = 6;
  const DBSCAN dbscan(options);
  require_same(dbscan.fit(CsrGraph{indptr, indices, distances, n}), dbscan.fit(ConstMatrixF(x.data(), n, d)));
}

TEST_CASE("DBSCAN rejects bad input with a clear message", "[cluster][dbscan]") {
  DbscanOptions bad;
  bad.eps = 0;
  CHECK_THROWS_WITH(DBSCAN(bad), "eps must be finite and > 0, got 0");
  bad.eps = std::nan("");
  CHECK_THROWS_AS(DBSCAN(bad), InvalidArgument);
  bad = {};
  bad.min_samples = 0;
  CHECK_THROWS_WITH(DBSCAN(bad), "min_samples must be >= 1, got 0");
  bad = {};
  bad.num_threads = -1;
  CHECK_THROWS_AS(DBSCAN(bad), InvalidArgument);
  CHECK_THROWS_AS(parse_dbscan_algorithm("ball_tree"), InvalidArgument);
  CHECK_THROWS_WITH(parse_metric("chebyshev"), Catch::Contains("'euclidean', 'cosine'"));
  bad = {};
  bad.metric = Metric::manhattan;
  CHECK_THROWS_WITH(DBSCAN(bad), Catch::Contains("DBSCAN metric must be"));

  std::vector<float> x = {0, 1, 2, 3, 4, 5};
  const DBSCAN dbscan;
  x[4] = INFINITY;
  CHECK_THROWS_WITH(dbscan.fit(ConstMatrixF(x.data(), 3, 2)), Catch::Contains("X[2, 0] = inf"));
  x[4] = 4;
  const std::vector<double> short_weights = {1, 1};
  CHECK_THROWS_WITH(dbscan.fit(ConstMatrixF(x.data(), 3, 2), short_weights),
                    "sample_weight has 2 entries but there are 3 samples");
  const std::vector<double> nan_weights = {1, std::nan(""), 1};
  CHECK_THROWS_WITH(dbscan.fit(ConstMatrixF(x.data(), 3, 2), nan_weights), Catch::Contains("sample_weight[1]"));
  DbscanOptions grid;
  grid.algorithm = DbscanAlgorithm::grid;
  const std::vector<float> wide(50, 1.0f);
  CHECK_THROWS_WITH(DBSCAN(grid).fit(ConstMatrixF(wide.data(), 5, 10)), Catch::Contains("got 10 features"));
}

TEST_CASE("DBSCAN progress reports three phases and can cancel", "[cluster][dbscan]") {
  const auto x = test::blobs(200, 2, 4);
  DbscanOptions options;
  std::vector<std::size_t> seen;
  options.progress = [&](std::size_t done, std::size_t total) {
    CHECK(total == 3);
    seen.push_back(done);
    return true;
  };
  DBSCAN(options).fit(ConstMatrixF(x.data(), 200, 2));
  CHECK(seen == std::vector<std::size_t>{1, 2, 3});
  options.progress = [](std::size_t, std::size_t) { return false; };
  CHECK_THROWS_AS(DBSCAN(options).fit(ConstMatrixF(x.data(), 200, 2)), Cancelled);
}
