#include "spatialembed/metrics/clustering_agreement.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <numeric>
#include <utility>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Labels = std::vector<std::int64_t>;

namespace {

double ari(const Labels& a, const Labels& b) { return adjusted_rand_score(a, b); }
double nmi(const Labels& a, const Labels& b, AverageMethod m = AverageMethod::arithmetic) {
  return normalized_mutual_info_score(a, b, m);
}

Labels random_labels(std::size_t n, std::uint64_t k, Rng& rng) {
  Labels l(n);
  for (auto& v : l) v = static_cast<std::int64_t>(rng.below(k)) - 1;  // includes −1
  return l;
}

double choose2(double x) { return x * (x - 1) / 2; }

// Hubert & Arabie's formula from pair counts C(·, 2), in long double: an independent reference.
double reference_ari(const Labels& a, const Labels& b) {
  std::map<std::int64_t, long double> rows, cols;
  std::map<std::pair<std::int64_t, std::int64_t>, long double> cells;
  for (std::size_t i = 0; i < a.size(); ++i) ++rows[a[i]], ++cols[b[i]], ++cells[{a[i], b[i]}];
  long double index = 0, sa = 0, sb = 0;
  for (auto& [key, c] : cells) index += choose2(c);
  for (auto& [key, c] : rows) sa += choose2(c);
  for (auto& [key, c] : cols) sb += choose2(c);
  const long double expected = sa * sb / choose2(static_cast<long double>(a.size()));
  return static_cast<double>((index - expected) / ((sa + sb) / 2 - expected));
}

// MI = H(U) + H(V) − H(U, V), another way than the implementation's.
double reference_nmi_arithmetic(const Labels& a, const Labels& b) {
  std::map<std::int64_t, double> rows, cols;
  std::map<std::pair<std::int64_t, std::int64_t>, double> cells;
  for (std::size_t i = 0; i < a.size(); ++i) ++rows[a[i]], ++cols[b[i]], ++cells[{a[i], b[i]}];
  const double n = static_cast<double>(a.size());
  auto h = [&](const auto& counts) {
    double s = 0;
    for (auto& [key, c] : counts) s -= c / n * std::log(c / n);
    return s;
  };
  const double hu = h(rows), hv = h(cols);
  return (hu + hv - h(cells)) / ((hu + hv) / 2);
}

}  // namespace

TEST_CASE("adjusted_rand_score: sklearn docstring values", "[metrics][clustering_agreement]") {
  CHECK(ari({0, 0, 1, 1}, {0, 0, 1, 1}) == 1.0);
  CHECK(ari({0, 0, 1, 1}, {1, 1, 0, 0}) == 1.0);
  // Pair confusion (tn, fp, fn, tp) = (8, 2, 0, 2): 2·(2·8 − 0) / (2·8 + 4·10) = 4/7.
  CHECK(ari({0, 0, 1, 2}, {0, 0, 1, 1}) == Approx(4.0 / 7.0).epsilon(1e-15));
  CHECK(ari({0, 0, 1, 1}, {0, 0, 1, 2}) == Approx(4.0 / 7.0).epsilon(1e-15));
  CHECK(ari({0, 0, 0, 0}, {0, 1, 2, 3}) == 0.0);
  CHECK(ari({0, 0, 1, 1}, {0, 1, 0, 1}) == -0.5);
}

TEST_CASE("adjusted_rand_score: edge cases", "[metrics][clustering_agreement]") {
  CHECK(ari({7}, {3}) == 1.0);                   // one sample
  CHECK(ari({5, 5, 5}, {-1, -1, -1}) == 1.0);    // both one cluster: fn = fp = 0
  CHECK(ari({0, 1, 2}, {9, 8, 7}) == 1.0);       // both all singletons
  CHECK(ari({0, 0, 0}, {0, 1, 2}) == 0.0);
  // Labels at the ends of the int64 range are ordinary labels.
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  CHECK(ari({lo, lo, hi, hi}, {0, 0, 1, 1}) == 1.0);
}

TEST_CASE("adjusted_rand_score equals the pair-count formula", "[metrics][clustering_agreement]") {
  Rng rng(11);
  for (std::size_t n : {2u, 3u, 10u, 100u, 1000u}) {
    for (std::uint64_t k : {1u, 2u, 5u, 40u}) {
      const Labels a = random_labels(n, k, rng), b = random_labels(n, k + 1, rng);
      const double expected = reference_ari(a, b);
      if (std::isfinite(expected)) CHECK(ari(a, b) == Approx(expected).margin(1e-12));
      CHECK(ari(a, b) == ari(b, a));
    }
  }
}

TEST_CASE("adjusted_rand_score stays exact where pair products overflow 64 bits", "[metrics][clustering_agreement]") {
  Rng rng(3);
  const std::size_t n = 300000;  // tp·tn ≈ n⁴/4 ≈ 2·10²¹ > 2⁶³
  Labels a(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<std::int64_t>(rng.below(3));
    b[i] = rng.uniform() < 0.8 ? a[i] : static_cast<std::int64_t>(rng.below(3));
  }
  const double score = ari(a, b);
  CHECK(score > 0.5);
  CHECK(score < 1.0);
  CHECK(score == Approx(reference_ari(a, b)).margin(1e-12));
}

TEST_CASE("clustering agreement is invariant to renaming labels and reordering samples", "[metrics][clustering_agreement]") {
  Rng rng(5);
  const std::size_t n = 500;
  const Labels a = random_labels(n, 6, rng), b = random_labels(n, 4, rng);
  // Rename: an arbitrary injective map, with huge and negative values.
  auto rename = [](const Labels& l) {
    Labels r(l.size());
    for (std::size_t i = 0; i < l.size(); ++i) r[i] = (l[i] * 7919 + 13) * -1000000007LL;
    return r;
  };
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  Labels pa(n), pb(n);
  for (std::size_t i = 0; i < n; ++i) pa[i] = a[order[i]], pb[i] = b[order[i]];

  CHECK(ari(rename(a), b) == ari(a, b));
  CHECK(ari(pa, pb) == ari(a, b));
  for (auto m : {AverageMethod::min, AverageMethod::geometric, AverageMethod::arithmetic, AverageMethod::max}) {
    CHECK(nmi(rename(a), b, m) == Approx(nmi(a, b, m)).margin(1e-14));
    CHECK(nmi(pa, pb, m) == Approx(nmi(a, b, m)).margin(1e-14));
    CHECK(nmi(b, a, m) == Approx(nmi(a, b, m)).margin(1e-14));
  }
}

TEST_CASE("normalized_mutual_info_score: hand-computed values", "[metrics][clustering_agreement]") {
  CHECK(nmi({0, 0, 1, 1}, {1, 1, 0, 0}) == Approx(1.0).epsilon(1e-15));
  CHECK(nmi({0, 0, 0, 0}, {0, 1, 2, 3}) == 0.0);
  CHECK(nmi({0, 0, 1, 1}, {0, 1, 0, 1}) == 0.0);  // independent: MI = 0
  // V refines U: H(U) = ln 2, H(V) = 1.5 ln 2, MI = H(U) = ln 2.
  const Labels u{0, 0, 1, 1}, v{0, 0, 1, 2};
  CHECK(nmi(u, v, AverageMethod::min) == Approx(1.0).epsilon(1e-14));
  CHECK(nmi(u, v, AverageMethod::geometric) == Approx(1.0 / std::sqrt(1.5)).epsilon(1e-14));
  CHECK(nmi(u, v, AverageMethod::arithmetic) == Approx(0.8).epsilon(1e-14));
  CHECK(nmi(u, v, AverageMethod::max) == Approx(2.0 / 3.0).epsilon(1e-14));
}

TEST_CASE("normalized_mutual_info_score: sklearn's edge cases", "[metrics][clustering_agreement]") {
  for (auto m : {AverageMethod::min, AverageMethod::geometric, AverageMethod::arithmetic, AverageMethod::max}) {
    CHECK(nmi({4, 4, 4}, {-1, -1, -1}, m) == 1.0);  // neither splits the data
    CHECK(nmi({4}, {2}, m) == 1.0);
    CHECK(nmi({4, 4, 4}, {0, 1, 1}, m) == 0.0);     // one side single cluster: MI = 0
    CHECK(nmi({0, 1, 1}, {4, 4, 4}, m) == 0.0);
  }
}

TEST_CASE("normalized_mutual_info_score equals H(U) + H(V) - H(U, V) over the mean entropy", "[metrics][clustering_agreement]") {
  Rng rng(17);
  for (std::size_t n : {5u, 50u, 2000u}) {
    for (std::uint64_t k : {2u, 3u, 30u}) {
      const Labels a = random_labels(n, k, rng), b = random_labels(n, k + 2, rng);
      const double score = nmi(a, b);
      CHECK(score >= 0.0);
      CHECK(score <= 1.0);
      CHECK(score == Approx(reference_nmi_arithmetic(a, b)).margin(1e-12));
    }
  }
}

TEST_CASE("clustering agreement: invalid input", "[metrics][clustering_agreement]") {
  const Labels three{0, 1, 1}, two{0, 1}, none;
  CHECK_THROWS_WITH(ari(three, two), Catch::Contains("same length") && Catch::Contains("3 and 2"));
  CHECK_THROWS_AS(nmi(three, two), InvalidArgument);
  CHECK_THROWS_WITH(ari(none, none), Catch::Contains("empty"));
  CHECK_THROWS_AS(nmi(none, none), InvalidArgument);
  CHECK(parse_average_method("geometric") == AverageMethod::geometric);
  CHECK(std::string(to_string(AverageMethod::max)) == "max");
  CHECK_THROWS_WITH(parse_average_method("mean"), Catch::Contains("'mean'") && Catch::Contains("arithmetic"));
}
