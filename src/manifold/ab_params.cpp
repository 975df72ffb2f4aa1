#include "spatialembed/manifold/ab_params.hpp"

#include <Eigen/Core>
#include <unsupported/Eigen/NonLinearOptimization>

#include <cmath>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

// Residuals of the curve at the 300 sample points, for Eigen's MINPACK port.
struct CurveResiduals {
  using Scalar = double;
  using InputType = Eigen::VectorXd;
  using ValueType = Eigen::VectorXd;
  using JacobianType = Eigen::MatrixXd;
  enum { InputsAtCompileTime = Eigen::Dynamic, ValuesAtCompileTime = Eigen::Dynamic };

  Eigen::VectorXd x, y;

  int inputs() const { return 2; }
  int values() const { return static_cast<int>(x.size()); }

  int operator()(const Eigen::VectorXd& p, Eigen::VectorXd& r) const {
    for (Eigen::Index i = 0; i < x.size(); ++i) r[i] = 1.0 / (1.0 + p[0] * std::pow(x[i], 2.0 * p[1])) - y[i];
    return 0;
  }
  int df(const Eigen::VectorXd& p, Eigen::MatrixXd& jac) const {
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      const double x2b = x[i] > 0 ? std::pow(x[i], 2.0 * p[1]) : 0.0;
      const double denom = 1.0 + p[0] * x2b;
      jac(i, 0) = -x2b / (denom * denom);
      jac(i, 1) = x[i] > 0 ? -p[0] * x2b * 2.0 * std::log(x[i]) / (denom * denom) : 0.0;
    }
    return 0;
  }
};

}  // namespace

AbParams find_ab_params(double spread, double min_dist) {
  SPATIALEMBED_CHECK(std::isfinite(spread) && spread > 0, InvalidArgument, "spread must be > 0, got {}", spread);
  SPATIALEMBED_CHECK(min_dist >= 0 && min_dist <= spread, InvalidArgument,
                     "min_dist must be in [0, spread = {}], got {}", spread, min_dist);
  constexpr int kPoints = 300;
  CurveResiduals curve{Eigen::VectorXd(kPoints), Eigen::VectorXd(kPoints)};
  for (int i = 0; i < kPoints; ++i) {
    const double x = 3.0 * spread * i / (kPoints - 1);
    curve.x[i] = x;
    curve.y[i] = x < min_dist ? 1.0 : std::exp(-(x - min_dist) / spread);
  }
  Eigen::VectorXd p(2);
  p << 1.0, 1.0;
  Eigen::LevenbergMarquardt<CurveResiduals> solver(curve);
  solver.minimize(p);
  return {p[0], p[1]};
}

}  // namespace spatialembed
