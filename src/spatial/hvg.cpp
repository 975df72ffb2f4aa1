#include "spatialembed/spatial/hvg.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatial/loess.hpp"

namespace spatialembed {

const char* to_string(HvgFlavor flavor) {
  switch (flavor) {
    case HvgFlavor::seurat: return "seurat";
    case HvgFlavor::seurat_v3: return "seurat_v3";
    case HvgFlavor::pearson_residuals: return "pearson_residuals";
  }
  return "?";
}

HvgFlavor parse_hvg_flavor(const std::string& name) {
  for (const auto f : {HvgFlavor::seurat, HvgFlavor::seurat_v3, HvgFlavor::pearson_residuals}) {
    if (name == to_string(f)) return f;
  }
  detail::raise<InvalidArgument>("flavor must be 'seurat', 'seurat_v3' or 'pearson_residuals', got '{}'", name);
}

void HvgOptions::validate() const {
  SPATIALEMBED_CHECK(n_top_genes >= 1, InvalidArgument, "n_top_genes must be ≥ 1, got {}", n_top_genes);
  SPATIALEMBED_CHECK(n_bins >= 1 && n_bins <= 10000, InvalidArgument, "n_bins must be in 1 … 10000, got {}", n_bins);
  SPATIALEMBED_CHECK(span > 0.0 && span <= 1.0, InvalidArgument, "span must be in (0, 1], got {}", span);
  SPATIALEMBED_CHECK(theta > 0.0, InvalidArgument, "theta must be > 0 (+inf = Poisson), got {}", theta);
  SPATIALEMBED_CHECK(!std::isnan(clip), InvalidArgument, "clip must be a number (≤ 0 = √n, +inf = none), got {}", clip);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be ≥ 0 (0 = all cores), got {}", num_threads);
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One batch transposed to columns (genes): column j holds rows[ptr[j] .. ptr[j+1]) (ascending)
// with values val[...].
struct Columns {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int64_t> ptr;
  std::vector<std::int32_t> row;
  std::vector<float> val;

  std::size_t count(std::size_t j) const { return static_cast<std::size_t>(ptr[j + 1] - ptr[j]); }
};

Columns transpose(const ConstCsrView& x) {
  Columns c;
  c.rows = x.rows;
  c.cols = x.cols;
  c.ptr.assign(x.cols + 1, 0);
  const std::size_t nnz = x.nnz();
  for (std::size_t k = 0; k < nnz; ++k) ++c.ptr[static_cast<std::size_t>(x.indices[k]) + 1];
  for (std::size_t j = 0; j < x.cols; ++j) c.ptr[j + 1] += c.ptr[j];
  c.row.resize(nnz);
  c.val.resize(nnz);
  std::vector<std::int64_t> next(c.ptr.begin(), c.ptr.end() - 1);
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
      const auto at = next[static_cast<std::size_t>(x.indices[k])]++;
      c.row[at] = static_cast<std::int32_t>(i);
      c.val[at] = x.data[k];
    }
  }
  return c;
}

// Genes with a value > 0 in some spot of the batch (scanpy's filter_genes(min_cells=1)).
std::vector<std::uint8_t> expressed_genes(const Columns& c) {
  std::vector<std::uint8_t> expressed(c.cols, 0);
  for (std::size_t j = 0; j < c.cols; ++j) {
    for (auto k = c.ptr[j]; k < c.ptr[j + 1]; ++k) {
      if (c.val[k] > 0.0f) {
        expressed[j] = 1;
        break;
      }
    }
  }
  return expressed;
}

// Mean and variance (ddof = 1) of a sparse column of n values, `f` applied to each stored value,
// as scanpy's sparse_mean_variance_axis: two passes over the stored values, zeros added in bulk.
template <class F>
void mean_var(const Columns& c, std::size_t j, F f, double& mean, double& var) {
  const auto n = static_cast<double>(c.rows);
  double sum = 0.0;
  for (auto k = c.ptr[j]; k < c.ptr[j + 1]; ++k) sum += f(c.val[k]);
  mean = sum / n;
  double ss = 0.0;
  for (auto k = c.ptr[j]; k < c.ptr[j + 1]; ++k) {
    const double d = f(c.val[k]) - mean;
    ss += d * d;
  }
  ss += (n - static_cast<double>(c.count(j))) * mean * mean;
  var = ss / (n - 1.0);
}

// Mean and variance (ddof = 1) of every gene over all spots of all batches (scanpy's
// _get_mean_var of the whole matrix).
void pooled_mean_var(const std::vector<Columns>& batches, int num_threads, std::vector<double>& means,
                     std::vector<double>& vars) {
  const std::size_t cols = batches.front().cols;
  double n = 0.0;
  for (const auto& b : batches) n += static_cast<double>(b.rows);
  means.assign(cols, 0.0);
  vars.assign(cols, 0.0);
  parallel_for(cols, num_threads, [&](std::size_t j) {
    double sum = 0.0, stored = 0.0;
    for (const auto& b : batches) {
      for (auto k = b.ptr[j]; k < b.ptr[j + 1]; ++k) sum += b.val[k];
      stored += static_cast<double>(b.count(j));
    }
    const double mean = sum / n;
    double ss = 0.0;
    for (const auto& b : batches) {
      for (auto k = b.ptr[j]; k < b.ptr[j + 1]; ++k) {
        const double d = b.val[k] - mean;
        ss += d * d;
      }
    }
    ss += (n - stored) * mean * mean;
    means[j] = mean;
    vars[j] = ss / (n - 1.0);
  });
}

// ---------------------------------------------------------------- seurat

struct SeuratBatch {
  std::vector<double> means, dispersions, dispersions_norm;
  std::vector<std::uint8_t> highly_variable;
};

// pandas.cut(values, bins=n_bins) edges: equal width over [min, max], the lowest edge moved down
// by 0.1 % of the range (right-closed bins); a constant input widens both ends by 0.1 %.
std::vector<double> cut_edges(double mn, double mx, std::size_t n_bins) {
  const bool constant = mn == mx;
  if (constant) {  // pandas adjusts the ends before binning
    mn -= mn != 0.0 ? 0.001 * std::abs(mn) : 0.001;
    mx += mx != 0.0 ? 0.001 * std::abs(mx) : 0.001;
  }
  // numpy.linspace(mn, mx, n_bins + 1): i · step + mn, the last edge exactly mx.
  std::vector<double> edges(n_bins + 1);
  const double step = (mx - mn) / static_cast<double>(n_bins);
  for (std::size_t i = 0; i <= n_bins; ++i) edges[i] = static_cast<double>(i) * step + mn;
  edges[n_bins] = mx;
  if (!constant) edges.front() -= (mx - mn) * 0.001;  // ... and otherwise after binning
  return edges;
}

// The 0-based right-closed bin (edges[b], edges[b+1]] of v: searchsorted(edges, v, 'left') - 1.
std::size_t bin_of(const std::vector<double>& edges, double v) {
  const auto it = std::lower_bound(edges.begin(), edges.end(), v);
  const auto pos = static_cast<std::size_t>(it - edges.begin());
  return pos == 0 ? 0 : std::min(pos - 1, edges.size() - 2);
}

// scanpy's _highly_variable_genes_single_batch(flavor="seurat", n_top_genes=…) over the genes with
// use[j] = 1 (the others get 0 everywhere, as scanpy fills the genes it filtered out).
SeuratBatch seurat_batch(const Columns& c, const std::vector<std::uint8_t>& use, const HvgOptions& o) {
  const std::size_t cols = c.cols;
  SeuratBatch r;
  r.means.assign(cols, 0.0);
  r.dispersions.assign(cols, 0.0);
  r.dispersions_norm.assign(cols, 0.0);
  r.highly_variable.assign(cols, 0);
  std::vector<std::size_t> genes;
  for (std::size_t j = 0; j < cols; ++j) {
    if (use[j]) genes.push_back(j);
  }
  if (genes.empty()) return r;

  parallel_for(genes.size(), o.num_threads, [&](std::size_t g) {
    const std::size_t j = genes[g];
    double mean = 0.0, var = 0.0;
    mean_var(c, j, [](float v) { return std::expm1(static_cast<double>(v)); }, mean, var);
    if (mean == 0.0) mean = 1e-12;
    double dispersion = var / mean;
    dispersion = dispersion == 0.0 ? kNaN : std::log(dispersion);
    r.means[j] = std::log1p(mean);
    r.dispersions[j] = dispersion;
  });

  // Mean bins as pandas.cut(means, bins=n_bins) makes them.
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  for (const std::size_t j : genes) {
    mn = std::min(mn, r.means[j]);
    mx = std::max(mx, r.means[j]);
  }
  const std::vector<double> edges = cut_edges(mn, mx, o.n_bins);
  const std::size_t n_bins = o.n_bins;
  std::vector<std::size_t> bin(cols, 0);
  std::vector<double> sum(n_bins, 0.0), ss(n_bins, 0.0);
  std::vector<std::size_t> count(n_bins, 0);
  for (const std::size_t j : genes) {
    bin[j] = bin_of(edges, r.means[j]);
    if (std::isnan(r.dispersions[j])) continue;  // pandas' groupby mean / std skip NaN
    sum[bin[j]] += r.dispersions[j];
    ++count[bin[j]];
  }
  std::vector<double> bin_mean(n_bins, kNaN), bin_std(n_bins, kNaN);
  for (std::size_t b = 0; b < n_bins; ++b) {
    if (count[b] > 0) bin_mean[b] = sum[b] / static_cast<double>(count[b]);
  }
  for (const std::size_t j : genes) {
    if (std::isnan(r.dispersions[j])) continue;
    const double d = r.dispersions[j] - bin_mean[bin[j]];
    ss[bin[j]] += d * d;
  }
  for (std::size_t b = 0; b < n_bins; ++b) {
    if (count[b] >= 2) {
      bin_std[b] = std::sqrt(ss[b] / static_cast<double>(count[b] - 1));
    } else {
      // scanpy: a bin whose std is NaN (fewer than two dispersions) gets std = its mean and
      // mean = 0, so a lone gene's normalised dispersion is 1.
      bin_std[b] = bin_mean[b];
      bin_mean[b] = 0.0;
    }
  }
  std::vector<double> finite_norms;
  for (const std::size_t j : genes) {
    const double norm = (r.dispersions[j] - bin_mean[bin[j]]) / bin_std[bin[j]];
    r.dispersions_norm[j] = norm;
    if (!std::isnan(norm)) finite_norms.push_back(norm);
  }

  // Top genes: every gene whose nan_to_num(dispersions_norm) reaches the n-th largest
  // normalised dispersion (ties at the cut-off are all selected, as in scanpy).
  const std::size_t n = std::min({o.n_top_genes, genes.size(), finite_norms.size()});
  if (n == 0) return r;
  std::nth_element(finite_norms.begin(), finite_norms.begin() + static_cast<std::ptrdiff_t>(n - 1), finite_norms.end(),
                   std::greater<>());
  const double cutoff = finite_norms[n - 1];
  for (const std::size_t j : genes) {
    double v = r.dispersions_norm[j];
    if (std::isnan(v)) v = 0.0;
    if (std::isinf(v)) v = v > 0 ? std::numeric_limits<double>::max() : -std::numeric_limits<double>::max();
    r.highly_variable[j] = v >= cutoff ? 1 : 0;
  }
  return r;
}

// ---------------------------------------------------------------- loess

}  // namespace

namespace detail {

std::vector<double> loess_quadratic(const std::vector<double>& x, const std::vector<double>& y, double span,
                                    int num_threads) {
  const std::size_t n = x.size();
  std::vector<double> fitted(n, 0.0);
  if (n == 0) return fitted;
  const auto q = static_cast<std::size_t>(std::floor(static_cast<double>(n) * span));
  SPATIALEMBED_CHECK(q >= 3, InvalidArgument,
                     "loess: span {} × {} points leaves {} points per local fit; degree 2 needs at least 3", span, n, q);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> xs(n), ys(n);
  for (std::size_t p = 0; p < n; ++p) {
    xs[p] = x[order[p]];
    ys[p] = y[order[p]];
  }
  // lo[p]: the first of the q nearest points of xs[p] in sorted order (a contiguous window).
  std::vector<std::size_t> lo(n, 0);
  std::size_t l = 0;
  for (std::size_t p = 0; p < n; ++p) {
    while (l + q < n && xs[p] - xs[l] > xs[l + q] - xs[p]) ++l;
    lo[p] = l;
  }
  // The fit depends on the x value only: fit once per distinct value (real data tie a lot: genes
  // with one count share their mean and variance), then copy to the ties.
  std::vector<std::size_t> firsts;
  for (std::size_t p = 0; p < n; ++p) {
    if (p == 0 || xs[p] != xs[p - 1]) firsts.push_back(p);
  }
  std::vector<double> fit_sorted(n, 0.0);
  parallel_for(firsts.size(), num_threads, [&](std::size_t f) {
    const std::size_t p = firsts[f];
    const double x0 = xs[p];
    const std::size_t a = lo[p], b = lo[p] + q;  // [a, b)
    const double h = std::max(x0 - xs[a], xs[b - 1] - x0);
    if (!(h > 0.0)) {
      double s = 0.0;
      for (std::size_t k = a; k < b; ++k) s += ys[k];
      fit_sorted[p] = s / static_cast<double>(q);
      return;
    }
    // Normal equations in u = (x − x0)/h, which keeps them well scaled.
    double s[5] = {0, 0, 0, 0, 0}, t[3] = {0, 0, 0};
    for (std::size_t k = a; k < b; ++k) {
      const double u = (xs[k] - x0) / h;
      const double au = std::abs(u);
      if (au >= 1.0) continue;
      const double c = 1.0 - au * au * au;
      const double w = c * c * c;
      const double u2 = u * u;
      s[0] += w;
      s[1] += w * u;
      s[2] += w * u2;
      s[3] += w * u2 * u;
      s[4] += w * u2 * u2;
      t[0] += w * ys[k];
      t[1] += w * ys[k] * u;
      t[2] += w * ys[k] * u2;
    }
    Eigen::Matrix3d m;
    m << s[0], s[1], s[2], s[1], s[2], s[3], s[2], s[3], s[4];
    const Eigen::Vector3d rhs(t[0], t[1], t[2]);
    const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(m);
    const Eigen::Vector3d lambda = eig.eigenvalues();
    const double tol = lambda.cwiseAbs().maxCoeff() * 1e-12;
    const Eigen::Vector3d proj = eig.eigenvectors().transpose() * rhs;
    Eigen::Vector3d coef = Eigen::Vector3d::Zero();
    for (int i = 0; i < 3; ++i) {
      if (lambda(i) > tol) coef += eig.eigenvectors().col(i) * (proj(i) / lambda(i));
    }
    fit_sorted[p] = coef(0);
  }, 16);
  for (std::size_t p = 0; p < n; ++p) {
    if (p > 0 && xs[p] == xs[p - 1]) fit_sorted[p] = fit_sorted[p - 1];
    fitted[order[p]] = fit_sorted[p];
  }
  return fitted;
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------- ranks and merging

// 0-based ranks by value, largest first (numpy argsort(argsort(-v))), NaN last; ties keep the
// column order (a stable sort; numpy's default quicksort does not promise an order).
std::vector<double> descending_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (std::isnan(v[b])) return !std::isnan(v[a]);
    return v[a] > v[b];
  });
  std::vector<double> rank(v.size());
  for (std::size_t k = 0; k < order.size(); ++k) rank[order[k]] = static_cast<double>(k);
  return rank;
}

// nbatches = batches where rank < n_top; rank = median over those batches (NaN if none).
void merge_ranks(const std::vector<std::vector<double>>& ranks, std::size_t n_top, HvgResult& r) {
  const std::size_t cols = ranks.front().size();
  r.highly_variable_nbatches.assign(cols, 0);
  r.highly_variable_rank.assign(cols, kNaN);
  std::vector<double> top;
  for (std::size_t j = 0; j < cols; ++j) {
    top.clear();
    for (const auto& rb : ranks) {
      if (rb[j] < static_cast<double>(n_top)) top.push_back(rb[j]);
    }
    r.highly_variable_nbatches[j] = static_cast<std::int32_t>(top.size());
    if (top.empty()) continue;
    std::sort(top.begin(), top.end());
    const std::size_t m = top.size();
    r.highly_variable_rank[j] = m % 2 == 1 ? top[m / 2] : 0.5 * (top[m / 2 - 1] + top[m / 2]);
  }
}

// highly_variable = the first n_top genes in a stable sort by `before`.
template <class Before>
void select_top(std::size_t n_top, Before before, HvgResult& r) {
  const std::size_t cols = r.highly_variable_nbatches.size();
  std::vector<std::size_t> order(cols);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), before);
  r.highly_variable.assign(cols, 0);
  for (std::size_t k = 0; k < std::min(n_top, cols); ++k) r.highly_variable[order[k]] = 1;
}

// NaN sorts after any number, whichever the direction.
bool nan_last_less(double a, double b) { return std::isnan(b) ? !std::isnan(a) : a < b; }
bool nan_last_greater(double a, double b) { return std::isnan(b) ? !std::isnan(a) : a > b; }

void intersection(HvgResult& r) {
  r.highly_variable_intersection.resize(r.highly_variable_nbatches.size());
  for (std::size_t j = 0; j < r.highly_variable_nbatches.size(); ++j) {
    r.highly_variable_intersection[j] =
        static_cast<std::size_t>(r.highly_variable_nbatches[j]) == r.n_batches ? 1 : 0;
  }
}

// ---------------------------------------------------------------- the three flavours

void run_seurat(const std::vector<Columns>& batches, const HvgOptions& o, HvgResult& r) {
  const std::size_t cols = batches.front().cols;
  if (batches.size() == 1) {
    SeuratBatch s = seurat_batch(batches[0], std::vector<std::uint8_t>(cols, 1), o);
    r.means = std::move(s.means);
    r.dispersions = std::move(s.dispersions);
    r.dispersions_norm = std::move(s.dispersions_norm);
    r.highly_variable = std::move(s.highly_variable);
    r.highly_variable_nbatches.assign(r.highly_variable.begin(), r.highly_variable.end());
    intersection(r);
    return;
  }
  // scanpy's batch_key path: each batch on the genes it expresses, the others 0; then the
  // nanmean of the statistics and the count of batches that select each gene.
  r.means.assign(cols, 0.0);
  r.dispersions.assign(cols, 0.0);
  r.dispersions_norm.assign(cols, 0.0);
  r.highly_variable_nbatches.assign(cols, 0);
  std::vector<double> n_means(cols, 0.0), n_disp(cols, 0.0), n_norm(cols, 0.0);
  for (const auto& c : batches) {
    const SeuratBatch s = seurat_batch(c, expressed_genes(c), o);
    for (std::size_t j = 0; j < cols; ++j) {
      if (!std::isnan(s.means[j])) r.means[j] += s.means[j], n_means[j] += 1;
      if (!std::isnan(s.dispersions[j])) r.dispersions[j] += s.dispersions[j], n_disp[j] += 1;
      if (!std::isnan(s.dispersions_norm[j])) r.dispersions_norm[j] += s.dispersions_norm[j], n_norm[j] += 1;
      r.highly_variable_nbatches[j] += s.highly_variable[j];
    }
  }
  for (std::size_t j = 0; j < cols; ++j) {
    r.means[j] = n_means[j] > 0 ? r.means[j] / n_means[j] : kNaN;
    r.dispersions[j] = n_disp[j] > 0 ? r.dispersions[j] / n_disp[j] : kNaN;
    r.dispersions_norm[j] = n_norm[j] > 0 ? r.dispersions_norm[j] / n_norm[j] : kNaN;
  }
  intersection(r);
  // Sort by (nbatches, dispersions_norm), both descending, NaN last.
  select_top(o.n_top_genes, [&](std::size_t a, std::size_t b) {
    if (r.highly_variable_nbatches[a] != r.highly_variable_nbatches[b]) {
      return r.highly_variable_nbatches[a] > r.highly_variable_nbatches[b];
    }
    return nan_last_greater(r.dispersions_norm[a], r.dispersions_norm[b]);
  }, r);
}

void run_seurat_v3(const std::vector<Columns>& batches, const HvgOptions& o, HvgResult& r) {
  const std::size_t cols = batches.front().cols;
  pooled_mean_var(batches, o.num_threads, r.means, r.variances);
  r.variances_norm.assign(cols, 0.0);
  std::vector<std::vector<double>> ranks;
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    const Columns& c = batches[bi];
    const auto n = static_cast<double>(c.rows);
    std::vector<double> mean(cols), var(cols);
    parallel_for(cols, o.num_threads, [&](std::size_t j) {
      mean_var(c, j, [](float v) { return static_cast<double>(v); }, mean[j], var[j]);
    });
    // Loess of log10 variance on log10 mean over the non-constant genes.
    std::vector<std::size_t> varying;
    std::vector<double> lx, ly;
    for (std::size_t j = 0; j < cols; ++j) {
      if (var[j] > 0.0) {
        varying.push_back(j);
        lx.push_back(std::log10(mean[j]));
        ly.push_back(std::log10(var[j]));
      }
    }
    std::vector<double> estimated(cols, 0.0);  // log10 of the expected variance; 0 for constant genes
    try {
      const std::vector<double> fit = detail::loess_quadratic(lx, ly, o.span, o.num_threads);
      for (std::size_t k = 0; k < varying.size(); ++k) estimated[varying[k]] = fit[k];
    } catch (const InvalidArgument& e) {
      detail::raise<InvalidArgument>("seurat_v3, batch {}: {} non-constant genes are too few for the loess fit ({})",
                                     bi, varying.size(), e.what());
    }
    std::vector<double> norm(cols);
    parallel_for(cols, o.num_threads, [&](std::size_t j) {
      const double reg_std = std::sqrt(std::pow(10.0, estimated[j]));
      const double clip = reg_std * std::sqrt(n) + mean[j];  // clip large values as Seurat does
      double s = 0.0, s2 = 0.0;
      for (auto k = c.ptr[j]; k < c.ptr[j + 1]; ++k) {
        const double v = std::min(static_cast<double>(c.val[k]), clip);
        s += v;
        s2 += v * v;
      }
      norm[j] = (n * mean[j] * mean[j] + s2 - 2.0 * s * mean[j]) / ((n - 1.0) * reg_std * reg_std);
    });
    for (std::size_t j = 0; j < cols; ++j) r.variances_norm[j] += norm[j];
    ranks.push_back(descending_ranks(norm));
  }
  for (auto& v : r.variances_norm) v /= static_cast<double>(batches.size());
  merge_ranks(ranks, o.n_top_genes, r);
  intersection(r);
  // Sort by (rank ascending, NaN last; nbatches descending).
  select_top(o.n_top_genes, [&](std::size_t a, std::size_t b) {
    const double ra = r.highly_variable_rank[a], rb = r.highly_variable_rank[b];
    if (!(ra == rb || (std::isnan(ra) && std::isnan(rb)))) return nan_last_less(ra, rb);
    return r.highly_variable_nbatches[a] > r.highly_variable_nbatches[b];
  }, r);
}

void run_pearson(const std::vector<ConstCsrView>& views, const std::vector<Columns>& batches, const HvgOptions& o,
                 HvgResult& r) {
  const std::size_t cols = batches.front().cols;
  pooled_mean_var(batches, o.num_threads, r.means, r.variances);
  r.residual_variances.assign(cols, 0.0);
  std::vector<std::vector<double>> ranks;
  for (std::size_t bi = 0; bi < batches.size(); ++bi) {
    const Columns& c = batches[bi];
    const std::vector<double> spot_sum = spot_totals(views[bi]);
    for (std::size_t i = 0; i < c.rows; ++i) {
      SPATIALEMBED_CHECK(spot_sum[i] > 0.0, InvalidArgument,
                         "pearson_residuals, batch {}: spot {} has no counts; its residuals are undefined (drop empty "
                         "spots first)",
                         bi, i);
    }
    const std::vector<std::uint8_t> expressed = expressed_genes(c);
    std::vector<double> gene_sum(cols, 0.0);
    double total = 0.0;
    for (std::size_t j = 0; j < cols; ++j) {
      for (auto k = c.ptr[j]; k < c.ptr[j + 1]; ++k) gene_sum[j] += c.val[k];
      total += gene_sum[j];
    }
    const double clip = o.clip > 0.0 ? o.clip : std::sqrt(static_cast<double>(c.rows));
    const double theta = o.theta;
    std::vector<double> rv(cols, 0.0);  // genes the batch does not express keep 0
    parallel_for(cols, o.num_threads, [&](std::size_t j) {
      if (!expressed[j]) return;
      thread_local std::vector<double> residual;
      residual.assign(c.rows, 0.0);
      auto k = c.ptr[j];
      double sum = 0.0;
      for (std::size_t i = 0; i < c.rows; ++i) {
        double x = 0.0;
        if (k < c.ptr[j + 1] && static_cast<std::size_t>(c.row[k]) == i) x = c.val[k++];
        const double mu = spot_sum[i] * gene_sum[j] / total;
        const double res = std::clamp((x - mu) / std::sqrt(mu + mu * mu / theta), -clip, clip);
        residual[i] = res;
        sum += res;
      }
      const double mean = sum / static_cast<double>(c.rows);
      double ss = 0.0;
      for (const double res : residual) ss += (res - mean) * (res - mean);
      rv[j] = ss / static_cast<double>(c.rows);
    });
    for (std::size_t j = 0; j < cols; ++j) r.residual_variances[j] += rv[j];
    ranks.push_back(descending_ranks(rv));
  }
  for (auto& v : r.residual_variances) v /= static_cast<double>(batches.size());
  merge_ranks(ranks, o.n_top_genes, r);
  intersection(r);
  // Sort by (nbatches descending; rank ascending, NaN last).
  select_top(o.n_top_genes, [&](std::size_t a, std::size_t b) {
    if (r.highly_variable_nbatches[a] != r.highly_variable_nbatches[b]) {
      return r.highly_variable_nbatches[a] > r.highly_variable_nbatches[b];
    }
    return nan_last_less(r.highly_variable_rank[a], r.highly_variable_rank[b]);
  }, r);
}

// The first non-integer stored value of a batch, as a warning for count-based flavours.
void warn_non_integer(const ConstCsrView& x, std::size_t batch, HvgFlavor flavor, std::vector<std::string>& warnings) {
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
      if (x.data[k] != std::floor(x.data[k])) {
        warnings.push_back(fmt::format(
            "flavor='{}' expects raw counts, but batch {} holds non-integer values (e.g. {} at spot {}, gene {})",
            to_string(flavor), batch, x.data[k], i, x.indices[k]));
        return;
      }
    }
  }
}

}  // namespace

HvgResult highly_variable_genes(const std::vector<ConstCsrView>& batches, const HvgOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(!batches.empty(), InvalidArgument, "highly_variable_genes needs at least one batch, got none");
  const std::size_t cols = batches.front().cols;
  SPATIALEMBED_CHECK(cols > 0, InvalidArgument, "highly_variable_genes: batch 0 has no genes");
  HvgResult r;
  r.flavor = options.flavor;
  r.n_batches = batches.size();
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const ConstCsrView& x = batches[b];
    SPATIALEMBED_CHECK(x.cols == cols, InvalidArgument,
                       "batch {} has {} genes but batch 0 has {}; align the columns to the same genes first "
                       "(match_genes)",
                       b, x.cols, cols);
    SPATIALEMBED_CHECK(x.rows >= 2, InvalidArgument, "batch {} has {} spot(s); variances need at least 2", b, x.rows);
    check_expression(x, fmt::format("batch {}", b));
    if (options.flavor == HvgFlavor::seurat) {
      bool all_integer = true;
      for (std::size_t i = 0; i < x.rows; ++i) {
        for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
          const float v = x.data[k];
          SPATIALEMBED_CHECK(v <= 700.0f, InvalidArgument,
                             "flavor='seurat' expects log1p-normalised data, but batch {} has {} at spot {}, gene {} "
                             "(expm1 overflows); pass raw counts to highly_variable_genes_from_counts",
                             b, v, i, x.indices[k]);
          all_integer = all_integer && v == std::floor(v);
        }
      }
      if (all_integer && x.nnz() > 0) {
        r.warnings.push_back(fmt::format(
            "flavor='seurat' expects log1p-normalised data, but batch {} holds only integers (raw counts?)", b));
      }
    } else {
      warn_non_integer(x, b, options.flavor, r.warnings);
    }
  }
  std::vector<Columns> columns(batches.size());
  parallel_for(batches.size(), options.num_threads, [&](std::size_t b) { columns[b] = transpose(batches[b]); }, 1);
  switch (options.flavor) {
    case HvgFlavor::seurat: run_seurat(columns, options, r); break;
    case HvgFlavor::seurat_v3: run_seurat_v3(columns, options, r); break;
    case HvgFlavor::pearson_residuals: run_pearson(batches, columns, options, r); break;
  }
  return r;
}

HvgResult highly_variable_genes_from_counts(const std::vector<ConstCsrView>& counts, const HvgOptions& options,
                                            const NormalizeTotalOptions& normalize) {
  options.validate();
  if (options.flavor != HvgFlavor::seurat) return highly_variable_genes(counts, options);
  normalize.validate();
  std::vector<CsrMatrix> logged(counts.size());
  for (std::size_t b = 0; b < counts.size(); ++b) {
    const ConstCsrView& x = counts[b];
    check_expression(x, fmt::format("batch {}", b));
    CsrMatrix& m = logged[b];
    m.rows = x.rows;
    m.cols = x.cols;
    m.indptr.assign(x.indptr, x.indptr + (x.indptr != nullptr ? x.rows + 1 : 0));
    m.indices.assign(x.indices, x.indices + x.nnz());
    m.data.assign(x.data, x.data + x.nnz());
    normalize_total(m, normalize);
    log1p(m, normalize.num_threads);
  }
  return highly_variable_genes(std::vector<ConstCsrView>(logged.begin(), logged.end()), options);
}

}  // namespace spatialembed
