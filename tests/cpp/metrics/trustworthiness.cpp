#include "spatialembed/metrics/trustworthiness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

namespace {
// The definition with full rank tables, as sklearn.manifold.trustworthiness computes it.
double reference(const std::vector<float>& x, const std::vector<float>& y, std::size_t n, std::size_t dx,
                 std::size_t dy, std::size_t k) {
  auto order = [&](const std::vector<float>& p, std::size_t d, std::size_t i) {
    std::vector<double> dist(n);
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t c = 0; c < d; ++c) s += (double(p[i * d + c]) - p[j * d + c]) * (double(p[i * d + c]) - p[j * d + c]);
      dist[j] = j == i ? HUGE_VAL : s;
    }
    std::vector<std::size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return dist[a] < dist[b]; });
    return idx;
  };
  double t = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto ox = order(x, dx, i), oy = order(y, dy, i);
    std::vector<std::size_t> rank(n);
    for (std::size_t r = 0; r < n; ++r) rank[ox[r]] = r + 1;
    for (std::size_t r = 0; r < k; ++r) t += std::max<double>(0.0, double(rank[oy[r]]) - double(k));
  }
  return 1.0 - t * 2.0 / (double(n) * k * (2.0 * n - 3.0 * k - 1.0));
}
}  // namespace

TEST_CASE("trustworthiness equals its definition", "[metrics][trustworthiness]") {
  const std::size_t n = 200;
  const auto x = test::blobs(n, 6, 3);
  const auto y = test::blobs(n, 2, 4);  // an unrelated "embedding"
  for (std::size_t k : {1u, 5u, 12u}) {
    TrustworthinessOptions o;
    o.n_neighbors = k;
    CHECK(trustworthiness(ConstMatrixF(x.data(), n, 6), ConstMatrixF(y.data(), n, 2), o) ==
          Approx(reference(x, y, n, 6, 2, k)).epsilon(1e-12));
    CHECK(trustworthiness(ConstMatrixF(x.data(), n, 6), ConstMatrixF(x.data(), n, 6), o) == 1.0);
  }
  TrustworthinessOptions sampled;
  sampled.max_queries = 50;
  const double part = trustworthiness(ConstMatrixF(x.data(), n, 6), ConstMatrixF(y.data(), n, 2), sampled);
  CHECK(part == Approx(reference(x, y, n, 6, 2, 5)).margin(0.05));
  TrustworthinessOptions too_many;
  too_many.n_neighbors = 100;
  CHECK_THROWS_AS(trustworthiness(ConstMatrixF(x.data(), n, 6), ConstMatrixF(y.data(), n, 2), too_many), InvalidArgument);
}
