#include "spatialembed/neighbors/nn_descent.hpp"

#include <catch2/catch.hpp>

#include "spatialembed/metrics/knn_recall.hpp"
#include "spatialembed/neighbors/exact_knn.hpp"
#include "test_data.hpp"

using namespace spatialembed;

TEST_CASE("nn_descent finds nearly all exact neighbours and is deterministic", "[neighbors][nn_descent]") {
  const std::size_t n = 6000, d = 12;
  const auto x = test::blobs(n, d, 77, 15, 1.0, 12.0);
  const ConstMatrixF X(x.data(), n, d);
  for (Metric metric : {Metric::euclidean, Metric::cosine}) {
    NnDescentOptions options;
    options.k = 10;
    options.metric = metric;
    options.seed = 5;
    options.num_threads = 2;
    const auto approx = nn_descent(X, options);
    const auto exact = exact_knn(X, 10, metric, 2);
    CHECK(knn_recall(approx, exact) >= 0.95);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(approx.indices[i * 10] == static_cast<std::int32_t>(i));
    options.num_threads = 1;
    const auto again = nn_descent(X, options);
    CHECK(again.indices == approx.indices);
    CHECK(again.distances == approx.distances);
  }
}

TEST_CASE("nn_descent rejects k out of range", "[neighbors][nn_descent]") {
  const auto x = test::blobs(10, 2, 1);
  NnDescentOptions options;
  options.k = 11;
  CHECK_THROWS_WITH(nn_descent(ConstMatrixF(x.data(), 10, 2), options), Catch::Contains("n_samples = 10"));
}
