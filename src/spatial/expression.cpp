#include "spatialembed/spatial/expression.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/parallel.hpp"

namespace spatialembed {

void check_expression(const ConstCsrView& x, const std::string& what) {
  SPATIALEMBED_CHECK(x.cols <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()), InvalidArgument,
                     "{}: {} genes exceed the int32 column index range", what, x.cols);
  if (x.rows == 0) return;
  SPATIALEMBED_CHECK(x.indptr != nullptr, InvalidArgument, "{}: indptr is missing for {} spots", what, x.rows);
  SPATIALEMBED_CHECK(x.indptr[0] == 0, InvalidArgument, "{}: indptr[0] is {}; expected 0", what, x.indptr[0]);
  for (std::size_t i = 0; i < x.rows; ++i) {
    SPATIALEMBED_CHECK(x.indptr[i + 1] >= x.indptr[i], InvalidArgument,
                       "{}: indptr decreases at spot {} ({} then {}); expected non-decreasing offsets", what, i,
                       x.indptr[i], x.indptr[i + 1]);
  }
  const std::size_t nnz = x.nnz();
  SPATIALEMBED_CHECK(nnz == 0 || (x.indices != nullptr && x.data != nullptr), InvalidArgument,
                     "{}: indices or data are missing for {} stored values", what, nnz);
  // last_row[j] = 1 + the last spot in which gene j was seen, to catch a column stored twice.
  std::vector<std::size_t> last_row(x.cols, 0);
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) {
      const std::int32_t j = x.indices[k];
      SPATIALEMBED_CHECK(j >= 0 && static_cast<std::size_t>(j) < x.cols, InvalidArgument,
                         "{}: spot {} stores gene index {}; expected 0 … {}", what, i, j, x.cols - 1);
      SPATIALEMBED_CHECK(last_row[j] != i + 1, InvalidArgument,
                         "{}: spot {} stores gene {} twice; sum duplicates first (scipy: sum_duplicates())", what, i, j);
      last_row[j] = i + 1;
      const float v = x.data[k];
      SPATIALEMBED_CHECK(std::isfinite(v) && v >= 0.0f, InvalidArgument,
                         "{}: value at spot {}, gene {} is {}; expected finite values ≥ 0", what, i, j, v);
    }
  }
}

void NormalizeTotalOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(target_sum) && target_sum >= 0.0, InvalidArgument,
                     "target_sum must be finite and > 0 (or 0 = median spot total), got {}", target_sum);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be ≥ 0 (0 = all cores), got {}", num_threads);
}

std::vector<double> spot_totals(const ConstCsrView& x) {
  std::vector<double> totals(x.rows, 0.0);
  for (std::size_t i = 0; i < x.rows; ++i) {
    double s = 0.0;
    for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) s += x.data[k];
    totals[i] = s;
  }
  return totals;
}

namespace {

// numpy.median of the positive totals (mean of the two middle values for an even count).
double median_positive(std::vector<double> totals) {
  totals.erase(std::remove_if(totals.begin(), totals.end(), [](double t) { return !(t > 0.0); }), totals.end());
  if (totals.empty()) return 0.0;
  const std::size_t n = totals.size(), mid = n / 2;
  std::nth_element(totals.begin(), totals.begin() + static_cast<std::ptrdiff_t>(mid), totals.end());
  const double upper = totals[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(totals.begin(), totals.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

}  // namespace

void normalize_total(CsrMatrix& x, const NormalizeTotalOptions& options) {
  options.validate();
  const ConstCsrView view(x);
  check_expression(view, "normalize_total input");
  const std::vector<double> totals = spot_totals(view);
  const double target = options.target_sum > 0.0 ? options.target_sum : median_positive(totals);
  parallel_for(x.rows, options.num_threads, [&](std::size_t i) {
    if (!(totals[i] > 0.0)) return;  // an empty spot stays empty
    const double scale = target / totals[i];
    for (auto k = x.indptr[i]; k < x.indptr[i + 1]; ++k) x.data[k] = static_cast<float>(x.data[k] * scale);
  });
}

void log1p(CsrMatrix& x, int num_threads) {
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be ≥ 0 (0 = all cores), got {}", num_threads);
  check_expression(ConstCsrView(x), "log1p input");
  parallel_for(x.data.size(), num_threads,
               [&](std::size_t k) { x.data[k] = static_cast<float>(std::log1p(static_cast<double>(x.data[k]))); }, 4096);
}

void FilterGenesOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(min_counts) && min_counts >= 0.0, InvalidArgument,
                     "min_counts must be finite and ≥ 0 (0 = off), got {}", min_counts);
}

GeneFilter filter_genes(const ConstCsrView& x, const FilterGenesOptions& options) {
  options.validate();
  check_expression(x, "filter_genes input");
  GeneFilter out;
  out.n_spots.assign(x.cols, 0);
  out.n_counts.assign(x.cols, 0.0);
  for (std::size_t k = 0; k < x.nnz(); ++k) {
    const auto j = static_cast<std::size_t>(x.indices[k]);
    out.n_spots[j] += x.data[k] > 0.0f ? 1 : 0;
    out.n_counts[j] += x.data[k];
  }
  out.keep.assign(x.cols, 1);
  for (std::size_t j = 0; j < x.cols; ++j) {
    const bool spots_ok = static_cast<std::size_t>(out.n_spots[j]) >= options.min_spots;
    const bool counts_ok = options.min_counts <= 0.0 || out.n_counts[j] >= options.min_counts;
    out.keep[j] = spots_ok && counts_ok ? 1 : 0;
  }
  return out;
}

}  // namespace spatialembed
