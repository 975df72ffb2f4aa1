#pragma once
/// @file
/// Agreement between two clusterings of the same samples: adjusted Rand index and normalized
/// mutual information, as sklearn.metrics.adjusted_rand_score / normalized_mutual_info_score.

#include <cstdint>
#include <string>

#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// How `normalized_mutual_info_score` averages the two entropies H(U), H(V).
enum class AverageMethod {
  min,         ///< min(H(U), H(V))
  geometric,   ///< √(H(U)·H(V))
  arithmetic,  ///< (H(U) + H(V)) / 2 (sklearn's default)
  max,         ///< max(H(U), H(V))
};

/// Parses "min", "geometric", "arithmetic" or "max"; throws InvalidArgument naming the
/// allowed values otherwise.
AverageMethod parse_average_method(const std::string& name);
/// The name `parse_average_method` accepts for `method`.
const char* to_string(AverageMethod method);

/// Adjusted Rand index (Hubert & Arabie 1985) between two labelings of n samples, as
/// sklearn.metrics.adjusted_rand_score: from the pair confusion matrix (tn, fp, fn, tp),
/// ARI = 2·(tp·tn − fn·fp) / ((tp + fn)·(fn + tn) + (tp + fp)·(fp + tn)), and 1.0 when
/// fn = fp = 0 (identical partitions, e.g. both one cluster). In [−0.5, 1]; ≈ 0 for
/// independent labelings; symmetric; invariant to renaming labels.
///
/// Labels are arbitrary int64 values (−1 is an ordinary label, not "noise"), n entries each.
/// Pair counts are exact 128-bit integers. O(n log n) time, O(n) memory.
/// Throws InvalidArgument if the lengths differ or n = 0 (sklearn returns 1.0 for n = 0).
double adjusted_rand_score(VectorView<const std::int64_t> labels_true, VectorView<const std::int64_t> labels_pred);

/// Normalized mutual information, as sklearn.metrics.normalized_mutual_info_score:
/// NMI = MI(U, V) / mean(H(U), H(V)) with natural logarithms and the mean chosen by `average`.
/// Edge cases as sklearn: 1.0 when both labelings have a single cluster; 0.0 when MI = 0
/// (in particular when exactly one of them has a single cluster). In [0, 1]; symmetric.
///
/// Labels are arbitrary int64 values, n entries each. O(n log n) time, O(n) memory.
/// Throws InvalidArgument if the lengths differ or n = 0 (sklearn returns 1.0 for n = 0).
double normalized_mutual_info_score(VectorView<const std::int64_t> labels_true,
                                    VectorView<const std::int64_t> labels_pred,
                                    AverageMethod average = AverageMethod::arithmetic);

}  // namespace spatialembed
