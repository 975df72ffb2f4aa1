#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/metrics/knn_recall.hpp"
#include "spatialembed/metrics/trustworthiness.hpp"

namespace spatialembed::bindings {

namespace {

KnnGraph indices_only(const CArray<std::int32_t>& indices, const char* name) {
  SPATIALEMBED_CHECK(indices.ndim() == 2, InvalidArgument, "{} must be a 2-D array (n, k)", name);
  KnnGraph g;
  g.n = static_cast<std::size_t>(indices.shape(0));
  g.k = static_cast<std::size_t>(indices.shape(1));
  g.indices.assign(indices.data(), indices.data() + indices.size());
  g.distances.assign(g.indices.size(), 0.0f);
  return g;
}

}  // namespace

void bind_metrics(py::module_& m) {
  m.def(
      "trustworthiness",
      [](const CArray<float>& X, const CArray<float>& Y, std::size_t n_neighbors, const std::string& metric,
         std::size_t max_queries, std::uint64_t seed, int num_threads) {
        TrustworthinessOptions o;
        o.n_neighbors = n_neighbors;
        o.metric = parse_metric(metric);
        o.max_queries = max_queries;
        o.seed = seed;
        o.num_threads = num_threads;
        const auto x = matrix_view(X, "X"), y = matrix_view(Y, "X_embedded");
        py::gil_scoped_release release;
        return trustworthiness(x, y, o);
      },
      py::arg("X"), py::arg("X_embedded"), py::arg("n_neighbors"), py::arg("metric"), py::arg("max_queries"),
      py::arg("seed"), py::arg("num_threads"));
  m.def(
      "knn_recall",
      [](const CArray<std::int32_t>& approximate, const CArray<std::int32_t>& exact) {
        return knn_recall(indices_only(approximate, "approximate"), indices_only(exact, "exact"));
      },
      py::arg("approximate"), py::arg("exact"));
}

}  // namespace spatialembed::bindings
