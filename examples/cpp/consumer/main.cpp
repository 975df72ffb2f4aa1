// Clusters eight 2-D points with DBSCAN through the installed spatialembed package.
#include <spatialembed/spatialembed.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

int main() {
  // Two tight groups and one outlier, row-major float32 (n × d).
  const std::vector<float> points = {0.0f, 0.0f, 0.1f, 0.0f, 0.0f, 0.1f, 0.1f, 0.1f,
                                     5.0f, 5.0f, 5.1f, 5.0f, 5.0f, 5.1f, 9.0f, 0.0f};
  spatialembed::DbscanOptions options;
  options.eps = 0.2;
  options.min_samples = 3;
  const spatialembed::DBSCAN dbscan(options);
  const auto result = dbscan.fit(spatialembed::ConstMatrixF(points.data(), 8, 2));
  fmt::print("spatialembed {}: {} clusters, labels {}\n", spatialembed::version(), result.n_clusters,
             result.labels);
  const std::vector<int> expected = {0, 0, 0, 0, 1, 1, 1, -1};
  return std::vector<int>(result.labels.begin(), result.labels.end()) == expected ? 0 : 1;
}
