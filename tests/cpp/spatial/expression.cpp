#include "spatialembed/spatial/expression.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "spatialembed/common/error.hpp"
#include "spatial/csr_test_util.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;
using test::csr;
using test::dense;

TEST_CASE("normalize_total scales every spot to target_sum; empty spots stay zero", "[expression]") {
  CsrMatrix m = csr(3, 3, {1, 3, 0,  //
                           0, 0, 0,  //
                           2, 0, 6});
  NormalizeTotalOptions o;
  o.target_sum = 10.0;
  normalize_total(m, o);
  const std::vector<float> expected = {2.5f, 7.5f, 0, 0, 0, 0, 2.5f, 0, 7.5f};
  CHECK(dense(m) == expected);
  CHECK(m.nnz() == 4);  // structure unchanged

  SECTION("target_sum 0 = median of the positive totals (scanpy's None)") {
    CsrMatrix a = csr(3, 2, {1, 3, 0, 0, 2, 6});  // totals 4, 0, 8 → median 6
    o.target_sum = 0.0;
    normalize_total(a, o);
    CHECK(dense(a) == std::vector<float>{1.5f, 4.5f, 0, 0, 1.5f, 4.5f});
  }
  SECTION("default 1e4, identical for any thread count") {
    Rng rng(3);
    std::vector<float> d(200 * 50);
    for (auto& v : d) v = rng.uniform() < 0.3 ? static_cast<float>(rng.below(20)) : 0.0f;
    CsrMatrix a = csr(200, 50, d), b = a;
    NormalizeTotalOptions one, many;
    one.num_threads = 1, many.num_threads = 4;
    normalize_total(a, one);
    normalize_total(b, many);
    CHECK(a.data == b.data);
    for (std::size_t i = 0; i < a.rows; ++i) {
      double s = 0.0;
      for (auto k = a.indptr[i]; k < a.indptr[i + 1]; ++k) s += a.data[k];
      if (a.indptr[i + 1] > a.indptr[i]) CHECK(s == Approx(1e4).epsilon(1e-6));
    }
  }
}

TEST_CASE("log1p is ln(1 + x) on stored values", "[expression]") {
  CsrMatrix m = csr(2, 2, {1, 0, 0, 1e4f});
  log1p(m);
  CHECK(m.data[0] == static_cast<float>(std::log(2.0)));
  CHECK(m.data[1] == static_cast<float>(std::log1p(1e4)));
}

TEST_CASE("filter_genes keeps genes by spots and counts, as scanpy", "[expression]") {
  const CsrMatrix m = csr(3, 4, {1, 0, 5, 0,  //
                                 2, 0, 0, 0,  //
                                 1, 1, 0, 0});
  GeneFilter f = filter_genes(m);
  CHECK(f.keep == std::vector<std::uint8_t>{1, 1, 1, 1});
  CHECK(f.n_spots == std::vector<std::int64_t>{3, 1, 1, 0});
  CHECK(f.n_counts == std::vector<double>{4, 1, 5, 0});
  FilterGenesOptions o;
  o.min_spots = 1;
  CHECK(filter_genes(m, o).keep == std::vector<std::uint8_t>{1, 1, 1, 0});
  o.min_spots = 2;
  CHECK(filter_genes(m, o).keep == std::vector<std::uint8_t>{1, 0, 0, 0});
  o.min_spots = 0, o.min_counts = 5;
  CHECK(filter_genes(m, o).keep == std::vector<std::uint8_t>{0, 0, 1, 0});
  o.min_spots = 2;  // both must hold
  CHECK(filter_genes(m, o).keep == std::vector<std::uint8_t>{0, 0, 0, 0});
  o.min_counts = -1;
  CHECK_THROWS_WITH(filter_genes(m, o), Contains("min_counts") && Contains("-1"));
}

TEST_CASE("bad expression values and structures are named", "[expression]") {
  CsrMatrix m = csr(2, 3, {1, 0, 2, 0, 4, 5});
  SECTION("negative") {
    m.data[3] = -1.0f;  // spot 1, gene 2
    CHECK_THROWS_AS(normalize_total(m), InvalidArgument);
    CHECK_THROWS_WITH(normalize_total(m), Contains("spot 1, gene 2") && Contains("-1"));
  }
  SECTION("NaN and inf") {
    m.data[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(log1p(m), Contains("spot 0, gene 0") && Contains("nan"));
    m.data[0] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(filter_genes(m), Contains("spot 0, gene 0") && Contains("inf"));
  }
  SECTION("column out of range") {
    m.indices[1] = 3;
    CHECK_THROWS_WITH(check_expression(m, "section 4"), Contains("section 4") && Contains("gene index 3"));
  }
  SECTION("a gene stored twice in a spot") {
    m.indices[3] = 1;
    CHECK_THROWS_WITH(check_expression(m), Contains("spot 1 stores gene 1 twice"));
  }
  SECTION("decreasing indptr") {
    m.indptr[1] = 5;
    CHECK_THROWS_WITH(check_expression(m), Contains("indptr decreases at spot 1"));
  }
  SECTION("options") {
    NormalizeTotalOptions o;
    o.target_sum = -3;
    CHECK_THROWS_WITH(o.validate(), Contains("target_sum") && Contains("-3"));
    o.target_sum = std::numeric_limits<double>::infinity();
    CHECK_THROWS_AS(o.validate(), InvalidArgument);
    o.target_sum = 1, o.num_threads = -1;
    CHECK_THROWS_WITH(o.validate(), Contains("num_threads"));
  }
}
