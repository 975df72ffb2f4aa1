#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/metrics/clustering_agreement.hpp"
#include "spatialembed/metrics/knn_recall.hpp"
#include "spatialembed/metrics/silhouette.hpp"
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

VectorView<const std::int64_t> labels_view(const CArray<std::int64_t>& labels, const char* name) {
  SPATIALEMBED_CHECK(labels.ndim() == 1, InvalidArgument, "{} must be a 1-D array (n_samples,), got {} dimension(s)",
                     name, labels.ndim());
  return vector_view(labels);
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
  m.def(
      "adjusted_rand_score",
      [](const CArray<std::int64_t>& labels_true, const CArray<std::int64_t>& labels_pred) {
        return adjusted_rand_score(labels_view(labels_true, "labels_true"), labels_view(labels_pred, "labels_pred"));
      },
      py::arg("labels_true"), py::arg("labels_pred"));
  m.def(
      "normalized_mutual_info_score",
      [](const CArray<std::int64_t>& labels_true, const CArray<std::int64_t>& labels_pred,
         const std::string& average_method) {
        return normalized_mutual_info_score(labels_view(labels_true, "labels_true"),
                                            labels_view(labels_pred, "labels_pred"),
                                            parse_average_method(average_method));
      },
      py::arg("labels_true"), py::arg("labels_pred"), py::arg("average_method"));
  m.def(
      "silhouette_samples",
      [](const CArray<float>& X, const CArray<std::int64_t>& labels, const std::string& metric, int num_threads) {
        SilhouetteOptions o;
        o.metric = parse_metric(metric);
        o.num_threads = num_threads;
        const auto x = matrix_view(X, "X");
        const auto l = labels_view(labels, "labels");
        std::vector<double> s;
        {
          py::gil_scoped_release release;  // O(n² d)
          s = silhouette_samples(x, l, o);
        }
        return to_numpy(std::move(s));
      },
      py::arg("X"), py::arg("labels"), py::arg("metric"), py::arg("num_threads"));
}

}  // namespace spatialembed::bindings
