#include "neighbors/grid_index.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

// Shrinking the side a hair below radius/√d keeps a cell's diameter strictly inside the
// radius even after rounding in the cell assignment, so "same cell ⇒ neighbours" is exact.
constexpr double kSideShrink = 1.0 - 1e-9;
constexpr double kMaxCellCoordinate = 0x1.0p60;

double cell_side(std::size_t dim, double squared_radius) {
  return std::sqrt(squared_radius / static_cast<double>(dim)) * kSideShrink;
}

std::vector<double> lower_corner(const SearchSpace& space) {
  std::vector<double> lo(space.dim(), std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < space.size(); ++i) {
    for (std::size_t k = 0; k < space.dim(); ++k) lo[k] = std::min<double>(lo[k], space.point(i)[k]);
  }
  return lo;
}

}  // namespace

std::size_t GridIndex::KeyHash::operator()(const Key& key) const {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (const auto v : key) {
    h ^= static_cast<std::uint64_t>(v) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ULL;
  }
  return static_cast<std::size_t>(h ^ (h >> 31));
}

bool GridIndex::fits(const SearchSpace& space, double squared_radius) {
  if (space.dim() == 0 || space.dim() > max_dim) return false;
  if (space.size() >= std::numeric_limits<std::uint32_t>::max()) return false;
  const double side = cell_side(space.dim(), squared_radius);
  if (!(side > 0.0) || !std::isfinite(side)) return false;
  const auto lo = lower_corner(space);
  for (std::size_t i = 0; i < space.size(); ++i) {
    for (std::size_t k = 0; k < space.dim(); ++k) {
      if ((space.point(i)[k] - lo[k]) / side >= kMaxCellCoordinate) return false;
    }
  }
  return true;
}

GridIndex::GridIndex(const SearchSpace& space, double squared_radius) : dim_(space.dim()) {
  SPATIALEMBED_CHECK(fits(space, squared_radius), InvalidArgument,
                     "algorithm 'grid' needs 1 to {} features and an eps not tiny against the data's "
                     "extent; got {} features (use 'kdtree' or 'auto')",
                     max_dim, space.dim());
  const std::size_t n = space.size();
  const double side = cell_side(dim_, squared_radius);
  const auto lo = lower_corner(space);

  std::vector<Key> point_key(n, Key{});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < dim_; ++k) {
      point_key[i][k] = static_cast<std::int64_t>(std::floor((space.point(i)[k] - lo[k]) / side));
    }
  }
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0u);
  std::sort(order_.begin(), order_.end(), [&](std::uint32_t a, std::uint32_t b) {
    return point_key[a] != point_key[b] ? point_key[a] < point_key[b] : a < b;
  });

  cell_of_.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint32_t i = order_[r];
    if (r == 0 || point_key[i] != point_key[order_[r - 1]]) {
      cell_start_.push_back(static_cast<std::uint32_t>(r));
      cell_key_.push_back(point_key[i]);
    }
    cell_of_[i] = static_cast<std::uint32_t>(cell_key_.size() - 1);
  }
  cell_start_.push_back(static_cast<std::uint32_t>(n));

  cells_.reserve(cell_key_.size());
  for (std::size_t c = 0; c < cell_key_.size(); ++c) cells_.emplace(cell_key_[c], static_cast<std::uint32_t>(c));

  // Offsets o whose cells can hold points within the radius: the gap between the cells,
  // side·sqrt(Σ max(|o_k| − 1, 0)²), must not exceed the radius.
  const auto reach = static_cast<std::int64_t>(std::floor(std::sqrt(static_cast<double>(dim_)))) + 2;
  Key offset{};
  offset.fill(0);
  for (std::size_t k = 0; k < dim_; ++k) offset[k] = -reach;
  for (;;) {
    double gap2 = 0.0;
    for (std::size_t k = 0; k < dim_; ++k) {
      const double g = static_cast<double>(std::max<std::int64_t>(std::llabs(offset[k]) - 1, 0));
      gap2 += g * g;
    }
    if (gap2 * side * side <= squared_radius) offsets_.push_back(offset);
    std::size_t k = 0;
    while (k < dim_ && offset[k] == reach) offset[k++] = -reach;
    if (k == dim_) break;
    ++offset[k];
  }
}

}  // namespace spatialembed
