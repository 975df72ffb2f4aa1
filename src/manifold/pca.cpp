#include "manifold/pca.hpp"

#include <Eigen/Core>
#include <Spectra/SymEigsSolver.h>

#include <algorithm>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// y = Xcᵀ Xc x (covariance side, d × d) or Xc Xcᵀ x (Gram side, n × n) for the centred
// data Xc = X − 1·meanᵀ, never formed.
class CentredProduct {
 public:
  using Scalar = double;
  CentredProduct(ConstMatrixF X, bool gram)
      : x_(X.data, static_cast<Eigen::Index>(X.rows), static_cast<Eigen::Index>(X.cols)),
        mean_(x_.colwise().sum().cast<double>() / static_cast<double>(X.rows)), gram_(gram) {}

  Eigen::Index rows() const { return gram_ ? x_.rows() : x_.cols(); }
  Eigen::Index cols() const { return rows(); }

  void perform_op(const double* in, double* out) const {
    if (gram_) {
      const Eigen::Map<const Eigen::VectorXd> u(in, x_.rows());
      const Eigen::VectorXd v = centred_transpose_times(u);   // d
      Eigen::Map<Eigen::VectorXd>(out, x_.rows()) = centred_times(v);
    } else {
      const Eigen::Map<const Eigen::VectorXd> v(in, x_.cols());
      const Eigen::VectorXd u = centred_times(v);  // n
      Eigen::Map<Eigen::VectorXd>(out, x_.cols()) = centred_transpose_times(u);
    }
  }

  // Products in float32 (the data's precision), centring in float64.
  Eigen::VectorXd centred_times(const Eigen::VectorXd& v) const {
    return (x_ * v.cast<float>()).cast<double>().array() - mean_.dot(v);
  }
  Eigen::VectorXd centred_transpose_times(const Eigen::VectorXd& u) const {
    return (x_.transpose() * u.cast<float>()).cast<double>() - mean_.transpose() * u.sum();
  }

 private:
  Eigen::Map<const RowMatrix> x_;
  Eigen::RowVectorXd mean_;
  bool gram_;
};

}  // namespace

std::vector<float> principal_components(ConstMatrixF X, std::size_t dim) {
  const std::size_t n = X.rows, side = std::min(X.rows, X.cols);
  SPATIALEMBED_CHECK(dim < side, InvalidArgument, "pca init needs n_components < min(n_samples, n_features) = {}, got {}",
                     side, dim);
  const bool gram = X.rows <= X.cols;
  CentredProduct op(X, gram);
  const auto nev = static_cast<Eigen::Index>(dim);
  const auto ncv = std::min<Eigen::Index>(static_cast<Eigen::Index>(side), std::max<Eigen::Index>(2 * nev + 1, 20));
  Spectra::SymEigsSolver<CentredProduct> solver(op, nev, ncv);
  solver.init();
  solver.compute(Spectra::SortRule::LargestAlge, 1000, 1e-6);
  SPATIALEMBED_CHECK(solver.info() == Spectra::CompInfo::Successful, Error,
                     "pca init: the eigensolver did not converge; use init='spectral' or 'random'");
  const Eigen::MatrixXd vectors = solver.eigenvectors();
  // Scores: Gram eigenvectors times √λ, or the centred data times the loadings.
  Eigen::MatrixXd scores(static_cast<Eigen::Index>(n), nev);
  for (Eigen::Index c = 0; c < nev; ++c) {
    scores.col(c) = gram ? Eigen::VectorXd(vectors.col(c) * std::sqrt(std::max(0.0, solver.eigenvalues()[c])))
                         : op.centred_times(vectors.col(c));
  }
  std::vector<float> out(n * dim);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < dim; ++c) out[i * dim + c] = static_cast<float>(scores(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)));
  }
  return out;
}

}  // namespace spatialembed
