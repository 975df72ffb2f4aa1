#pragma once
/// @file
/// Seeded pseudo-random numbers: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64.
///
/// Every stochastic component takes a `uint64_t seed` and derives its generators from it,
/// so that the same seed gives the same output whatever `num_threads` is: a parallel
/// algorithm gives each work item its own stream `Rng(seed, item)`, never a thread its own.

#include <cmath>
#include <cstdint>
#include <limits>

namespace spatialembed {

/// splitmix64 (Steele, Lea & Flood 2014): one step of the generator used to seed xoshiro.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// xoshiro256** generator; satisfies UniformRandomBitGenerator, so it works with <random>.
class Rng {
 public:
  using result_type = std::uint64_t;

  /// Generator for `seed`; distinct `stream` values give independent sequences.
  explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) {
    std::uint64_t sm = seed ^ (0xD1B54A32D192ED03ULL * (stream + 1));
    for (auto& word : s_) word = splitmix64(sm);
  }

  /// Generator with the raw 256-bit state `s` (not all zero); for reference test vectors.
  static Rng from_state(std::uint64_t s0, std::uint64_t s1, std::uint64_t s2, std::uint64_t s3) {
    Rng rng;
    rng.s_[0] = s0;
    rng.s_[1] = s1;
    rng.s_[2] = s2;
    rng.s_[3] = s3;
    return rng;
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  /// Next 64 random bits.
  result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// Uniform integer in [0, n) without modulo bias (Lemire 2019); n must be > 0. The
  /// division that sets the rejection threshold runs only in the rare low-bits case.
  std::uint64_t below(std::uint64_t n) {
    __extension__ using u128 = unsigned __int128;  // GCC/Clang 128-bit product
    u128 m = static_cast<u128>((*this)()) * n;
    if (static_cast<std::uint64_t>(m) < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (static_cast<std::uint64_t>(m) < threshold) m = static_cast<u128>((*this)()) * n;
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Standard normal variate (Marsaglia polar method, one value per call).
  double normal() {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0;
      const double v = 2.0 * uniform() - 1.0;
      const double s = u * u + v * v;
      if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace spatialembed
