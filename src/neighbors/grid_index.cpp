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

GridIndex::GridIndex(const SearchSpace& space, double squared_radius)
    : dim_(space.dim()), side_(cell_side(space.dim(), squared_radius)), lo_(lower_corner(space)) {
  SPATIALEMBED_CHECK(fits(space, squared_radius), InvalidArgument,
                     "algorithm 'grid' needs 1 to {} features and an eps not tiny against the data's "
                     "extent; got {} features (use 'kdtree' or 'auto')",
                     max_dim, space.dim());
  const std::size_t n = space.size();
  const double side = side_;
  const auto& lo = lo_;

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

  const std::size_t last = dim_ - 1;
  for (std::size_t c = 0; c < cell_key_.size(); ++c) {
    Key row = cell_key_[c];
    row[last] = 0;
    auto [it, inserted] = rows_.try_emplace(row, static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c));
    it->second.second = static_cast<std::uint32_t>(c + 1);
  }

  // Cells at offset o can hold points within the radius when the gap between the cells,
  // side·sqrt(Σ max(|o_k| − 1, 0)²), is at most the radius. For each offset of the leading
  // coordinates, the allowed |o_last| is an interval [0, reach].
  const auto max_reach = static_cast<std::int64_t>(std::floor(std::sqrt(static_cast<double>(dim_)))) + 2;
  auto gap2 = [side](std::int64_t o) {
    const double g = static_cast<double>(std::max<std::int64_t>(std::llabs(o) - 1, 0)) * side;
    return g * g;
  };
  Key prefix{};
  prefix.fill(0);
  for (std::size_t k = 0; k < last; ++k) prefix[k] = -max_reach;
  for (;;) {
    double prefix_gap2 = 0.0;
    for (std::size_t k = 0; k < last; ++k) prefix_gap2 += gap2(prefix[k]);
    std::int64_t reach = -1;
    while (reach < max_reach && prefix_gap2 + gap2(reach + 1) <= squared_radius) ++reach;
    if (reach >= 0) row_offsets_.push_back({prefix, reach});
    std::size_t k = 0;
    while (k < last && prefix[k] == max_reach) prefix[k++] = -max_reach;
    if (k == last) break;
    ++prefix[k];
  }
}

}  // namespace spatialembed
