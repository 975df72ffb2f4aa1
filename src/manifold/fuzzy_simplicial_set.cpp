#include "spatialembed/manifold/fuzzy_simplicial_set.hpp"

#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <limits>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

constexpr double kSmoothKTolerance = 1e-5;
constexpr double kMinKDistScale = 1e-3;

using SparseRows = Eigen::SparseMatrix<float, Eigen::RowMajor, std::int64_t>;

SparseRows to_eigen(const CsrMatrix& m) {
  SparseRows out(static_cast<Eigen::Index>(m.rows), static_cast<Eigen::Index>(m.cols));
  std::vector<Eigen::Triplet<float, std::int64_t>> triplets;
  triplets.reserve(m.nnz());
  for (std::size_t i = 0; i < m.rows; ++i) {
    for (auto e = m.indptr[i]; e < m.indptr[i + 1]; ++e) triplets.emplace_back(i, m.indices[e], m.data[e]);
  }
  out.setFromTriplets(triplets.begin(), triplets.end());
  return out;
}

CsrMatrix from_eigen(SparseRows m) {
  m.prune(0.0f, 0.0f);  // removes exact zeros only
  m.makeCompressed();
  CsrMatrix out;
  out.rows = static_cast<std::size_t>(m.rows());
  out.cols = static_cast<std::size_t>(m.cols());
  out.indptr.assign(m.outerIndexPtr(), m.outerIndexPtr() + m.rows() + 1);
  out.indices.assign(m.innerIndexPtr(), m.innerIndexPtr() + m.nonZeros());
  out.data.assign(m.valuePtr(), m.valuePtr() + m.nonZeros());
  return out;
}

// ρ: distance to the local_connectivity-th nonzero neighbour, interpolated between ranks.
float local_rho(const std::vector<float>& nonzero, double local_connectivity) {
  if (nonzero.empty()) return 0.0f;
  if (static_cast<double>(nonzero.size()) < local_connectivity) return nonzero.back();
  const auto index = static_cast<std::size_t>(std::floor(local_connectivity));
  const double interpolation = local_connectivity - static_cast<double>(index);
  if (index == 0) return static_cast<float>(interpolation * nonzero[0]);
  double rho = nonzero[index - 1];
  if (interpolation > kSmoothKTolerance) rho += interpolation * (nonzero[index] - nonzero[index - 1]);
  return static_cast<float>(rho);
}

// umap-learn's `reprocess_row`: the power p of the (max-normalised) row whose sum is `target`.
void reprocess_row(float* values, std::size_t count, double target) {
  double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
  for (int iteration = 0; iteration < 32; ++iteration) {
    double psum = 0.0;
    for (std::size_t j = 0; j < count; ++j) psum += std::pow(static_cast<double>(values[j]), mid);
    if (std::fabs(psum - target) < kSmoothKTolerance) break;
    if (psum < target) {
      hi = mid;
      mid = (lo + hi) / 2.0;
    } else {
      lo = mid;
      mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
    }
  }
  for (std::size_t j = 0; j < count; ++j) values[j] = static_cast<float>(std::pow(static_cast<double>(values[j]), mid));
}

float smallest(const CsrMatrix& m) { return *std::min_element(m.data.begin(), m.data.end()); }

}  // namespace

SmoothKnn smooth_knn_dist(const KnnGraph& knn, double k, double local_connectivity, int n_iter, double bandwidth) {
  SPATIALEMBED_CHECK(local_connectivity >= 0, InvalidArgument, "local_connectivity must be >= 0, got {}",
                     local_connectivity);
  const double target = std::log2(k) * bandwidth;
  double mean_all = 0.0;
  for (const float d : knn.distances) mean_all += d;
  mean_all /= std::max<std::size_t>(1, knn.distances.size());

  SmoothKnn out{std::vector<float>(knn.n), std::vector<float>(knn.n)};
  std::vector<float> nonzero;
  for (std::size_t i = 0; i < knn.n; ++i) {
    const float* dist = knn.distances.data() + i * knn.k;
    nonzero.clear();
    double mean_i = 0.0;
    for (std::size_t j = 0; j < knn.k; ++j) {
      if (dist[j] > 0.0f) nonzero.push_back(dist[j]);
      mean_i += dist[j];
    }
    mean_i /= static_cast<double>(knn.k);
    const float rho = local_rho(nonzero, local_connectivity);

    double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
    for (int iteration = 0; iteration < n_iter; ++iteration) {
      double psum = 0.0;
      for (std::size_t j = 1; j < knn.k; ++j) {
        const double d = static_cast<double>(dist[j]) - rho;
        psum += d > 0.0 ? std::exp(-(d / mid)) : 1.0;
      }
      if (std::fabs(psum - target) < kSmoothKTolerance) break;
      if (psum > target) {
        hi = mid;
        mid = (lo + hi) / 2.0;
      } else {
        lo = mid;
        mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
      }
    }
    const double floor = kMinKDistScale * (rho > 0.0f ? mean_i : mean_all);
    out.sigmas[i] = static_cast<float>(std::max(mid, floor));
    out.rhos[i] = rho;
  }
  return out;
}

CsrMatrix membership_strengths(const KnnGraph& knn, const SmoothKnn& smooth, std::size_t n_data, bool bipartite) {
  CsrMatrix m;
  m.rows = knn.n;
  m.cols = n_data;
  m.indptr.push_back(0);
  std::vector<std::pair<std::int32_t, float>> row;
  for (std::size_t i = 0; i < knn.n; ++i) {
    row.clear();
    for (std::size_t j = 0; j < knn.k; ++j) {
      const std::int32_t index = knn.indices[i * knn.k + j];
      if (index < 0) continue;
      const double d = static_cast<double>(knn.distances[i * knn.k + j]) - smooth.rhos[i];
      double value;
      if (!bipartite && static_cast<std::size_t>(index) == i) {
        value = 0.0;
      } else if (d <= 0.0 || smooth.sigmas[i] == 0.0f) {
        value = 1.0;
      } else {
        value = std::exp(-(d / smooth.sigmas[i]));
      }
      if (static_cast<float>(value) != 0.0f) row.emplace_back(index, static_cast<float>(value));
    }
    std::sort(row.begin(), row.end());
    for (const auto& [index, value] : row) {
      m.indices.push_back(index);
      m.data.push_back(value);
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  return m;
}

CsrMatrix fuzzy_simplicial_set(const KnnGraph& knn, double set_op_mix_ratio, double local_connectivity) {
  SPATIALEMBED_CHECK(set_op_mix_ratio >= 0 && set_op_mix_ratio <= 1, InvalidArgument,
                     "set_op_mix_ratio must be in [0, 1], got {}", set_op_mix_ratio);
  const auto smooth = smooth_knn_dist(knn, static_cast<double>(knn.k), local_connectivity);
  const SparseRows a = to_eigen(membership_strengths(knn, smooth, knn.n, false));
  const SparseRows at = a.transpose();
  const SparseRows product = a.cwiseProduct(at);
  const auto mix = static_cast<float>(set_op_mix_ratio);
  const SparseRows result = mix * (a + at - product) + (1.0f - mix) * product;
  return from_eigen(result);
}

CsrMatrix fuzzy_set_intersection(const CsrMatrix& left, const CsrMatrix& right, double mix_weight, double k) {
  SPATIALEMBED_CHECK(left.rows == left.cols && right.rows == right.cols && left.rows == right.rows, InvalidArgument,
                     "fuzzy_set_intersection needs two square graphs of the same points, got {} x {} and {} x {}",
                     left.rows, left.cols, right.rows, right.cols);
  SPATIALEMBED_CHECK(left.nnz() > 0 && right.nnz() > 0, InvalidArgument,
                     "fuzzy_set_intersection: a graph has no edges ({} and {} edges)", left.nnz(), right.nnz());
  SPATIALEMBED_CHECK(mix_weight >= 0 && mix_weight <= 1, InvalidArgument, "mix_weight must be in [0, 1], got {}",
                     mix_weight);
  SPATIALEMBED_CHECK(k >= 2, InvalidArgument, "k must be >= 2, got {}", k);
  const double left_min = std::max(smallest(left) / 2.0, 1e-8);
  const double right_min = std::min(std::max(smallest(right) / 2.0, 1e-8), 1e-4);
  const SparseRows a = to_eigen(left), b = to_eigen(right);
  SparseRows s = a + b;  // the union of the two patterns; values replaced below
  s.makeCompressed();
  for (Eigen::Index i = 0; i < s.outerSize(); ++i) {
    SparseRows::InnerIterator ia(a, i), ib(b, i);
    for (SparseRows::InnerIterator it(s, i); it; ++it) {
      while (ia && ia.index() < it.index()) ++ia;
      while (ib && ib.index() < it.index()) ++ib;
      const double l = ia && ia.index() == it.index() ? ia.value() : left_min;
      const double r = ib && ib.index() == it.index() ? ib.value() : right_min;
      if (!(l > left_min || r > right_min)) continue;  // umap-learn keeps the sum there
      it.valueRef() = static_cast<float>(mix_weight < 0.5 ? l * std::pow(r, mix_weight / (1.0 - mix_weight))
                                                          : std::pow(l, (1.0 - mix_weight) / mix_weight) * r);
    }
  }
  // Restore local connectivity: each row's strongest edge 1, then the row's sum log2(k).
  const double target = std::log2(k);
  for (Eigen::Index i = 0; i < s.outerSize(); ++i) {
    const auto begin = s.outerIndexPtr()[i], end = s.outerIndexPtr()[i + 1];
    float* values = s.valuePtr() + begin;
    const auto count = static_cast<std::size_t>(end - begin);
    if (count == 0) continue;
    const float largest = *std::max_element(values, values + count);
    if (largest > 0.0f) std::for_each(values, values + count, [largest](float& v) { v /= largest; });
    reprocess_row(values, count, target);
  }
  const SparseRows st = s.transpose();
  return from_eigen(s + st - SparseRows(s.cwiseProduct(st)));
}

}  // namespace spatialembed
