#pragma once
/// @file
/// Distance metrics for neighbour search.

#include <string>

namespace spatialembed {

/// Distance between two rows x, y.
enum class Metric {
  euclidean,  ///< ‖x − y‖₂
  cosine,     ///< 1 − x·y / (‖x‖‖y‖), in [0, 2], as scipy/scikit-learn; zero rows are rejected
};

/// Parses "euclidean" or "cosine"; throws InvalidArgument naming the allowed values.
Metric parse_metric(const std::string& name);

/// The name `parse_metric` accepts for `metric`.
const char* to_string(Metric metric);

}  // namespace spatialembed
