#include "neighbors/kdtree_index.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "test_data.hpp"

using namespace spatialembed;

TEST_CASE("KdTreeIndex radius search is exact and inclusive", "[neighbors][kdtree]") {
  for (std::size_t d : {1u, 2u, 5u, 12u}) {
    const std::size_t n = 400;
    const auto x = test::lattice(n, d, d);  // integer points: many pairs at exactly the radius
    const SearchSpace space(ConstMatrixF(x.data(), n, d), Metric::euclidean, 1);
    const KdTreeIndex tree(space);
    for (double r2 : {1.0, 2.0, 4.0}) {
      for (std::size_t i = 0; i < n; i += 7) {
        std::multiset<std::size_t> found;
        tree.radius_visit(space.point(i), r2, [&](std::uint32_t j, double dist) {
          REQUIRE(dist == squared_distance(space.point(i), space.point(j), d));
          found.insert(j);
          return true;
        });
        std::multiset<std::size_t> expected;
        for (std::size_t j = 0; j < n; ++j) {
          if (squared_distance(space.point(i), space.point(j), d) <= r2) expected.insert(j);
        }
        REQUIRE(found == expected);
      }
    }
  }
}

TEST_CASE("KdTreeIndex radius search stops when asked", "[neighbors][kdtree]") {
  const auto x = test::lattice(200, 2, 3, 3);
  const SearchSpace space(ConstMatrixF(x.data(), 200, 2), Metric::euclidean, 1);
  const KdTreeIndex tree(space);
  int calls = 0;
  tree.radius_visit(space.point(0), 100.0, [&](std::uint32_t, double) { return ++calls < 5; });
  CHECK(calls == 5);
}

TEST_CASE("KdTreeIndex k nearest neighbours match a sort", "[neighbors][kdtree]") {
  const std::size_t n = 300, d = 4, k = 7;
  const auto x = test::blobs(n, d, 5);
  const SearchSpace space(ConstMatrixF(x.data(), n, d), Metric::euclidean, 1);
  const KdTreeIndex tree(space);
  for (std::size_t i = 0; i < n; i += 11) {
    std::vector<std::uint32_t> index(k);
    std::vector<double> squared(k);
    tree.knn(space.point(i), k, index.data(), squared.data());
    std::vector<double> all(n);
    for (std::size_t j = 0; j < n; ++j) all[j] = squared_distance(space.point(i), space.point(j), d);
    std::sort(all.begin(), all.end());
    for (std::size_t r = 0; r < k; ++r) REQUIRE(squared[r] == all[r]);
  }
}
