#include "spatialembed/manifold/ab_params.hpp"

#include <catch2/catch.hpp>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

// Reference values from umap-learn 0.5.3 `find_ab_params(spread, min_dist)` (scipy curve_fit).
TEST_CASE("find_ab_params matches umap-learn", "[manifold][ab_params]") {
  struct Case {
    double spread, min_dist, a, b;
  };
  for (const auto& c : {Case{1.0, 0.1, 1.5769434601962196, 0.8950608779914887},
                        Case{1.0, 0.0, 1.9328083975546724, 0.7904949734010681},
                        Case{1.0, 0.5, 0.583030020479462, 1.3341669929263487},
                        Case{2.0, 0.3, 0.3794946888755375, 0.9488152190879922},
                        Case{0.5, 0.05, 5.453765169450458, 0.895060800578879},
                        Case{1.0, 1.0, 0.11497568285252263, 1.9292371466948077}}) {
    const auto ab = find_ab_params(c.spread, c.min_dist);
    CHECK(ab.a == Approx(c.a).epsilon(1e-4));
    CHECK(ab.b == Approx(c.b).epsilon(1e-4));
  }
  CHECK_THROWS_AS(find_ab_params(0.0, 0.1), InvalidArgument);
  CHECK_THROWS_WITH(find_ab_params(1.0, 1.5), Catch::Contains("min_dist must be in [0, spread = 1]"));
}
