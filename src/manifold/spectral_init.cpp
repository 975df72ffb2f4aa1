#include "spatialembed/manifold/spectral_init.hpp"

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <Spectra/MatOp/SparseSymMatProd.h>
#include <Spectra/SymEigsSolver.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

namespace spatialembed {

namespace {

using Sparse = Eigen::SparseMatrix<double>;

// Connected components; labels numbered by lowest vertex.
std::vector<std::size_t> components(const CsrMatrix& graph, std::size_t& count) {
  std::vector<std::size_t> label(graph.rows, graph.rows);
  count = 0;
  std::vector<std::size_t> stack;
  for (std::size_t s = 0; s < graph.rows; ++s) {
    if (label[s] != graph.rows) continue;
    label[s] = count;
    stack.push_back(s);
    while (!stack.empty()) {
      const auto v = stack.back();
      stack.pop_back();
      for (auto e = graph.indptr[v]; e < graph.indptr[v + 1]; ++e) {
        const auto u = static_cast<std::size_t>(graph.indices[e]);
        if (label[u] == graph.rows) {
          label[u] = count;
          stack.push_back(u);
        }
      }
    }
    ++count;
  }
  return label;
}

// Normalised adjacency D^{-1/2} W D^{-1/2} of the vertices in `members` (local numbering).
Sparse normalised_adjacency(const CsrMatrix& graph, const std::vector<std::size_t>& members,
                            const std::vector<std::size_t>& local) {
  const auto m = static_cast<Eigen::Index>(members.size());
  std::vector<double> degree(members.size(), 0.0);
  for (std::size_t a = 0; a < members.size(); ++a) {
    for (auto e = graph.indptr[members[a]]; e < graph.indptr[members[a] + 1]; ++e) degree[a] += graph.data[e];
  }
  std::vector<Eigen::Triplet<double>> triplets;
  for (std::size_t a = 0; a < members.size(); ++a) {
    for (auto e = graph.indptr[members[a]]; e < graph.indptr[members[a] + 1]; ++e) {
      const std::size_t b = local[static_cast<std::size_t>(graph.indices[e])];
      triplets.emplace_back(a, b, graph.data[e] / std::sqrt(degree[a] * degree[b]));
    }
  }
  Sparse w(m, m);
  w.setFromTriplets(triplets.begin(), triplets.end());
  return w;
}

// Eigenvectors 2..dim+1 of the Laplacian = those of the normalised adjacency with the
// largest eigenvalues after the trivial one. Returns false if the solver does not converge.
bool laplacian_eigenmap(const Sparse& adjacency, std::size_t dim, Eigen::MatrixXd& out) {
  const auto n = adjacency.rows();
  const auto nev = static_cast<Eigen::Index>(dim + 1);
  const auto ncv = std::min<Eigen::Index>(n, std::max<Eigen::Index>(2 * nev + 1, static_cast<Eigen::Index>(std::sqrt(n))));
  if (nev >= n || ncv <= nev) return false;
  Spectra::SparseSymMatProd<double> op(adjacency);
  Spectra::SymEigsSolver<Spectra::SparseSymMatProd<double>> solver(op, nev, ncv);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 5 * n + 1000, 1e-4, Spectra::SortRule::LargestAlge);
  if (solver.info() != Spectra::CompInfo::Successful) return false;
  // Sorted by decreasing eigenvalue: drop the first (trivial) one.
  out = solver.eigenvectors().middleCols(1, static_cast<Eigen::Index>(dim));
  return true;
}

void fill_random(std::vector<float>& embedding, std::size_t dim, const std::vector<std::size_t>& members,
                 const std::vector<double>& centre, double range, Rng& rng) {
  for (const auto v : members) {
    for (std::size_t k = 0; k < dim; ++k) {
      embedding[v * dim + k] = static_cast<float>(centre[k] + range * (2.0 * rng.uniform() - 1.0));
    }
  }
}

// Where each component goes: ±e_i, or a spectral layout of the centroids' affinities.
Eigen::MatrixXd component_positions(std::size_t count, std::size_t dim, ConstMatrixF data,
                                    const std::vector<std::size_t>& label, Rng& rng) {
  Eigen::MatrixXd meta(static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(dim));
  if (count <= 2 * dim) {
    meta.setZero();
    for (std::size_t c = 0; c < count; ++c) meta(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(c % dim)) = c < dim ? 1.0 : -1.0;
    return meta;
  }
  if (data.empty()) {
    for (Eigen::Index i = 0; i < meta.size(); ++i) meta.data()[i] = 2.0 * rng.uniform() - 1.0;
    return meta;
  }
  Eigen::MatrixXd centroid = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(data.cols));
  std::vector<double> size(count, 0.0);
  for (std::size_t i = 0; i < data.rows; ++i) {
    for (std::size_t k = 0; k < data.cols; ++k) centroid(static_cast<Eigen::Index>(label[i]), static_cast<Eigen::Index>(k)) += data(i, k);
    size[label[i]] += 1.0;
  }
  for (std::size_t c = 0; c < count; ++c) centroid.row(static_cast<Eigen::Index>(c)) /= size[c];
  // Affinity exp(−d²) between centroids, then its top non-trivial eigenvectors.
  Eigen::MatrixXd affinity(static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(count));
  for (Eigen::Index a = 0; a < affinity.rows(); ++a) {
    for (Eigen::Index b = 0; b < affinity.cols(); ++b) affinity(a, b) = std::exp(-(centroid.row(a) - centroid.row(b)).squaredNorm());
  }
  const Eigen::VectorXd d = affinity.rowwise().sum().cwiseSqrt().cwiseInverse();
  const Eigen::MatrixXd normalised = d.asDiagonal() * affinity * d.asDiagonal();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(normalised);
  meta = eig.eigenvectors().rightCols(static_cast<Eigen::Index>(dim + 1)).leftCols(static_cast<Eigen::Index>(dim));
  meta /= meta.cwiseAbs().maxCoeff();
  return meta;
}

}  // namespace

SpectralLayout spectral_layout(const CsrMatrix& graph, std::size_t dim, ConstMatrixF data, std::uint64_t seed) {
  SPATIALEMBED_CHECK(graph.rows == graph.cols, InvalidArgument, "graph must be square, got {} x {}", graph.rows,
                     graph.cols);
  const std::size_t n = graph.rows;
  Rng rng(seed, 0x5bec);
  SpectralLayout layout;
  layout.embedding.assign(n * dim, 0.0f);
  std::size_t count = 0;
  const auto label = components(graph, count);
  std::vector<std::vector<std::size_t>> members(count);
  std::vector<std::size_t> local(n);
  for (std::size_t v = 0; v < n; ++v) {
    local[v] = members[label[v]].size();
    members[label[v]].push_back(v);
  }

  const bool single = count == 1;
  Eigen::MatrixXd meta = single ? Eigen::MatrixXd::Zero(1, static_cast<Eigen::Index>(dim))
                                : component_positions(count, dim, data, label, rng);
  for (std::size_t c = 0; c < count; ++c) {
    const Eigen::RowVectorXd position = meta.row(static_cast<Eigen::Index>(c));
    const std::vector<double> centre(position.data(), position.data() + dim);
    // Half the distance to the nearest other component (1 when alone).
    double range = 1.0;
    if (!single) {
      range = HUGE_VAL;
      for (Eigen::Index o = 0; o < meta.rows(); ++o) {
        const double dist = (meta.row(o) - position).norm();
        if (dist > 0) range = std::min(range, dist / 2.0);
      }
      if (!std::isfinite(range)) range = 1.0;
    }
    if (members[c].size() < 2 * dim || members[c].size() <= dim + 1) {
      fill_random(layout.embedding, dim, members[c], centre, range, rng);
      continue;
    }
    Eigen::MatrixXd vectors;
    if (!laplacian_eigenmap(normalised_adjacency(graph, members[c], local), dim, vectors)) {
      layout.fell_back = true;
      fill_random(layout.embedding, dim, members[c], centre, single ? 10.0 : range, rng);
      continue;
    }
    const double scale = single ? 1.0 : range / vectors.cwiseAbs().maxCoeff();
    for (std::size_t a = 0; a < members[c].size(); ++a) {
      for (std::size_t k = 0; k < dim; ++k) {
        layout.embedding[members[c][a] * dim + k] =
            static_cast<float>(vectors(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(k)) * scale + centre[k]);
      }
    }
  }
  return layout;
}

}  // namespace spatialembed
