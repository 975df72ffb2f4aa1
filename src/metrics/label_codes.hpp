#pragma once
// Dense codes for arbitrary int64 cluster labels, shared by the clustering metrics.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"

namespace spatialembed {

/// Labels renumbered 0..n_classes−1 in increasing order of their values (as sklearn's
/// LabelEncoder), so that the metrics can index arrays by label whatever the label values.
struct LabelCodes {
  std::vector<std::size_t> codes;    // n entries
  std::vector<std::size_t> counts;   // n_classes entries: members per label
  std::size_t n_classes() const { return counts.size(); }
};

/// O(n log n): sort the distinct values once, then binary-search each label.
inline LabelCodes encode_labels(VectorView<const std::int64_t> labels) {
  std::vector<std::int64_t> classes(labels.begin(), labels.end());
  std::sort(classes.begin(), classes.end());
  classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
  LabelCodes out;
  out.codes.resize(labels.size());
  out.counts.assign(classes.size(), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto code = static_cast<std::size_t>(std::lower_bound(classes.begin(), classes.end(), labels[i]) -
                                                 classes.begin());
    out.codes[i] = code;
    ++out.counts[code];
  }
  return out;
}

}  // namespace spatialembed
