#include "spatialembed/neighbors/csr_graph.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

namespace {
struct Graph {
  std::vector<std::int64_t> indptr, indices;
  std::vector<double> distances;
  std::size_t n;
  CsrGraph view() const { return {indptr, indices, distances, n}; }
};
}  // namespace

TEST_CASE("CsrGraph accepts a well-formed graph", "[neighbors][csr_graph]") {
  Graph g{{0, 2, 2, 3}, {1, 2, 0}, {0.5, 0.0, 1.0}, 3};
  CHECK_NOTHROW(g.view().validate());
}

TEST_CASE("CsrGraph names each inconsistency", "[neighbors][csr_graph]") {
  Graph g{{0, 2, 2, 3}, {1, 2, 0}, {0.5, 0.0, 1.0}, 3};
  SECTION("indptr length") {
    g.indptr.pop_back();
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("n + 1 = 4"));
  }
  SECTION("decreasing indptr") {
    g.indptr = {0, 2, 1, 3};
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("non-decreasing"));
  }
  SECTION("index out of range") {
    g.indices[1] = 3;
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("indices[1] = 3"));
  }
  SECTION("negative index") {
    g.indices[0] = -1;
    CHECK_THROWS_AS(g.view().validate(), InvalidArgument);
  }
  SECTION("duplicate column") {
    g.indices[1] = 1;
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("twice"));
  }
  SECTION("bad distance") {
    g.distances[2] = std::nan("");
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("distances[2]"));
    g.distances[2] = -1;
    CHECK_THROWS_AS(g.view().validate(), InvalidArgument);
  }
  SECTION("nnz mismatch") {
    g.distances.pop_back();
    CHECK_THROWS_WITH(g.view().validate(), Catch::Contains("indptr[n] = 3"));
  }
}
