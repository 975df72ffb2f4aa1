#include "spatialembed/common/matrix_view.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace spatialembed;

TEST_CASE("MatrixView addresses rows in row-major order", "[common][matrix_view]") {
  std::vector<float> data = {0, 1, 2, 3, 4, 5};
  MatrixF m(data.data(), 2, 3);
  CHECK(m(1, 2) == 5);
  CHECK(m.row(1)[0] == 3);
  m(0, 1) = 10;
  const ConstMatrixF c = m;
  CHECK(c(0, 1) == 10);
  CHECK(c.size() == 6);
}

TEST_CASE("VectorView views a std::vector", "[common][matrix_view]") {
  const std::vector<double> v = {1, 2, 3};
  const VectorView<const double> view = v;
  CHECK(view.size() == 3);
  CHECK(view[2] == 3);
  CHECK(VectorView<const double>().empty());
}
