#pragma once
/// @file
/// Recall of an approximate k-nearest-neighbour graph against the exact one.

#include "spatialembed/neighbors/knn_graph.hpp"

namespace spatialembed {

/// Share of the exact neighbours (all k columns of each row of `exact`) that appear in the
/// same row of `approximate`, in [0, 1]. Throws InvalidArgument if the graphs differ in n or k.
double knn_recall(const KnnGraph& approximate, const KnnGraph& exact);

}  // namespace spatialembed
