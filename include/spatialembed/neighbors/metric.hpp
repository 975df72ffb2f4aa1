#pragma once
/// @file
/// Distance metrics for neighbour search.

#include <string>

namespace spatialembed {

/// Distance between two rows x, y.
enum class Metric {
  euclidean,  ///< ‖x − y‖₂
  cosine,     ///< 1 − x·y / (‖x‖‖y‖), in [0, 2], as scipy/scikit-learn; zero rows are rejected
  correlation,  ///< 1 − Pearson correlation of the rows, in [0, 2]; constant rows are rejected
  manhattan,  ///< Σ |x_k − y_k|
};

/// Parses "euclidean", "cosine", "correlation" or "manhattan"; throws InvalidArgument
/// naming the allowed values.
Metric parse_metric(const std::string& name);

/// The name `parse_metric` accepts for `metric`.
const char* to_string(Metric metric);

}  // namespace spatialembed
