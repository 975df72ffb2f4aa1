#pragma once
// A uniform grid of cells with side radius/√d (Wang, Gu & Shun, SIGMOD 2020): any two
// points in one cell lie within the radius of each other, and the cells that can hold a
// point within the radius of a cell are a fixed set of offsets around it.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "neighbors/search_space.hpp"

namespace spatialembed {

class GridIndex {
 public:
  /// Largest dimension a grid is built for: the neighbour offsets grow as (2⌊√d⌋+3)^d.
  static constexpr std::size_t max_dim = 4;

  /// Whether a grid can index `space` for this squared radius: dim ≤ max_dim, and a cell's
  /// coordinates (the data's extent over the cell side) pack into one 64-bit sort key.
  static bool fits(const SearchSpace& space, double squared_radius);

  /// Builds the grid with `num_threads` threads (0 = all cores); throws InvalidArgument
  /// when `fits` is false.
  GridIndex(const SearchSpace& space, double squared_radius, int num_threads = 1);

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

  /// Rows are the runs of cells that share every coordinate but the last.
  std::size_t num_rows() const { return row_start_.size() - 1; }

  /// Calls fn(c, neighbors) for every cell c of rows [row_begin, row_end), where `neighbors`
  /// lists the non-empty cells (c included) that may hold a point within the radius of some
  /// point of c. Neighbouring rows are looked up once per row, hence the walk by rows.
  template <class F>
  void for_each_cell_in_rows(std::size_t row_begin, std::size_t row_end, F&& fn) const {
    struct Span {
      std::uint32_t begin, end;
      std::int64_t reach;
    };
    const std::size_t last = dim_ - 1;
    std::vector<Span> spans;
    std::vector<std::uint32_t> neighbors;
    for (std::size_t r = row_begin; r < row_end; ++r) {
      spans.clear();
      for (const RowOffset& offset : row_offsets_) {
        Key prefix = cell_key_[row_start_[r]];
        for (std::size_t k = 0; k < last; ++k) prefix[k] += offset.prefix[k];
        const auto q = find_row(prefix);
        if (q >= 0) spans.push_back({row_start_[q], row_start_[q + 1], offset.reach});
      }
      for (std::uint32_t c = row_start_[r]; c < row_start_[r + 1]; ++c) {
        const std::int64_t own = cell_key_[c][last];
        neighbors.clear();
        for (const Span& span : spans) {
          // Cells of a row are sorted by their last coordinate.
          auto cell = std::lower_bound(cell_key_.begin() + span.begin, cell_key_.begin() + span.end,
                                       own - span.reach,
                                       [last](const Key& key, std::int64_t value) { return key[last] < value; });
          for (; cell != cell_key_.begin() + span.end && (*cell)[last] <= own + span.reach; ++cell) {
            neighbors.push_back(static_cast<std::uint32_t>(cell - cell_key_.begin()));
          }
        }
        fn(static_cast<std::size_t>(c), static_cast<const std::vector<std::uint32_t>&>(neighbors));
      }
    }
  }

 private:
  using Key = std::array<std::int64_t, max_dim>;

  // Row of the cells whose leading dim − 1 coordinates equal those of `prefix` (its last
  // coordinate is ignored), or −1. Open addressing with linear probing over row_slots_.
  std::int64_t find_row(const Key& prefix) const {
    for (std::size_t slot = row_hash(prefix) & slot_mask_;; slot = (slot + 1) & slot_mask_) {
      const std::uint32_t entry = row_slots_[slot];
      if (entry == 0) return -1;
      if (same_row(cell_key_[row_start_[entry - 1]], prefix)) return entry - 1;
    }
  }
  std::size_t row_hash(const Key& prefix) const;
  bool same_row(const Key& a, const Key& b) const {
    for (std::size_t k = 0; k + 1 < dim_; ++k) {
      if (a[k] != b[k]) return false;
    }
    return true;
  }

  static constexpr double kSlack = 1e-9;

  std::size_t dim_;
  double side_;
  std::vector<double> lo_;  // grid origin: the data's lower corner
  // Offsets of the neighbouring rows; `reach` bounds the last coordinate's offset there.
  struct RowOffset {
    Key prefix;
    std::int64_t reach;
  };
  std::vector<RowOffset> row_offsets_;
  std::vector<Key> cell_key_;              // sorted lexicographically
  std::vector<std::uint32_t> row_start_;   // num_rows + 1 offsets into the cells
  std::vector<std::uint32_t> row_slots_;   // hash table: row + 1, 0 = empty
  std::size_t slot_mask_ = 0;
  std::vector<std::uint32_t> cell_start_;  // num_cells + 1 offsets into order_
  std::vector<std::uint32_t> order_;       // point indices grouped by cell
  std::vector<std::uint32_t> cell_of_;
};

}  // namespace spatialembed
