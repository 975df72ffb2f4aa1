#pragma once
// Random point sets shared by the neighbour and clustering tests.

#include <cstddef>
#include <vector>

#include "spatialembed/common/random.hpp"

namespace spatialembed::test {

/// n × d row-major points: a few Gaussian blobs plus uniform noise, seeded.
inline std::vector<float> blobs(std::size_t n, std::size_t d, std::uint64_t seed, std::size_t centers = 3,
                                double spread = 1.0, double box = 10.0) {
  Rng rng(seed);
  std::vector<double> center(centers * d);
  for (auto& c : center) c = box * rng.uniform();
  std::vector<float> x(n * d);
  for (std::size_t i = 0; i < n; ++i) {
    const bool noise = rng.uniform() < 0.2;
    const std::size_t c = rng.below(centers);
    for (std::size_t k = 0; k < d; ++k) {
      x[i * d + k] = static_cast<float>(noise ? box * rng.uniform() : center[c * d + k] + spread * rng.normal());
    }
  }
  return x;
}

/// n × d points on the integer lattice [0, side)^d: exact distances, many ties and duplicates.
inline std::vector<float> lattice(std::size_t n, std::size_t d, std::uint64_t seed, std::uint64_t side = 6) {
  Rng rng(seed);
  std::vector<float> x(n * d);
  for (auto& v : x) v = static_cast<float>(rng.below(side));
  return x;
}

}  // namespace spatialembed::test
