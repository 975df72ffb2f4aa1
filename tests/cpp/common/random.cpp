#include "spatialembed/common/random.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace spatialembed;

// Reference outputs from the generators' published C code (prng.di.unimi.it):
// splitmix64 from state 0, xoshiro256** from state {1, 2, 3, 4}.
TEST_CASE("splitmix64 matches the reference sequence", "[common][random]") {
  std::uint64_t state = 0;
  CHECK(splitmix64(state) == 0xE220A8397B1DCDAFULL);
  CHECK(splitmix64(state) == 0x6E789E6AA1B965F4ULL);
  CHECK(splitmix64(state) == 0x06C45D188009454FULL);
}

TEST_CASE("xoshiro256** matches the reference sequence", "[common][random]") {
  auto rng = Rng::from_state(1, 2, 3, 4);
  CHECK(rng() == 11520ULL);
  CHECK(rng() == 0ULL);
  CHECK(rng() == 1509978240ULL);
  CHECK(rng() == 1215971899390074240ULL);
}

TEST_CASE("Rng is reproducible per seed and stream", "[common][random]") {
  Rng a(42), b(42), c(43), d(42, 1);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 100; ++i) {
    const auto x = a();
    REQUIRE(x == b());
    same_c += x == c();
    same_d += x == d();
  }
  CHECK(same_c == 0);
  CHECK(same_d == 0);
}

TEST_CASE("Rng distributions have the right moments", "[common][random]") {
  Rng rng(7);
  const int n = 200000;
  double sum_u = 0, sum_n = 0, sum_n2 = 0;
  std::uint64_t counts[5] = {};
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum_u += u;
    const double z = rng.normal();
    sum_n += z;
    sum_n2 += z * z;
    ++counts[rng.below(5)];
  }
  CHECK(sum_u / n == Approx(0.5).margin(0.005));
  CHECK(sum_n / n == Approx(0.0).margin(0.01));
  CHECK(sum_n2 / n == Approx(1.0).margin(0.02));
  for (auto count : counts) CHECK(static_cast<double>(count) / n == Approx(0.2).margin(0.005));
}
