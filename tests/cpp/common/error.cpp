#include "spatialembed/common/error.hpp"

#include <catch2/catch.hpp>

using namespace spatialembed;

TEST_CASE("SPATIALEMBED_CHECK throws the named kind with a formatted message", "[common][error]") {
  const double eps = -0.5;
  try {
    SPATIALEMBED_CHECK(eps > 0, InvalidArgument, "eps must be > 0, got {}", eps);
    FAIL("no exception");
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()) == "eps must be > 0, got -0.5");
  }
  CHECK_NOTHROW([] { SPATIALEMBED_CHECK(true, IOError, "never {}", 1); }());
}

TEST_CASE("every error kind is a spatialembed::Error", "[common][error]") {
  CHECK_THROWS_AS(throw IOError("x"), Error);
  CHECK_THROWS_AS(throw FormatError("x"), Error);
  CHECK_THROWS_AS(throw InvalidArgument("x"), Error);
  CHECK_THROWS_AS(throw Cancelled("x"), Error);
}
