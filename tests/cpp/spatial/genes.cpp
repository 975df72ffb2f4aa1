#include "spatialembed/spatial/genes.hpp"

#include <catch2/catch.hpp>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;
using Names = std::vector<std::vector<std::string>>;
using Cols = std::vector<std::int32_t>;

TEST_CASE("genes are matched by name, in the first section's order", "[genes]") {
  const Names names = {{"ACTB", "GAPDH", "ERBB2", "KRT19"}, {"KRT19", "MT-CO1", "ERBB2", "ACTB"}, {"ERBB2", "ACTB", "KRT19"}};
  const GeneMatch m = match_genes(names);
  CHECK(m.names == std::vector<std::string>{"ACTB", "ERBB2", "KRT19"});
  CHECK(m.ids == std::vector<std::string>{"", "", ""});
  REQUIRE(m.columns.size() == 3);
  CHECK(m.columns[0] == Cols{0, 2, 3});
  CHECK(m.columns[1] == Cols{3, 2, 0});
  CHECK(m.columns[2] == Cols{1, 0, 2});
  for (std::size_t s = 0; s < names.size(); ++s) {
    for (std::size_t k = 0; k < m.names.size(); ++k) CHECK(names[s][static_cast<std::size_t>(m.columns[s][k])] == m.names[k]);
  }

  SECTION("one section: every gene, in order") {
    const GeneMatch one = match_genes({{"B", "A"}});
    CHECK(one.names == std::vector<std::string>{"B", "A"});
    CHECK(one.columns[0] == Cols{0, 1});
  }
  SECTION("unique names match whatever their ids") {
    const GeneMatch byname = match_genes({{"A", "B"}, {"B", "A"}}, {{"e1", "e2"}, {"other", "e1"}});
    CHECK(byname.names == std::vector<std::string>{"A", "B"});
    CHECK(byname.ids == std::vector<std::string>{"e1", "e2"});
    CHECK(byname.columns[1] == Cols{1, 0});
  }
}

TEST_CASE("repeated names are matched by id (Visium features)", "[genes]") {
  // TBCE and MATR3 each name two Ensembl ids in Visium's features.tsv.gz.
  const Names names = {{"TBCE", "ACTB", "TBCE", "MATR3", "MATR3"}, {"MATR3", "TBCE", "ACTB", "TBCE", "KRT19"}};
  const Names ids = {{"ENSG00000285053", "ENSG00000075624", "ENSG00000284770", "ENSG00000015479", "ENSG00000280987"},
                     {"ENSG00000280987", "ENSG00000284770", "ENSG00000075624", "ENSG00000285053", "ENSG00000171345"}};
  const GeneMatch m = match_genes(names, ids);
  CHECK(m.names == std::vector<std::string>{"TBCE", "ACTB", "TBCE", "MATR3"});
  CHECK(m.ids == std::vector<std::string>{"ENSG00000285053", "ENSG00000075624", "ENSG00000284770", "ENSG00000280987"});
  CHECK(m.columns[0] == Cols{0, 1, 2, 4});
  CHECK(m.columns[1] == Cols{3, 2, 1, 0});

  SECTION("a section without ids cannot match a repeated name") {
    CHECK_THROWS_AS(match_genes(names, {ids[0], {}}), InvalidArgument);
    CHECK_THROWS_WITH(match_genes(names, {ids[0], {}}), Contains("'MATR3'") && Contains("section 1 gives no ids"));
  }
}

TEST_CASE("match_genes errors name the gene or the section", "[genes]") {
  SECTION("duplicated names without ids") {
    CHECK_THROWS_WITH(match_genes({{"A", "B", "A"}}), Contains("'A'") && Contains("no ids"));
  }
  SECTION("duplicated names with the same id") {
    CHECK_THROWS_WITH(match_genes({{"A", "B", "A"}}, {{"e1", "e2", "e1"}}),
                      Contains("'A'") && Contains("columns 0 and 2") && Contains("'e1'"));
  }
  SECTION("no gene shared") {
    CHECK_THROWS_WITH(match_genes({{"A", "B"}, {"B", "C"}, {"A", "C"}}), Contains("no gene is shared") && Contains("section 2"));
    CHECK_THROWS_WITH(match_genes({{"A"}, {"B"}}), Contains("section 1"));
  }
  SECTION("bad shapes") {
    CHECK_THROWS_WITH(match_genes({}), Contains("at least one section"));
    CHECK_THROWS_WITH(match_genes({{"A", "B"}}, {{"e1"}}), Contains("section 0") && Contains("1 ids for 2 gene names"));
    CHECK_THROWS_WITH(match_genes({{"A"}, {"A"}}, {{"e1"}}), Contains("one list per section"));
    CHECK_THROWS_WITH(match_genes({{"A", ""}}), Contains("gene 1 has an empty name"));
  }
}
