#include "spatialembed/metrics/clustering_agreement.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "metrics/label_codes.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

AverageMethod parse_average_method(const std::string& name) {
  if (name == "min") return AverageMethod::min;
  if (name == "geometric") return AverageMethod::geometric;
  if (name == "arithmetic") return AverageMethod::arithmetic;
  if (name == "max") return AverageMethod::max;
  detail::raise<InvalidArgument>("average_method must be one of 'min', 'geometric', 'arithmetic', 'max', got '{}'",
                                 name);
}

const char* to_string(AverageMethod method) {
  switch (method) {
    case AverageMethod::min: return "min";
    case AverageMethod::geometric: return "geometric";
    case AverageMethod::arithmetic: return "arithmetic";
    case AverageMethod::max: return "max";
  }
  return "?";
}

namespace {

// Pair products reach n⁴ (> 2⁶³ from n ≈ 55 000); 128 bits keep them exact, as sklearn's
// Python integers do.
__extension__ typedef __int128 Int128;

// The non-zero cells of the contingency table and its margins.
struct Contingency {
  std::size_t n = 0;
  std::vector<std::size_t> cell_row, cell_col, cell_count;  // non-zero cells
  std::vector<std::size_t> row_sums, col_sums;              // a_i (true classes), b_j (predicted)
};

void check_labelings(VectorView<const std::int64_t> labels_true, VectorView<const std::int64_t> labels_pred) {
  SPATIALEMBED_CHECK(labels_true.size() == labels_pred.size(), InvalidArgument,
                     "labels_true and labels_pred must have the same length, got {} and {}", labels_true.size(),
                     labels_pred.size());
  SPATIALEMBED_CHECK(!labels_true.empty(), InvalidArgument, "labels_true and labels_pred must not be empty, got 0 samples");
}

// Sorting the cell keys (row·n_cols + col) costs O(n log n) whatever the label values are.
Contingency contingency(VectorView<const std::int64_t> labels_true, VectorView<const std::int64_t> labels_pred) {
  const LabelCodes u = encode_labels(labels_true), v = encode_labels(labels_pred);
  const std::size_t n = labels_true.size(), cols = v.n_classes();
  std::vector<std::size_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = u.codes[i] * cols + v.codes[i];
  std::sort(keys.begin(), keys.end());
  Contingency c;
  c.n = n;
  for (std::size_t begin = 0; begin < n;) {
    std::size_t end = begin;
    while (end < n && keys[end] == keys[begin]) ++end;
    c.cell_row.push_back(keys[begin] / cols);
    c.cell_col.push_back(keys[begin] % cols);
    c.cell_count.push_back(end - begin);
    begin = end;
  }
  c.row_sums = u.counts;
  c.col_sums = v.counts;
  return c;
}

Int128 sum_of_squares(const std::vector<std::size_t>& values) {
  Int128 sum = 0;
  for (const auto v : values) sum += static_cast<Int128>(v) * static_cast<Int128>(v);
  return sum;
}

// −Σ p·log p with p = count/n, written as sklearn's `entropy` writes it.
double entropy(const std::vector<std::size_t>& counts, std::size_t n) {
  if (counts.size() == 1) return 0.0;
  const double log_n = std::log(static_cast<double>(n));
  double h = 0.0;
  for (const auto c : counts) {
    const double p = static_cast<double>(c) / static_cast<double>(n);
    h -= p * (std::log(static_cast<double>(c)) - log_n);
  }
  return h;
}

// sklearn.metrics.mutual_info_score on the non-zero cells: terms below machine epsilon are
// dropped and the sum is clipped at 0, so that rounding never yields a tiny non-zero MI.
double mutual_information(const Contingency& c) {
  if (c.row_sums.size() == 1 || c.col_sums.size() == 1) return 0.0;
  const double n = static_cast<double>(c.n), log_n = std::log(n);
  double mi = 0.0;
  for (std::size_t k = 0; k < c.cell_count.size(); ++k) {
    const double nij = static_cast<double>(c.cell_count[k]) / n;
    const double outer = static_cast<double>(c.row_sums[c.cell_row[k]]) * static_cast<double>(c.col_sums[c.cell_col[k]]);
    const double log_outer = -std::log(outer) + log_n + log_n;
    const double term = nij * (std::log(static_cast<double>(c.cell_count[k])) - log_n) + nij * log_outer;
    if (std::abs(term) >= DBL_EPSILON) mi += term;
  }
  return std::max(mi, 0.0);
}

double generalized_average(double u, double v, AverageMethod method) {
  switch (method) {
    case AverageMethod::min: return std::min(u, v);
    case AverageMethod::geometric: return std::sqrt(u * v);
    case AverageMethod::arithmetic: return (u + v) / 2.0;
    case AverageMethod::max: return std::max(u, v);
  }
  return (u + v) / 2.0;
}

}  // namespace

double adjusted_rand_score(VectorView<const std::int64_t> labels_true, VectorView<const std::int64_t> labels_pred) {
  check_labelings(labels_true, labels_pred);
  const Contingency c = contingency(labels_true, labels_pred);
  // Ordered pair counts of sklearn.metrics.cluster.pair_confusion_matrix.
  const Int128 n = static_cast<Int128>(c.n), cells = sum_of_squares(c.cell_count);
  const Int128 tp = cells - n;
  const Int128 fp = sum_of_squares(c.col_sums) - cells;  // same cluster, different classes
  const Int128 fn = sum_of_squares(c.row_sums) - cells;  // same class, different clusters
  const Int128 tn = n * n - fp - fn - cells;
  if (fn == 0 && fp == 0) return 1.0;
  const Int128 numerator = 2 * (tp * tn - fn * fp);
  const Int128 denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return static_cast<double>(numerator) / static_cast<double>(denominator);
}

double normalized_mutual_info_score(VectorView<const std::int64_t> labels_true,
                                    VectorView<const std::int64_t> labels_pred, AverageMethod average) {
  check_labelings(labels_true, labels_pred);
  const Contingency c = contingency(labels_true, labels_pred);
  // Neither labeling splits the data: a perfect match by sklearn's convention.
  if (c.row_sums.size() == 1 && c.col_sums.size() == 1) return 1.0;
  const double mi = mutual_information(c);
  // Not the case above, so MI = 0 means no shared information whatever the normalisation.
  if (mi == 0.0) return 0.0;
  return mi / generalized_average(entropy(c.row_sums, c.n), entropy(c.col_sums, c.n), average);
}

}  // namespace spatialembed
