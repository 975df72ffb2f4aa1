#pragma once
// A uniform grid of cells with side radius/√d (Wang, Gu & Shun, SIGMOD 2020): any two
// points in one cell lie within the radius of each other, and the cells that can hold a
// point within the radius of a cell are a fixed set of offsets around it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "neighbors/search_space.hpp"

namespace spatialembed {

class GridIndex {
 public:
  /// Largest dimension a grid is built for: the neighbour offsets grow as (2⌊√d⌋+3)^d.
  static constexpr std::size_t max_dim = 4;

  /// Whether a grid can index `space` for this squared radius: dim ≤ max_dim, and the
  /// data's extent divided by the cell side stays far inside int64.
  static bool fits(const SearchSpace& space, double squared_radius);

  /// Builds the grid; throws InvalidArgument when `fits` is false.
  GridIndex(const SearchSpace& space, double squared_radius);

  std::size_t num_cells() const { return cell_key_.size(); }
  /// Indices of the points in cell c, ascending.
  VectorView<const std::uint32_t> cell_points(std::size_t c) const {
    return {order_.data() + cell_start_[c], cell_start_[c + 1] - cell_start_[c]};
  }
  std::uint32_t cell_of(std::size_t i) const { return cell_of_[i]; }

  /// Bounds on the squared distance from point p to any point of cell c, widened enough to
  /// absorb rounding: a cell with `far > r²` holds no point within r of p, and one with
  /// `near ≤ r²` holds only such points. Anything between needs exact distances.
  struct Reach {
    double near;  // lower bound, shrunk
    double far;   // upper bound, grown
  };
  Reach reach(const float* p, std::size_t c) const {
    double near = 0.0, far = 0.0;
    for (std::size_t k = 0; k < dim_; ++k) {
      const double lower = lo_[k] + static_cast<double>(cell_key_[c][k]) * side_;
      const double slack = kSlack * (std::abs(lower) + side_);
      const double below = (lower - slack) - p[k], above = p[k] - (lower + side_ + slack);
      const double gap = std::max({below, above, 0.0});
      const double span = std::max(std::abs(p[k] - (lower - slack)), std::abs(p[k] - (lower + side_ + slack)));
      near += gap * gap;
      far += span * span;
    }
    return {near * (1.0 - kSlack), far * (1.0 + kSlack)};
  }

  /// Calls fn(c2) for every non-empty cell c2 (c itself included) that may hold a point
  /// within the radius of some point of cell c.
  template <class F>
  void for_each_neighbor_cell(std::size_t c, F&& fn) const {
    const std::size_t last = dim_ - 1;
    const std::int64_t own = cell_key_[c][last];
    for (const RowOffset& offset : row_offsets_) {
      Key row = cell_key_[c];
      row[last] = 0;
      for (std::size_t k = 0; k < last; ++k) row[k] += offset.prefix[k];
      const auto it = rows_.find(row);
      if (it == rows_.end()) continue;
      // Cells of a row are sorted by their last coordinate.
      auto first = std::lower_bound(cell_key_.begin() + it->second.first, cell_key_.begin() + it->second.second,
                                    own - offset.reach,
                                    [last](const Key& key, std::int64_t value) { return key[last] < value; });
      for (; first != cell_key_.begin() + it->second.second && (*first)[last] <= own + offset.reach; ++first) {
        fn(static_cast<std::size_t>(first - cell_key_.begin()));
      }
    }
  }

 private:
  using Key = std::array<std::int64_t, max_dim>;
  struct KeyHash {
    std::size_t operator()(const Key& key) const;
  };

  static constexpr double kSlack = 1e-9;

  std::size_t dim_;
  double side_;
  std::vector<double> lo_;  // grid origin: the data's lower corner
  // Neighbour cells are found a row at a time: a row is the run of cells that share all
  // coordinates but the last; `reach` bounds the last coordinate's offset for that row.
  struct RowOffset {
    Key prefix;
    std::int64_t reach;
  };
  std::vector<RowOffset> row_offsets_;
  std::unordered_map<Key, std::pair<std::uint32_t, std::uint32_t>, KeyHash> rows_;  // row → [first, end) cells
  std::vector<Key> cell_key_;  // sorted lexicographically
  std::vector<std::uint32_t> cell_start_;  // num_cells + 1 offsets into order_
  std::vector<std::uint32_t> order_;       // point indices grouped by cell
  std::vector<std::uint32_t> cell_of_;
};

}  // namespace spatialembed
