#pragma once
// A uniform grid of cells with side radius/√d (Wang, Gu & Shun, SIGMOD 2020): any two
// points in one cell lie within the radius of each other, and the cells that can hold a
// point within the radius of a cell are a fixed set of offsets around it.

#include <array>
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

  /// Calls fn(c2) for every non-empty cell c2 (c itself included) that may hold a point
  /// within the radius of some point of cell c.
  template <class F>
  void for_each_neighbor_cell(std::size_t c, F&& fn) const {
    for (const Key& offset : offsets_) {
      Key key = cell_key_[c];
      for (std::size_t k = 0; k < dim_; ++k) key[k] += offset[k];
      const auto it = cells_.find(key);
      if (it != cells_.end()) fn(static_cast<std::size_t>(it->second));
    }
  }

 private:
  using Key = std::array<std::int64_t, max_dim>;
  struct KeyHash {
    std::size_t operator()(const Key& key) const;
  };

  std::size_t dim_;
  std::vector<Key> offsets_;
  std::vector<Key> cell_key_;
  std::vector<std::uint32_t> cell_start_;  // num_cells + 1 offsets into order_
  std::vector<std::uint32_t> order_;       // point indices grouped by cell
  std::vector<std::uint32_t> cell_of_;
  std::unordered_map<Key, std::uint32_t, KeyHash> cells_;
};

}  // namespace spatialembed
