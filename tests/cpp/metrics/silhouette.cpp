#include "spatialembed/metrics/silhouette.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "test_data.hpp"

using namespace spatialembed;
using Labels = std::vector<std::int64_t>;

namespace {

std::vector<double> samples(const std::vector<float>& x, std::size_t d, const Labels& labels,
                            SilhouetteOptions o = {}) {
  return silhouette_samples(ConstMatrixF(x.data(), labels.size(), d), labels, o);
}

double score(ConstMatrixF X, const Labels& labels, SilhouetteOptions o = {}) { return silhouette_score(X, labels, o); }
std::vector<double> samples(ConstMatrixF X, const Labels& labels) { return silhouette_samples(X, labels); }

// The textbook definition with a full distance table, in the most direct way.
std::vector<double> reference(const std::vector<float>& x, std::size_t d, const Labels& labels) {
  const std::size_t n = labels.size();
  auto dist = [&](std::size_t i, std::size_t j) {
    double s = 0;
    for (std::size_t k = 0; k < d; ++k) s += std::pow(double(x[i * d + k]) - x[j * d + k], 2);
    return std::sqrt(s);
  };
  std::vector<double> s(n);
  for (std::size_t i = 0; i < n; ++i) {
    double a = 0, b = HUGE_VAL;
    std::size_t own = 0;
    for (std::size_t j = 0; j < n; ++j) {
      if (labels[j] == labels[i] && j != i) a += dist(i, j), ++own;
    }
    for (std::size_t j = 0; j < n; ++j) {
      if (labels[j] == labels[i]) continue;
      double sum = 0;
      std::size_t members = 0;
      for (std::size_t l = 0; l < n; ++l) {
        if (labels[l] == labels[j]) sum += dist(i, l), ++members;
      }
      b = std::min(b, sum / members);
    }
    if (own == 0) continue;
    a /= own;
    s[i] = std::max(a, b) > 0 ? (b - a) / std::max(a, b) : 0.0;
  }
  return s;
}

}  // namespace

TEST_CASE("silhouette: hand-computed 1-D case", "[metrics][silhouette]") {
  // Points 0, 1 | 4, 5: a = 1 everywhere, b = 4.5 at the ends, 3.5 in the middle.
  const std::vector<float> x{0, 1, 4, 5};
  const Labels labels{0, 0, 1, 1};
  const auto s = samples(x, 1, labels);
  CHECK(s[0] == Approx(7.0 / 9.0).epsilon(1e-15));
  CHECK(s[1] == Approx(5.0 / 7.0).epsilon(1e-15));
  CHECK(s[2] == Approx(5.0 / 7.0).epsilon(1e-15));
  CHECK(s[3] == Approx(7.0 / 9.0).epsilon(1e-15));
  CHECK(silhouette_score(ConstMatrixF(x.data(), 4, 1), labels) == Approx(47.0 / 63.0).epsilon(1e-15));
}

TEST_CASE("silhouette: singletons and duplicate points give 0", "[metrics][silhouette]") {
  const std::vector<float> x{0, 1, 5};
  const auto s = samples(x, 1, {-1, -1, 3});
  CHECK(s[0] == Approx(0.8).epsilon(1e-15));
  CHECK(s[1] == Approx(0.75).epsilon(1e-15));
  CHECK(s[2] == 0.0);
  const std::vector<float> same(8, 2.5f);  // 4 identical 2-D points: a = b = 0
  for (double v : samples(same, 2, {0, 0, 1, 1})) CHECK(v == 0.0);
}

TEST_CASE("silhouette: other metrics", "[metrics][silhouette]") {
  // Two rays: cosine distance 0 within, 1 across, whatever the lengths.
  const std::vector<float> x{1, 0, 2, 0, 0, 1, 0, 3};
  SilhouetteOptions o;
  o.metric = Metric::cosine;
  for (double v : samples(x, 2, {0, 0, 1, 1}, o)) CHECK(v == Approx(1.0).epsilon(1e-15));
  o.metric = Metric::correlation;  // rows (1, 0), (2, 0) correlate perfectly, against (0, 1): −1
  for (double v : samples(x, 2, {0, 0, 1, 1}, o)) CHECK(v == Approx(1.0).epsilon(1e-15));
  // Manhattan on (0,0), (1,1) | (3,0): a = 2; b = 3 and 3.
  o.metric = Metric::manhattan;
  const auto s = samples({0, 0, 1, 1, 3, 0}, 2, {0, 0, 1}, o);
  CHECK(s[0] == Approx(1.0 / 3.0).epsilon(1e-15));
  CHECK(s[1] == Approx(1.0 / 3.0).epsilon(1e-15));
  CHECK(s[2] == 0.0);
}

TEST_CASE("silhouette equals its definition on random data", "[metrics][silhouette]") {
  Rng rng(9);
  for (std::size_t n : {3u, 20u, 150u}) {
    for (std::uint64_t k : {2u, 4u, 11u}) {
      const auto x = k == 4 ? test::lattice(n, 3, n + k, 3) : test::blobs(n, 3, n + k);  // lattice: duplicates
      Labels labels(n);
      for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::int64_t>(i < k ? i : rng.below(k)) - 1;
      if (k + 1 > n) continue;
      const auto s = samples(x, 3, labels), expected = reference(x, 3, labels);
      for (std::size_t i = 0; i < n; ++i) CHECK(s[i] == Approx(expected[i]).margin(1e-12));
    }
  }
}

TEST_CASE("silhouette does not depend on num_threads or label names", "[metrics][silhouette]") {
  const std::size_t n = 300;
  const auto x = test::blobs(n, 5, 21, 4);
  Rng rng(2);
  Labels labels(n), renamed(n);
  for (std::size_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int64_t>(rng.below(4));
    renamed[i] = 1000 - labels[i] * 1000000000000LL;  // order reversed, huge values
  }
  SilhouetteOptions one, many;
  one.num_threads = 1;
  many.num_threads = 3;
  const auto s1 = samples(x, 5, labels, one);
  CHECK(s1 == samples(x, 5, labels, many));
  CHECK(s1 == samples(x, 5, renamed, many));
  const ConstMatrixF view(x.data(), n, 5);
  CHECK(silhouette_score(view, labels, one) == silhouette_score(view, labels, many));
}

TEST_CASE("silhouette: invalid input", "[metrics][silhouette]") {
  const std::vector<float> x{0, 1, 4, 5};
  const ConstMatrixF view(x.data(), 4, 1);
  CHECK_THROWS_WITH(samples(view, Labels{0, 0, 0, 0}),
                    Catch::Contains("number of labels is 1") && Catch::Contains("n_samples - 1 = 3"));
  CHECK_THROWS_WITH(score(view, Labels{0, 1, 2, 3}), Catch::Contains("number of labels is 4"));
  CHECK_THROWS_WITH(score(view, Labels{0, 1, 1}), Catch::Contains("4 rows") && Catch::Contains("3 entries"));
  CHECK_THROWS_AS(score(ConstMatrixF(), Labels{}), InvalidArgument);
  SilhouetteOptions bad;
  bad.num_threads = -1;
  CHECK_THROWS_WITH(score(view, Labels{0, 0, 1, 1}, bad), Catch::Contains("num_threads") && Catch::Contains("-1"));
  const std::vector<float> nan{0, std::numeric_limits<float>::quiet_NaN(), 4, 5};
  CHECK_THROWS_WITH(score(ConstMatrixF(nan.data(), 4, 1), Labels{0, 0, 1, 1}), Catch::Contains("X[1, 0]"));
  SilhouetteOptions cosine;
  cosine.metric = Metric::cosine;
  CHECK_THROWS_WITH(score(view, Labels{0, 0, 1, 1}, cosine), Catch::Contains("row 0 is all zeros"));
}
