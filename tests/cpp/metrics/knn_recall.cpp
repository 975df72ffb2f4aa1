#include "spatialembed/metrics/knn_recall.hpp"

#include <catch2/catch.hpp>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;

TEST_CASE("knn_recall counts shared neighbours per row, in any order", "[metrics][knn_recall]") {
  const KnnGraph exact{2, 3, {0, 1, 2, 1, 0, 2}, std::vector<float>(6, 0.0f)};
  const KnnGraph approx{2, 3, {0, 2, 1, 1, 3, 4}, std::vector<float>(6, 0.0f)};
  CHECK(knn_recall(approx, exact) == Approx(4.0 / 6.0));
  CHECK(knn_recall(exact, exact) == 1.0);
  const KnnGraph other{1, 3, {0, 1, 2}, std::vector<float>(3, 0.0f)};
  CHECK_THROWS_AS(knn_recall(other, exact), InvalidArgument);
}
