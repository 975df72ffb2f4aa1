#include "cluster/union_find.hpp"

#include <catch2/catch.hpp>

#include <vector>

#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"

using namespace spatialembed;

TEST_CASE("ConcurrentUnionFind roots are set minima, whatever the union order", "[cluster][union_find]") {
  const std::size_t n = 5000;
  Rng rng(3);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges(3000);
  for (auto& e : edges) e = {static_cast<std::uint32_t>(rng.below(n)), static_cast<std::uint32_t>(rng.below(n))};

  // Sequential reference: label propagation to the minimum until nothing changes.
  std::vector<std::uint32_t> minimum(n);
  for (std::uint32_t i = 0; i < n; ++i) minimum[i] = i;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto [a, b] : edges) {
      const auto m = std::min(minimum[a], minimum[b]);
      if (minimum[a] != m || minimum[b] != m) changed = true;
      minimum[a] = minimum[b] = m;
    }
  }
  for (int threads : {1, 2, 4}) {
    ConcurrentUnionFind uf(n);
    parallel_for(edges.size(), threads, [&](std::size_t e) { uf.unite(edges[e].first, edges[e].second); }, 1);
    for (std::uint32_t i = 0; i < n; ++i) REQUIRE(uf.find(i) == minimum[i]);
  }
}
