#include "manifold/layout.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"

namespace spatialembed {

namespace {

constexpr float kClip = 4.0f;

float clip(float value) { return std::max(-kClip, std::min(kClip, value)); }

float squared_distance(const float* a, const float* b, std::size_t dim) {
  float sum = 0.0f;
  for (std::size_t d = 0; d < dim; ++d) {
    const float diff = a[d] - b[d];
    sum += diff * diff;
  }
  return sum;
}

// Per-edge sampling schedule, as in umap-learn.
struct Schedule {
  std::vector<double> per_sample, per_negative, next_sample, next_negative;
};

}  // namespace

GradientCoefficients::GradientCoefficients(double a, double b, double gamma)
    : a_(static_cast<float>(a)), b_(static_cast<float>(b)), gamma_(static_cast<float>(gamma)) {
  // The tables are built from the float32 a, b, γ the exact path uses, in double.
  const double fa = a_, fb = b_, fg = gamma_;
  attractive_table_ = SquaredDistanceTable(
      [&](double d2) { return -2.0 * fa * fb * std::pow(d2, fb - 1.0) / (fa * std::pow(d2, fb) + 1.0); }, kTolerance);
  repulsive_table_ = SquaredDistanceTable(
      [&](double d2) { return 2.0 * fg * fb / ((0.001 + d2) * (fa * std::pow(d2, fb) + 1.0)); }, kTolerance);
}

float GradientCoefficients::attractive_exact(float d2) const {
  if (!(d2 > 0.0f)) return 0.0f;
  const float d2b = std::pow(d2, b_);  // d2^(b−1) = d2^b / d2
  return -2.0f * a_ * b_ * (d2b / d2) / (a_ * d2b + 1.0f);
}

float GradientCoefficients::repulsive_exact(float d2) const {
  if (!(d2 > 0.0f)) return 0.0f;
  return 2.0f * gamma_ * b_ / ((0.001f + d2) * (a_ * std::pow(d2, b_) + 1.0f));
}

std::vector<double> epochs_per_sample(const std::vector<float>& weights, std::size_t n_epochs) {
  const float max_weight = weights.empty() ? 0.0f : *std::max_element(weights.begin(), weights.end());
  std::vector<double> result(weights.size(), -1.0);
  for (std::size_t e = 0; e < weights.size(); ++e) {
    const double samples = static_cast<double>(n_epochs) * (weights[e] / static_cast<double>(max_weight));
    if (samples > 0) result[e] = static_cast<double>(n_epochs) / samples;
  }
  return result;
}

namespace {

// One epoch's update of single head vertices. DIM is the embedding dimension when known at
// compile time (2 and 3, the usual cases, get unrolled loops), 0 when given at run time.
struct VertexUpdate {
  Schedule& s;
  const CsrMatrix& edges;
  const LayoutParams& p;
  const GradientCoefficients& coefficients;
  float* head;
  const float* tail;
  std::size_t n_head, n_tail, dim, epoch;
  float moves, alpha;
  bool fixed_tail;

  template <std::size_t DIM>
  void run(std::size_t j) const {
    const std::size_t d_end = DIM ? DIM : dim;
    float* current = head + j * d_end;
    float origin_fixed[DIM ? DIM : 1];
    thread_local std::vector<float> origin_dynamic;
    float* origin = origin_fixed;
    if (DIM == 0) {
      origin_dynamic.resize(dim);
      origin = origin_dynamic.data();
    }
    Rng rng(p.seed, epoch * n_head + j);
    const auto n = static_cast<double>(epoch);
    for (auto e = static_cast<std::size_t>(edges.indptr[j]); e < static_cast<std::size_t>(edges.indptr[j + 1]); ++e) {
      if (s.next_sample[e] > n) continue;
      const float* other = tail + static_cast<std::size_t>(edges.indices[e]) * d_end;
      const float d2 = squared_distance(current, other, d_end);
      const float attract = coefficients.attractive(d2);
      for (std::size_t d = 0; d < d_end; ++d) current[d] += moves * clip(attract * (current[d] - other[d])) * alpha;
      s.next_sample[e] += s.per_sample[e];

      if (!std::isfinite(s.per_negative[e])) continue;  // negative_sample_rate = 0
      const auto negatives = static_cast<long long>((n - s.next_negative[e]) / s.per_negative[e]);
      // All negative samples of this edge sample repel from where the point stood before
      // them, so their gradients are independent and the CPU overlaps them; umap-learn
      // applies them one after the other.
      std::copy(current, current + d_end, origin);
      // Drawn in batches of eight (the same draws in the same order) whose coordinates are
      // prefetched before the batch is used.
      constexpr long long kBatch = 8;
      std::size_t picks[kBatch];
      for (long long q0 = 0; q0 < negatives; q0 += kBatch) {
        const long long m = std::min(kBatch, negatives - q0);
        for (long long q = 0; q < m; ++q) {
          picks[q] = rng.below(n_tail);
          __builtin_prefetch(tail + picks[q] * d_end);
        }
        for (long long q = 0; q < m; ++q) {
          const std::size_t k = picks[q];
          if (!fixed_tail && k == j) continue;
          const float* sample = tail + k * d_end;
          const float ds = squared_distance(origin, sample, d_end);
          const float repel = coefficients.repulsive(ds);
          for (std::size_t d = 0; d < d_end; ++d) {
            current[d] += (repel > 0.0f ? clip(repel * (origin[d] - sample[d])) : kClip) * alpha;
          }
        }
      }
      s.next_negative[e] += static_cast<double>(negatives) * s.per_negative[e];
    }
  }
};

}  // namespace

void optimize_layout(float* head, std::size_t n_head, const float* fixed_tail, std::size_t n_tail, std::size_t dim,
                     const CsrMatrix& edges, const LayoutParams& p) {
  Schedule s;
  s.per_sample = epochs_per_sample(edges.data, p.n_epochs);
  s.per_negative.resize(s.per_sample.size());
  for (std::size_t e = 0; e < s.per_sample.size(); ++e) {
    s.per_negative[e] = p.negative_sample_rate > 0 ? s.per_sample[e] / p.negative_sample_rate : HUGE_VAL;
    if (s.per_sample[e] < 0) s.per_sample[e] = HUGE_VAL;  // weight 0: never sampled
  }
  s.next_sample = s.per_sample;
  s.next_negative = s.per_negative;

  const GradientCoefficients coefficients(p.ab.a, p.ab.b, p.repulsion_strength);
  std::vector<float> snapshot;
  double alpha = p.initial_alpha;
  for (std::size_t epoch = 0; epoch < p.n_epochs; ++epoch) {
    if (!fixed_tail) snapshot.assign(head, head + n_head * dim);
    const VertexUpdate update{s, edges, p, coefficients, head, fixed_tail ? fixed_tail : snapshot.data(),
                              n_head, n_tail, dim, epoch, static_cast<float>(p.attraction_moves),
                              static_cast<float>(alpha), fixed_tail != nullptr};
    switch (dim) {
      case 2: parallel_for(n_head, p.num_threads, [&](std::size_t j) { update.run<2>(j); }, 64); break;
      case 3: parallel_for(n_head, p.num_threads, [&](std::size_t j) { update.run<3>(j); }, 64); break;
      default: parallel_for(n_head, p.num_threads, [&](std::size_t j) { update.run<0>(j); }, 64); break;
    }
    alpha = p.initial_alpha * (1.0 - static_cast<double>(epoch) / static_cast<double>(p.n_epochs));
    if (p.progress && *p.progress && !(*p.progress)(epoch + 1, p.n_epochs)) {
      throw Cancelled("UMAP layout cancelled by its progress callback");
    }
  }
}

}  // namespace spatialembed
