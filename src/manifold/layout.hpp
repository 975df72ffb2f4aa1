#pragma once
// UMAP's stochastic gradient layout (umap-learn 0.5 `optimize_layout_euclidean`), made
// reproducible under threads.

#include <cstddef>
#include <cstdint>

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
