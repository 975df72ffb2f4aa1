#pragma once
/// @file
/// UMAP's output-space curve 1/(1 + a·x^(2b)) fitted to the min_dist/spread target.

namespace spatialembed {

/// Parameters a, b of the low-dimensional similarity curve.
struct AbParams {
  double a;
  double b;
};

/// umap-learn's `find_ab_params`: least-squares fit (Levenberg–Marquardt from (1, 1), as
/// scipy.optimize.curve_fit) of 1/(1 + a·x^(2b)) to 1 for x < min_dist and
/// exp(−(x − min_dist)/spread) beyond, on 300 points of [0, 3·spread].
/// Throws InvalidArgument unless spread > 0 and 0 ≤ min_dist ≤ spread.
AbParams find_ab_params(double spread, double min_dist);

}  // namespace spatialembed
