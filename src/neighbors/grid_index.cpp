#include "neighbors/grid_index.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

namespace {

// Shrinking the side a hair below radius/√d keeps a cell's diameter strictly inside the
// radius even after rounding in the cell assignment, so "same cell ⇒ neighbours" is exact.
constexpr double kSideShrink = 1.0 - 1e-9;
double cell_side(std::size_t dim, double squared_radius) {
  return std::sqrt(squared_radius / static_cast<double>(dim)) * kSideShrink;
}

struct Extent {
  std::vector<double> lo, hi;
};

Extent extent(const SearchSpace& space) {
  Extent e{std::vector<double>(space.dim(), HUGE_VAL), std::vector<double>(space.dim(), -HUGE_VAL)};
  for (std::size_t i = 0; i < space.size(); ++i) {
    for (std::size_t k = 0; k < space.dim(); ++k) {
      e.lo[k] = std::min<double>(e.lo[k], space.point(i)[k]);
      e.hi[k] = std::max<double>(e.hi[k], space.point(i)[k]);
    }
  }
  return e;
}

// Bits per coordinate when a cell's coordinates are packed into one 64-bit sort key (the
// leading coordinate in the high bits, so integer order is lexicographic order); empty
// when they do not fit.
std::vector<int> key_bits(const Extent& e, double side) {
  std::vector<int> bits;
  int total = 0;
  for (std::size_t k = 0; k < e.lo.size(); ++k) {
    const double cells = std::floor((e.hi[k] - e.lo[k]) / side) + 1.0;
    if (!(cells < 0x1.0p62)) return {};
    int b = 0;
    while (b < 62 && std::ldexp(1.0, b) < cells) ++b;
    bits.push_back(b);
    total += b;
  }
  return total <= 64 ? bits : std::vector<int>{};
}

// The grid's origin and bits per packed cell coordinate, or nothing when no grid can index
// the space: 0 or more than max_dim features, too many points, or cells too small for 64 bits.
struct Layout {
  std::vector<double> lo;
  std::vector<int> bits;
};

std::optional<Layout> grid_layout(const SearchSpace& space, double side, std::size_t max_dim) {
  if (space.dim() == 0 || space.dim() > max_dim) return std::nullopt;
  if (space.size() >= std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  if (!(side > 0.0) || !std::isfinite(side)) return std::nullopt;
  if (space.size() == 0) return Layout{std::vector<double>(space.dim(), 0.0), std::vector<int>(space.dim(), 0)};
  Extent e = extent(space);
  auto bits = key_bits(e, side);
  if (bits.empty()) return std::nullopt;
  return Layout{std::move(e.lo), std::move(bits)};
}

}  // namespace

std::size_t GridIndex::row_hash(const Key& prefix) const {
  std::uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (std::size_t k = 0; k + 1 < dim_; ++k) h = (h ^ static_cast<std::uint64_t>(prefix[k])) * 0xBF58476D1CE4E5B9ULL;
  return static_cast<std::size_t>(h ^ (h >> 29));
}

bool GridIndex::fits(const SearchSpace& space, double squared_radius) {
  return grid_layout(space, cell_side(space.dim(), squared_radius), max_dim).has_value();
}

GridIndex::GridIndex(const SearchSpace& space, double squared_radius, int num_threads)
    : dim_(space.dim()), side_(cell_side(space.dim(), squared_radius)) {
  auto layout = grid_layout(space, side_, max_dim);
  SPATIALEMBED_CHECK(layout.has_value(), InvalidArgument,
                     "algorithm 'grid' needs 1 to {} features and an eps not tiny against the data's "
                     "extent; got {} features (use 'kdtree' or 'auto')",
                     max_dim, space.dim());
  const std::size_t n = space.size();
  lo_ = std::move(layout->lo);
  const std::vector<int> bits = std::move(layout->bits);
  auto cell_coordinate = [&](std::size_t i, std::size_t k) {
    return static_cast<std::int64_t>(std::floor((space.point(i)[k] - lo_[k]) / side_));
  };

  // (packed cell, point) pairs sorted together: cells in lexicographic order, points ascending.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> entries(n);
  parallel_for(n, num_threads, [&](std::size_t i) {
    std::uint64_t packed = 0;
    for (std::size_t k = 0; k < dim_; ++k) {
      packed = (bits[k] == 0 ? packed : packed << bits[k]) | static_cast<std::uint64_t>(cell_coordinate(i, k));
    }
    entries[i] = {packed, static_cast<std::uint32_t>(i)};
  }, 1024);
  parallel_sort(entries.begin(), entries.end(), num_threads);

  order_.resize(n);
  cell_of_.resize(n);
  for (std::size_t r = 0; r < n; ++r) {
    const auto [packed, i] = entries[r];
    order_[r] = i;
    if (r == 0 || packed != entries[r - 1].first) {
      Key key{};
      for (std::size_t k = 0; k < dim_; ++k) key[k] = cell_coordinate(i, k);
      cell_start_.push_back(static_cast<std::uint32_t>(r));
      cell_key_.push_back(key);
    }
    cell_of_[i] = static_cast<std::uint32_t>(cell_key_.size() - 1);
  }
  cell_start_.push_back(static_cast<std::uint32_t>(n));

  const std::size_t last = dim_ - 1;
  for (std::size_t c = 0; c < cell_key_.size(); ++c) {
    if (c == 0 || !same_row(cell_key_[c], cell_key_[c - 1])) row_start_.push_back(static_cast<std::uint32_t>(c));
  }
  const std::size_t rows = row_start_.size();
  row_start_.push_back(static_cast<std::uint32_t>(cell_key_.size()));
  std::size_t capacity = 2;
  while (capacity < 2 * rows) capacity *= 2;
  row_slots_.assign(capacity, 0);
  slot_mask_ = capacity - 1;
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t slot = row_hash(cell_key_[row_start_[r]]) & slot_mask_;
    while (row_slots_[slot] != 0) slot = (slot + 1) & slot_mask_;
    row_slots_[slot] = static_cast<std::uint32_t>(r + 1);
  }

  // Cells at offset o can hold points within the radius when the gap between the cells,
  // side·sqrt(Σ max(|o_k| − 1, 0)²), is at most the radius. For each offset of the leading
  // coordinates, the allowed |o_last| is an interval [0, reach].
  const auto max_reach = static_cast<std::int64_t>(std::floor(std::sqrt(static_cast<double>(dim_)))) + 2;
  auto gap2 = [side = side_](std::int64_t o) {
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
  // Nearest rows first: DBSCAN's neighbour counts then reach min_samples sooner.
  std::stable_sort(row_offsets_.begin(), row_offsets_.end(), [](const RowOffset& a, const RowOffset& b) {
    auto norm2 = [](const Key& key) {
      std::int64_t sum = 0;
      for (const auto v : key) sum += v * v;
      return sum;
    };
    return norm2(a.prefix) < norm2(b.prefix);
  });
}

}  // namespace spatialembed
