#include "spatialembed/neighbors/metric.hpp"

#include "spatialembed/common/error.hpp"

namespace spatialembed {

Metric parse_metric(const std::string& name) {
  if (name == "euclidean") return Metric::euclidean;
  if (name == "cosine") return Metric::cosine;
  if (name == "correlation") return Metric::correlation;
  if (name == "manhattan") return Metric::manhattan;
  detail::raise<InvalidArgument>("metric must be one of 'euclidean', 'cosine', 'correlation', 'manhattan', got '{}'",
                                 name);
}

const char* to_string(Metric metric) {
  switch (metric) {
    case Metric::euclidean: return "euclidean";
    case Metric::cosine: return "cosine";
    case Metric::correlation: return "correlation";
    case Metric::manhattan: return "manhattan";
  }
  return "unknown";
}

}  // namespace spatialembed
