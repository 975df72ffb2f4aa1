#include "spatialembed/spatial/hvg.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "spatial/loess.hpp"
#include "spatialembed/common/error.hpp"
#include "spatial/csr_test_util.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;
using test::csr;

namespace {

// Poisson counts, spots × genes: gene means log-uniform in [0.05, 20] (the same for every
// seed), spot size factors log-normal; the `planted` genes (means 0.3 … 5, each in its own seurat mean bin) are 8× higher in a random
// half of the spots and 5× lower in the other half (highly variable beyond their mean).
struct Simulated {
  std::vector<float> dense;
  std::vector<std::size_t> planted;
};

Simulated simulate(std::size_t spots, std::size_t genes, std::size_t n_planted, std::uint64_t seed) {
  Rng gene_rng(1), rng(seed);
  std::vector<double> mu(genes), size(spots);
  for (auto& m : mu) m = 0.05 * std::pow(400.0, gene_rng.uniform());
  for (auto& s : size) s = std::exp(0.3 * rng.normal());
  Simulated sim;
  for (std::size_t k = 0; k < n_planted; ++k) {
    sim.planted.push_back(k * (genes / n_planted) + 3);
    mu[sim.planted.back()] = 0.3 * std::pow(1.5, static_cast<double>(k));  // one per mean bin
  }
  std::vector<bool> high(spots);
  for (std::size_t i = 0; i < spots; ++i) high[i] = rng.uniform() < 0.5;
  sim.dense.resize(spots * genes);
  for (std::size_t i = 0; i < spots; ++i) {
    for (std::size_t j = 0; j < genes; ++j) {
      double rate = size[i] * mu[j];
      if (std::find(sim.planted.begin(), sim.planted.end(), j) != sim.planted.end()) rate *= high[i] ? 8.0 : 0.2;
      std::poisson_distribution<int> poisson(rate);
      sim.dense[i * genes + j] = static_cast<float>(poisson(rng));
    }
  }
  return sim;
}

std::vector<std::size_t> selected(const HvgResult& r) {
  std::vector<std::size_t> s;
  for (std::size_t j = 0; j < r.highly_variable.size(); ++j) {
    if (r.highly_variable[j]) s.push_back(j);
  }
  return s;
}

const HvgFlavor kFlavors[] = {HvgFlavor::seurat, HvgFlavor::seurat_v3, HvgFlavor::pearson_residuals};

}  // namespace

TEST_CASE("HVG flavour names and options", "[hvg]") {
  for (const auto f : kFlavors) CHECK(parse_hvg_flavor(to_string(f)) == f);
  CHECK_THROWS_WITH(parse_hvg_flavor("cell_ranger"), Contains("'cell_ranger'"));
  HvgOptions o;
  CHECK(o.flavor == HvgFlavor::seurat);
  CHECK(o.n_top_genes == 2000);
  o.n_top_genes = 0;
  CHECK_THROWS_WITH(o.validate(), Contains("n_top_genes") && Contains("0"));
  o = HvgOptions();
  o.span = 0.0;
  CHECK_THROWS_WITH(o.validate(), Contains("span"));
  o = HvgOptions();
  o.theta = -1;
  CHECK_THROWS_WITH(o.validate(), Contains("theta") && Contains("-1"));
  o = HvgOptions();
  o.n_bins = 0;
  CHECK_THROWS_WITH(o.validate(), Contains("n_bins"));
  o = HvgOptions();
  o.clip = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(o.validate(), Contains("clip"));
}

TEST_CASE("direct loess reproduces a quadratic and smooths noise", "[hvg]") {
  std::vector<double> x, y;
  Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    x.push_back(rng.uniform() * 4 - 1);
    y.push_back(1.5 - 0.7 * x.back() + 0.25 * x.back() * x.back());
  }
  const auto fit = detail::loess_quadratic(x, y, 0.3, 2);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(fit[i] == Approx(y[i]).margin(1e-10));
  // Ties in x are fine; identical for any thread count.
  std::vector<double> xt = x, yt = y;
  for (std::size_t i = 0; i < xt.size(); ++i) {
    xt[i] = std::round(xt[i] * 4) / 4;
    yt[i] += 0.1 * rng.normal();
  }
  CHECK(detail::loess_quadratic(xt, yt, 0.3, 1) == detail::loess_quadratic(xt, yt, 0.3, 4));
  CHECK_THROWS_WITH(detail::loess_quadratic({1, 2, 3, 4}, {1, 2, 3, 4}, 0.5, 1), Contains("at least 3"));
}

TEST_CASE("seurat: dispersions normalised within mean bins, scanpy's single-gene rule", "[hvg]") {
  // expm1 of log data = these values; gene 3 alone in the top mean bin.
  const std::vector<double> raw = {1, 0, 2, 50,   //
                                   3, 1, 2, 90,   //
                                   0, 4, 2, 10,   //
                                   2, 3, 6, 70};
  const std::size_t n = 4, g = 4;
  std::vector<float> logged(raw.size());
  for (std::size_t k = 0; k < raw.size(); ++k) logged[k] = static_cast<float>(std::log1p(raw[k]));
  const CsrMatrix m = csr(n, g, logged);
  HvgOptions o;
  o.n_top_genes = 2;
  const HvgResult r = highly_variable_genes({m}, o);
  // Reference: mean, var (ddof 1), log dispersion, log1p mean, from the values as float32 gives them.
  std::vector<double> mean(g), disp(g);
  for (std::size_t j = 0; j < g; ++j) {
    double s = 0, ss = 0;
    for (std::size_t i = 0; i < n; ++i) s += std::expm1(static_cast<double>(logged[i * g + j]));
    mean[j] = s / n;
    for (std::size_t i = 0; i < n; ++i) ss += std::pow(std::expm1(static_cast<double>(logged[i * g + j])) - mean[j], 2);
    disp[j] = std::log(ss / (n - 1) / mean[j]);
    CHECK(r.means[j] == Approx(std::log1p(mean[j])).epsilon(1e-12));
    CHECK(r.dispersions[j] == Approx(disp[j]).epsilon(1e-12));
  }
  // log1p means ≈ 0.92, 1.10, 1.39, 4.03: 20 bins of width ≈ 0.16 put the genes in bins 0, 1,
  // 3 and 19, each alone: every normalised dispersion is 1 (scanpy's single-gene rule).
  for (std::size_t j = 0; j < g; ++j) CHECK(r.dispersions_norm[j] == Approx(1.0).epsilon(1e-12));
  // All tie at 1 ≥ the cut-off: scanpy selects every gene that reaches it.
  CHECK(selected(r).size() == 4);

  SECTION("one bin: (dispersion − bin mean) / bin std (ddof 1)") {
    o.n_bins = 1;
    const HvgResult one = highly_variable_genes({m}, o);
    double mu = 0, sd = 0;
    for (const double d : disp) mu += d / g;
    for (const double d : disp) sd += (d - mu) * (d - mu) / (g - 1);
    sd = std::sqrt(sd);
    for (std::size_t j = 0; j < g; ++j) CHECK(one.dispersions_norm[j] == Approx((disp[j] - mu) / sd).epsilon(1e-12));
    const std::size_t top = static_cast<std::size_t>(std::max_element(disp.begin(), disp.end()) - disp.begin());
    CHECK(one.highly_variable[top] == 1);
    CHECK(selected(one).size() == 2);
    CHECK(one.highly_variable_rank.empty());
    CHECK(one.variances.empty());
  }
}

TEST_CASE("pearson_residuals: clipped residual variance of the NB offset model", "[hvg]") {
  const std::size_t n = 5, g = 3;
  const std::vector<float> counts = {1, 0, 7,  //
                                     0, 2, 1,  //
                                     3, 0, 0,  //
                                     1, 1, 9,  //
                                     0, 0, 4};
  const CsrMatrix m = csr(n, g, counts);
  HvgOptions o;
  o.flavor = HvgFlavor::pearson_residuals;
  o.n_top_genes = 1;
  for (const double clip : {0.0, 1.0}) {
    o.clip = clip;
    const HvgResult r = highly_variable_genes({m}, o);
    std::vector<double> row(n, 0), col(g, 0);
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < g; ++j) row[i] += counts[i * g + j], col[j] += counts[i * g + j], total += counts[i * g + j];
    }
    const double c = clip > 0 ? clip : std::sqrt(double(n));
    std::vector<double> rv(g);
    for (std::size_t j = 0; j < g; ++j) {
      std::vector<double> z(n);
      double mean = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double mu = row[i] * col[j] / total;
        z[i] = std::clamp((counts[i * g + j] - mu) / std::sqrt(mu + mu * mu / 100.0), -c, c);
        mean += z[i] / n;
      }
      for (std::size_t i = 0; i < n; ++i) rv[j] += (z[i] - mean) * (z[i] - mean) / n;
      CHECK(r.residual_variances[j] == Approx(rv[j]).epsilon(1e-12));
      CHECK(r.means[j] == Approx(col[j] / n).epsilon(1e-12));
    }
    const std::size_t top = static_cast<std::size_t>(std::max_element(rv.begin(), rv.end()) - rv.begin());
    CHECK(selected(r) == std::vector<std::size_t>{top});
    CHECK(r.highly_variable_rank[top] == 0.0);
    CHECK(std::isnan(r.highly_variable_rank[(top + 1) % g]));
  }
  SECTION("an empty spot has no residuals") {
    const CsrMatrix e = csr(3, 2, {1, 2, 0, 0, 3, 1});
    CHECK_THROWS_WITH(highly_variable_genes({e}, o), Contains("batch 0: spot 1 has no counts"));
  }
}

TEST_CASE("planted highly variable genes are found by every flavour", "[hvg]") {
  const Simulated a = simulate(240, 1000, 8, 11), b = simulate(200, 1000, 8, 12);
  const CsrMatrix ma = csr(240, 1000, a.dense), mb = csr(200, 1000, b.dense);
  REQUIRE(a.planted == b.planted);
  auto includes_planted = [&](const HvgResult& r) {
    const auto s = selected(r);
    return std::includes(s.begin(), s.end(), a.planted.begin(), a.planted.end());
  };
  for (const auto flavor : kFlavors) {
    INFO(to_string(flavor));
    HvgOptions o;
    o.flavor = flavor;
    // The count-based flavours rank exactly the planted genes first; seurat, whose bins at the
    // ends of the mean range hold few genes, within twice their number.
    o.n_top_genes = flavor == HvgFlavor::seurat ? 16 : 8;
    const HvgResult one = highly_variable_genes_from_counts({ma}, o);
    CHECK(selected(one).size() == o.n_top_genes);
    CHECK(includes_planted(one));
    CHECK(one.warnings.empty());
    const HvgResult two = highly_variable_genes_from_counts({ma, mb}, o);
    CHECK(selected(two).size() == o.n_top_genes);
    CHECK(includes_planted(two));
    for (const std::size_t j : a.planted) {
      CHECK(two.highly_variable_nbatches[j] == 2);
      CHECK(two.highly_variable_intersection[j] == 1);
    }
    CHECK(two.n_batches == 2);

    // Identical for any thread count.
    HvgOptions o1 = o, o4 = o;
    o1.num_threads = 1, o4.num_threads = 4;
    const HvgResult r1 = highly_variable_genes_from_counts({ma, mb}, o1), r4 = highly_variable_genes_from_counts({ma, mb}, o4);
    CHECK(r1.highly_variable == r4.highly_variable);
    CHECK(r1.means == r4.means);
    CHECK(r1.dispersions_norm == r4.dispersions_norm);
    CHECK(r1.variances_norm == r4.variances_norm);
    CHECK(r1.residual_variances == r4.residual_variances);

    // More genes asked for than there are: all of them (seurat: all with a normalised dispersion).
    o.n_top_genes = 100000;
    const HvgResult all = highly_variable_genes_from_counts({ma}, o);
    CHECK(selected(all).size() == 1000);
  }
}

TEST_CASE("highly_variable_genes input errors name the batch", "[hvg]") {
  const CsrMatrix m = csr(3, 2, {1, 2, 0, 1, 3, 1});
  HvgOptions o;
  o.flavor = HvgFlavor::seurat_v3;
  CHECK_THROWS_WITH(highly_variable_genes({}, o), Contains("at least one batch"));
  const CsrMatrix narrow = csr(2, 1, {1, 2});
  CHECK_THROWS_WITH(highly_variable_genes({m, narrow}, o), Contains("batch 1 has 1 genes but batch 0 has 2"));
  const CsrMatrix single = csr(1, 2, {1, 2});
  CHECK_THROWS_WITH(highly_variable_genes({m, single}, o), Contains("batch 1 has 1 spot(s)"));
  CsrMatrix bad = m;
  bad.data[2] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(highly_variable_genes({m, bad}, o), Contains("batch 1") && Contains("spot 1, gene 1") && Contains("nan"));
  // seurat_v3 needs enough non-constant genes for its loess.
  CHECK_THROWS_WITH(highly_variable_genes({m}, o), Contains("seurat_v3, batch 0") && Contains("loess"));
  // seurat on raw counts: expm1 would overflow.
  o.flavor = HvgFlavor::seurat;
  CsrMatrix big = m;
  big.data[0] = 1000.0f;
  CHECK_THROWS_WITH(highly_variable_genes({big}, o), Contains("log1p-normalised") && Contains("spot 0, gene 0"));
  // Non-integer values where counts are expected: a warning, as in scanpy.
  o.flavor = HvgFlavor::pearson_residuals;
  CsrMatrix frac = m;
  frac.data[1] = 0.5f;
  const HvgResult r = highly_variable_genes({frac}, o);
  REQUIRE(r.warnings.size() == 1);
  CHECK_THAT(r.warnings[0], Contains("non-integer") && Contains("0.5 at spot 0, gene 1"));
}
