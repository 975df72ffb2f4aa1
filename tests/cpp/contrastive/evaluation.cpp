// Retrieval, expression prediction and Pearson r against direct computations written here
// (BLEEP's notebook: cosine top-k, np.average with or without its exp(-distance) weights,
// np.corrcoef per gene).

#include "spatialembed/contrastive/evaluation.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;

namespace {

std::vector<float> random_rows(std::size_t n, std::size_t d, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n * d);
  for (auto& v : x) v = static_cast<float>(rng.normal());
  return x;
}

double cosine(const float* a, const float* b, std::size_t d) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t c = 0; c < d; ++c) ab += double(a[c]) * b[c], aa += double(a[c]) * a[c], bb += double(b[c]) * b[c];
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST_CASE("nearest_by_cosine: the k most similar, most similar first", "[contrastive][evaluation]") {
  const std::size_t nq = 150, nr = 90, d = 7, k = 5;  // more queries than one block of 128
  const auto q = random_rows(nq, d, 1), r = random_rows(nr, d, 2);
  const auto idx = nearest_by_cosine(q.data(), nq, r.data(), nr, d, k, 2);
  REQUIRE(idx.size() == nq * k);
  for (std::size_t i = 0; i < nq; ++i) {
    std::vector<std::pair<double, std::size_t>> all;
    for (std::size_t j = 0; j < nr; ++j) all.emplace_back(-cosine(&q[i * d], &r[j * d], d), j);
    std::sort(all.begin(), all.end());
    for (std::size_t j = 0; j < k; ++j) CHECK(idx[i * k + j] == all[j].second);
  }
  CHECK(nearest_by_cosine(q.data(), nq, r.data(), nr, d, k, 1) == idx);
  // Scaling a row changes no cosine.
  auto scaled = r;
  for (auto& v : scaled) v *= 3.5f;
  CHECK(nearest_by_cosine(q.data(), nq, scaled.data(), nr, d, k) == idx);
  CHECK(top1_accuracy(r.data(), nr, scaled.data(), nr, d) == 1.0);
}

TEST_CASE("predict_expression: mean and BLEEP-weighted mean of the top k", "[contrastive][evaluation]") {
  const std::size_t nq = 20, nr = 60, d = 6, G = 9, k = 7;
  const auto q = random_rows(nq, d, 3), r = random_rows(nr, d, 4), expr = random_rows(nr, G, 5);
  const auto idx = nearest_by_cosine(q.data(), nq, r.data(), nr, d, k);
  for (auto aggregation : {RetrievalAggregation::mean, RetrievalAggregation::weighted}) {
    RetrievalOptions o;
    o.k = k;
    o.aggregation = aggregation;
    const auto pred = predict_expression(q.data(), nq, r.data(), nr, d, expr.data(), G, o);
    REQUIRE(pred.size() == nq * G);
    for (std::size_t i = 0; i < nq; ++i) {
      // BLEEP: a = distance² of the top match; weights exp(−(d² − a + 1)); np.average.
      double a = 0;
      for (std::size_t c = 0; c < d; ++c) a += std::pow(r[idx[i * k] * d + c] - q[i * d + c], 2);
      std::vector<double> w(k, 1.0);
      if (aggregation == RetrievalAggregation::weighted)
        for (std::size_t j = 0; j < k; ++j) {
          double d2 = 0;
          for (std::size_t c = 0; c < d; ++c) d2 += std::pow(r[idx[i * k + j] * d + c] - q[i * d + c], 2);
          w[j] = std::exp(-(d2 - a + 1));
        }
      const double total = std::accumulate(w.begin(), w.end(), 0.0);
      for (std::size_t g = 0; g < G; ++g) {
        double expected = 0;
        for (std::size_t j = 0; j < k; ++j) expected += w[j] * expr[idx[i * k + j] * G + g];
        CHECK(pred[i * G + g] == Approx(expected / total).margin(1e-5));
      }
    }
  }
  CHECK(parse_retrieval_aggregation("weighted") == RetrievalAggregation::weighted);
}

TEST_CASE("pearson_per_gene equals corrcoef; means over gene lists skip NaN", "[contrastive][evaluation]") {
  const std::size_t n = 30, G = 4;
  auto pred = random_rows(n, G, 6), meas = random_rows(n, G, 7);
  for (std::size_t i = 0; i < n; ++i) pred[i * G + 3] = 2.0f;  // constant gene → NaN
  for (std::size_t i = 0; i < n; ++i) meas[i * G + 1] = 0.5f * pred[i * G + 1] + 1;  // r = 1
  const auto r = pearson_per_gene(pred.data(), meas.data(), n, G);
  for (std::size_t g : {0u, 2u}) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) mx += pred[i * G + g] / double(n), my += meas[i * G + g] / double(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double x = pred[i * G + g] - mx, y = meas[i * G + g] - my;
      sxy += x * y, sxx += x * x, syy += y * y;
    }
    CHECK(r[g] == Approx(sxy / std::sqrt(sxx * syy)).margin(1e-12));
  }
  CHECK(r[1] == Approx(1.0).margin(1e-6));
  CHECK(std::isnan(r[3]));
  CHECK(mean_over(r, {1, 3}) == Approx(r[1]));
  CHECK(mean_over(r, {0, 1, 2}) == Approx((r[0] + r[1] + r[2]) / 3));
  CHECK(std::isnan(mean_over(r, {3})));
  CHECK_THROWS_WITH(mean_over(r, {4}), Contains("4"));

  std::vector<float> expr = {1, 5, 2, 0, 3, 5, 2, 0};  // 2 spots × 4 genes: means 2, 5, 2, 0
  CHECK(highest_mean_genes(expr.data(), 2, 4, 3) == std::vector<std::size_t>{1, 0, 2});
}

TEST_CASE("evaluation bad input is a clear error", "[contrastive][evaluation][bad]") {
  const auto q = random_rows(3, 2, 8);
  CHECK_THROWS_WITH(nearest_by_cosine(q.data(), 3, q.data(), 3, 2, 4), Contains("k"));
  auto bad = q;
  bad[3] = NAN;
  CHECK_THROWS_WITH(nearest_by_cosine(bad.data(), 3, q.data(), 3, 2, 1), Contains("row 1"));
  RetrievalOptions o;
  CHECK_THROWS_WITH(predict_expression(q.data(), 3, q.data(), 3, 2, q.data(), 2, o), Contains("k = 50"));
  CHECK_THROWS_WITH(pearson_per_gene(q.data(), q.data(), 1, 2), Contains("2 spots"));
  CHECK_THROWS_AS(parse_retrieval_aggregation("median"), InvalidArgument);
}
