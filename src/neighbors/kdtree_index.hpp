#pragma once
// Exact radius and k-nearest-neighbour queries on a nanoflann KD-tree, with distances in
// double and the radius inclusive (nanoflann's own radius search is strict).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "neighbors/search_space.hpp"

namespace spatialembed {

class KdTreeIndex {
 public:
  /// Builds the tree over `space`, which must outlive the index.
  explicit KdTreeIndex(const SearchSpace& space);
  ~KdTreeIndex();
  KdTreeIndex(const KdTreeIndex&) = delete;
  KdTreeIndex& operator=(const KdTreeIndex&) = delete;

  /// Calls visit(j, squared_distance) for every point j with squared distance to `query`
  /// ≤ `squared_radius` (query itself included when it is a data point), in no fixed order.
  /// Stops early when visit returns false.
  void radius_visit(const float* query, double squared_radius,
                    const std::function<bool(std::uint32_t, double)>& visit) const;

  /// The k nearest points to `query`, nearest first: indices into `index`, squared
  /// distances into `squared`. k must be ≤ the number of points.
  void knn(const float* query, std::size_t k, std::uint32_t* index, double* squared) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spatialembed
