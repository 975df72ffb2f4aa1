#include "neighbors/grid_index.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

TEST_CASE("GridIndex: neighbour cells cover every pair within the radius", "[neighbors][grid]") {
  for (std::size_t d = 1; d <= GridIndex::max_dim; ++d) {
    const std::size_t n = 300;
    const auto x = test::blobs(n, d, 10 + d, 3, 1.0, 8.0);
    const SearchSpace space(ConstMatrixF(x.data(), n, d), Metric::euclidean, 1);
    for (double eps : {0.3, 1.0, 2.5}) {
      const GridIndex grid(space, eps * eps);
      std::size_t total = 0;
      for (std::size_t c = 0; c < grid.num_cells(); ++c) total += grid.cell_points(c).size();
      REQUIRE(total == n);
      std::vector<std::set<std::size_t>> reachable(n);
      std::size_t visited = 0;
      for (std::size_t r = 0; r < grid.num_rows(); r += 3) {
        grid.for_each_cell_in_rows(r, std::min(r + 3, grid.num_rows()), [&](std::size_t c, const std::vector<std::uint32_t>& neighbors) {
          ++visited;
          REQUIRE(std::count(neighbors.begin(), neighbors.end(), c) == 1);
          for (auto p : grid.cell_points(c)) {
            for (auto c2 : neighbors) {
              for (auto j : grid.cell_points(c2)) reachable[p].insert(j);
            }
          }
        });
      }
      REQUIRE(visited == grid.num_cells());
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
          const double d2 = squared_distance(space.point(i), space.point(j), d);
          if (d2 <= eps * eps) REQUIRE(reachable[i].count(j) == 1);
          if (grid.cell_of(i) == grid.cell_of(j)) REQUIRE(d2 <= eps * eps);
        }
      }
    }
  }
}

TEST_CASE("GridIndex refuses what it cannot index", "[neighbors][grid]") {
  const auto x = test::blobs(20, 5, 1);
  const SearchSpace five(ConstMatrixF(x.data(), 20, 5), Metric::euclidean, 1);
  CHECK_FALSE(GridIndex::fits(five, 1.0));
  CHECK_THROWS_AS(GridIndex(five, 1.0), InvalidArgument);
  const SearchSpace two(ConstMatrixF(x.data(), 50, 2), Metric::euclidean, 1);
  CHECK(GridIndex::fits(two, 1.0));
  CHECK_FALSE(GridIndex::fits(two, 1e-300));  // cell numbers would overflow
}
