#pragma once
// Core distances and the minimum spanning tree of HDBSCAN's mutual-reachability graph.
//
// Ties are broken by the total order (weight, lower index, higher index): under a strict
// total order the minimum spanning tree is unique, so Prim's and Borůvka's algorithms, and
// any thread count, return the same edges.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "neighbors/search_space.hpp"

namespace spatialembed::hdbscan_detail {

struct MstEdge {
  double weight;     // mutual-reachability distance, metric units
  std::uint32_t a;   // lower point index
  std::uint32_t b;   // higher point index
};

inline bool edge_less(double wx, std::uint32_t ax, std::uint32_t bx, double wy, std::uint32_t ay, std::uint32_t by) {
  if (wx != wy) return wx < wy;
  if (ax != ay) return ax < ay;
  return bx < by;
}

inline bool edge_less(const MstEdge& x, const MstEdge& y) { return edge_less(x.weight, x.a, x.b, y.weight, y.a, y.b); }

/// Metric distance between two rows of the space (from its search distance).
inline double metric_distance(const SearchSpace& space, const float* a, const float* b) {
  return space.distance(space.search_distance(a, b));
}

struct CoreAndTree {
  std::vector<double> core;    // n core distances, metric units
  std::vector<MstEdge> edges;  // n−1 edges, in no particular order
};

/// All pairs: core distances by selection over each row, then Prim's algorithm with the
/// mutual reachability computed on the fly. O(n²·d) time, O(n) memory.
CoreAndTree brute_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                      const std::function<void()>& core_done);

/// KD-tree: core distances by k-nearest-neighbour queries, then Borůvka's algorithm where each
/// point looks for its lightest edge to another component, pruned by component-pure
/// subtrees, the smallest core distance of a subtree and a per-component bound.
CoreAndTree kdtree_mst(const SearchSpace& space, std::size_t min_samples, double alpha, int num_threads,
                       const std::function<void()>& core_done);

}  // namespace spatialembed::hdbscan_detail
