#pragma once
// UMAP's stochastic gradient layout (umap-learn 0.5 `optimize_layout_euclidean`), made
// reproducible under threads.

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/manifold/ab_params.hpp"

namespace spatialembed {

struct LayoutParams {
  AbParams ab{};
  double repulsion_strength = 1.0;    // γ
  double initial_alpha = 1.0;         // learning rate at epoch 0, decays linearly
  double negative_sample_rate = 5.0;
  double attraction_moves = 1.0;      // how many of umap-learn's attractive moves one edge sample makes
  std::size_t n_epochs = 0;
  std::uint64_t seed = 0;
  int num_threads = 0;
  const ProgressCallback* progress = nullptr;
};

/// A function of d² (float32) as a piecewise-linear table on log-spaced nodes: 2^kBits
/// segments per octave of d² from 2^kLowExponent to 2^kHighExponent, so that the segment
/// and the position in it come from d²'s float bits (no log, no division). Outside that
/// range, or when the table missed the requested relative accuracy at the midpoints and
/// quarter points of any segment (checked when built), `usable()` / `lookup` say so and the
/// caller evaluates the function exactly.
class SquaredDistanceTable {
 public:
  static constexpr int kBits = 7;
  static constexpr int kLowExponent = -16, kHighExponent = 16;

  SquaredDistanceTable() = default;
  /// Tabulates f (double → double) when linear interpolation is within `tolerance` of it,
  /// relative, everywhere in the range.
  template <class F>
  SquaredDistanceTable(F f, double tolerance);

  bool usable() const { return !nodes_.empty(); }
  /// The largest relative error found by the check (at 3 points per segment).
  double max_relative_error() const { return max_error_; }

  /// Sets `value` to the interpolated f(d2) and returns true when d2 lies in the table.
  bool lookup(float d2, float& value) const {
    std::uint32_t bits;
    std::memcpy(&bits, &d2, sizeof bits);
    const std::uint32_t offset = bits - kLowBits;
    if (offset >= kSpan || nodes_.empty()) return false;
    const std::uint32_t segment = offset >> kShift;
    const float t = static_cast<float>(offset & kMask) * (1.0f / static_cast<float>(1u << kShift));
    const float lo = nodes_[segment], hi = nodes_[segment + 1];
    value = lo + t * (hi - lo);
    return true;
  }

 private:
  static constexpr int kShift = 23 - kBits;
  static constexpr std::uint32_t kMask = (1u << kShift) - 1;
  static constexpr std::uint32_t kLowBits = static_cast<std::uint32_t>(127 + kLowExponent) << 23;
  static constexpr std::uint32_t kSpan = static_cast<std::uint32_t>(kHighExponent - kLowExponent) << 23;
  static float node(std::uint32_t offset) {
    const std::uint32_t bits = kLowBits + offset;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
  }
  std::vector<float> nodes_;  // f at the segments' ends
  double max_error_ = 0.0;
};

template <class F>
SquaredDistanceTable::SquaredDistanceTable(F f, double tolerance) {
  const std::uint32_t segments = kSpan >> kShift;
  std::vector<float> nodes(segments + 1);
  for (std::uint32_t s = 0; s <= segments; ++s) nodes[s] = static_cast<float>(f(static_cast<double>(node(s << kShift))));
  nodes_ = std::move(nodes);
  for (std::uint32_t s = 0; s < segments; ++s) {
    for (const std::uint32_t quarter : {1u, 2u, 3u}) {
      const std::uint32_t offset = (s << kShift) + quarter * (1u << (kShift - 2));
      const double exact = f(static_cast<double>(node(offset)));
      float approx = 0.0f;
      lookup(node(offset), approx);
      const double error = exact == 0.0 ? (approx == 0.0f ? 0.0 : HUGE_VAL) : std::abs((approx - exact) / exact);
      max_error_ = std::max(max_error_, error);
    }
  }
  if (!(max_error_ <= tolerance)) nodes_.clear();
}

/// UMAP's gradient coefficients as functions of the squared embedding distance d², both 0
/// at d² = 0: attractive −2ab·d²^(b−1) / (1 + a·d²^b) and repulsive
/// 2γb / ((0.001 + d²)(1 + a·d²^b)) (umap-learn's). Tabulated once per layout to a relative
/// accuracy of kTolerance (one lookup instead of a powf and a division per sample), exact
/// outside the table's range or where a and b make the curve too sharp for it.
class GradientCoefficients {
 public:
  static constexpr double kTolerance = 1e-4;

  GradientCoefficients(double a, double b, double gamma);

  float attractive(float d2) const {
    float value;
    return attractive_table_.lookup(d2, value) ? value : attractive_exact(d2);
  }
  float repulsive(float d2) const {
    float value;
    return repulsive_table_.lookup(d2, value) ? value : repulsive_exact(d2);
  }
  float attractive_exact(float d2) const;
  float repulsive_exact(float d2) const;
  const SquaredDistanceTable& attractive_table() const { return attractive_table_; }
  const SquaredDistanceTable& repulsive_table() const { return repulsive_table_; }

 private:
  float a_, b_, gamma_;
  SquaredDistanceTable attractive_table_, repulsive_table_;
};

/// Optimises `head` (n_head × dim, row-major, in place) along the weighted edges
/// head → tail of `edges` (n_head × n_tail CSR). With `fixed_tail` null the tail is the head
/// itself (a fit); otherwise `fixed_tail` (n_tail × dim) stays put (a transform).
///
/// Each epoch updates every head vertex from its own edges only, reading the other vertices
/// as they were at the start of the epoch, and draws its negative samples from its own
/// random stream Rng(seed, epoch·n_head + vertex): the result is the same for every thread
/// count. As each vertex moves only itself, an edge sample moves its head
/// `attraction_moves` times umap-learn's step (2 in a fit, where umap-learn moves both ends
/// of both directed copies of an edge).
void optimize_layout(float* head, std::size_t n_head, const float* fixed_tail, std::size_t n_tail, std::size_t dim,
                     const CsrMatrix& edges, const LayoutParams& params);

/// umap-learn's `make_epochs_per_sample`: n_epochs / (n_epochs · w / max w), −1 for w = 0.
std::vector<double> epochs_per_sample(const std::vector<float>& weights, std::size_t n_epochs);

}  // namespace spatialembed
