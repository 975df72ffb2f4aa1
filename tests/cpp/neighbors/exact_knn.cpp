#include "spatialembed/neighbors/exact_knn.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <tuple>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

TEST_CASE("exact_knn equals sorting all distances, for every metric", "[neighbors][exact_knn]") {
  const std::size_t n = 400, k = 9;
  for (std::size_t d : {2u, 17u}) {
    auto x = test::blobs(n, d, 40 + d);
    for (Metric metric : {Metric::euclidean, Metric::cosine, Metric::correlation, Metric::manhattan}) {
      const auto knn = exact_knn(ConstMatrixF(x.data(), n, d), k, metric, 2);
      const SearchSpace space(ConstMatrixF(x.data(), n, d), metric, 1);
      for (std::size_t i = 0; i < n; i += 13) {
        std::vector<std::tuple<double, bool, std::size_t>> all;
        for (std::size_t j = 0; j < n; ++j) all.emplace_back(space.search_distance(space.point(i), space.point(j)), j != i, j);
        std::sort(all.begin(), all.end());
        for (std::size_t r = 0; r < k; ++r) {
          REQUIRE(knn.indices[i * k + r] == static_cast<std::int32_t>(std::get<2>(all[r])));
          REQUIRE(knn.distances[i * k + r] == Approx(space.distance(std::get<0>(all[r]))).margin(1e-6));
        }
      }
    }
  }
}

TEST_CASE("exact_knn puts each point first even among duplicates", "[neighbors][exact_knn]") {
  std::vector<float> x;
  for (int copy = 0; copy < 4; ++copy) {
    for (float v : {1.0f, 2.0f, 5.0f}) x.push_back(v);
  }
  const auto knn = exact_knn(ConstMatrixF(x.data(), 12, 1), 4, Metric::euclidean, 1);
  for (std::size_t i = 0; i < 12; ++i) {
    CHECK(knn.indices[i * 4] == static_cast<std::int32_t>(i));
    CHECK(knn.distances[i * 4 + 3] == 0.0f);  // its three copies
  }
}

TEST_CASE("exact_knn of new queries against data", "[neighbors][exact_knn]") {
  const std::vector<float> data = {0, 1, 2, 3, 4}, queries = {2.2f, -1.0f};
  const auto knn = exact_knn(ConstMatrixF(data.data(), 5, 1), ConstMatrixF(queries.data(), 2, 1), 2, Metric::euclidean, 1);
  CHECK(knn.indices == std::vector<std::int32_t>{2, 3, 0, 1});
  CHECK(knn.distances[0] == Approx(0.2f));
  CHECK_THROWS_WITH(exact_knn(ConstMatrixF(data.data(), 5, 1), 6, Metric::euclidean, 1),
                    Catch::Contains("k (n_neighbors) must be in [1, n_samples = 5], got 6"));
}

TEST_CASE("KnnGraph::validate names the inconsistency", "[neighbors][knn_graph]") {
  KnnGraph g{2, 2, {0, 1, 1, 0}, {0.0f, 1.0f, 0.0f, 1.0f}};
  CHECK_NOTHROW(g.validate(2));
  g.indices[1] = 5;
  CHECK_THROWS_WITH(g.validate(2), Catch::Contains("index [0, 1] = 5"));
  g.indices[1] = 1;
  g.distances[3] = -1;
  CHECK_THROWS_WITH(g.validate(2), Catch::Contains("distance [1, 1] = -1"));
  g.distances = {1.0f, 0.5f, 0.0f, 1.0f};
  CHECK_THROWS_WITH(g.validate(2), Catch::Contains("row 0 is not sorted"));
}

TEST_CASE("exact_knn over several data blocks, wide rows and an offset far from 0", "[neighbors][exact_knn]") {
  // n above one block of 2048 rows; d wide enough that blocks of 256 MB hold fewer rows is
  // too large for a unit test, the block loop is the same. Offset: the queries enter the
  // GEMM uncentred (x·ỹ − μ·ỹ), the re-ranking must still give the exact neighbours.
  const std::size_t k = 6;
  for (const auto& [n, d, offset] : {std::tuple<std::size_t, std::size_t, float>{4500, 3, 0.0f},
                                     std::tuple<std::size_t, std::size_t, float>{700, 300, 50.0f}}) {
    auto x = test::blobs(n, d, 7 + d);
    for (auto& v : x) v += offset;
    const auto knn = exact_knn(ConstMatrixF(x.data(), n, d), k, Metric::euclidean, 2);
    const auto again = exact_knn(ConstMatrixF(x.data(), n, d), k, Metric::euclidean, 1);
    REQUIRE(knn.indices == again.indices);
    const SearchSpace space(ConstMatrixF(x.data(), n, d), Metric::euclidean, 1);
    for (std::size_t i = 0; i < n; i += 37) {
      std::vector<std::tuple<double, bool, std::size_t>> all;
      for (std::size_t j = 0; j < n; ++j) all.emplace_back(space.search_distance(space.point(i), space.point(j)), j != i, j);
      std::sort(all.begin(), all.end());
      for (std::size_t r = 0; r < k; ++r) {
        REQUIRE(knn.indices[i * k + r] == static_cast<std::int32_t>(std::get<2>(all[r])));
        REQUIRE(knn.distances[i * k + r] == Approx(space.distance(std::get<0>(all[r]))).margin(1e-5));
      }
    }
  }
}
