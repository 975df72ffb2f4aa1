#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/cluster/dbscan.hpp"

namespace spatialembed::bindings {

namespace {

DbscanOptions dbscan_options(double eps, std::int64_t min_samples, const std::string& metric,
                             const std::string& algorithm, int num_threads) {
  DbscanOptions options;
  options.eps = eps;
  options.min_samples = min_samples;
  options.metric = parse_metric(metric);
  options.algorithm = parse_dbscan_algorithm(algorithm);
  options.num_threads = num_threads;
  options.progress = interrupt_check();
  return options;
}

// Fits with the GIL released; returns (labels int32, core mask bool, n_clusters, algorithm).
template <class Input>
py::tuple fit_without_gil(const DBSCAN& dbscan, const Input& input, VectorView<const double> weights) {
  DbscanResult result;
  {
    py::gil_scoped_release release;
    result = dbscan.fit(input, weights);
  }
  auto core = to_numpy(std::move(result.core_sample_mask));
  return py::make_tuple(to_numpy(std::move(result.labels)), core.attr("view")("bool"), result.n_clusters,
                        to_string(result.algorithm));
}

}  // namespace

void bind_cluster(py::module_& m) {
  m.def(
      "dbscan",
      [](const CArray<float>& X, double eps, std::int64_t min_samples, const std::string& metric,
         const std::string& algorithm, int num_threads, const std::optional<CArray<double>>& sample_weight) {
        const DBSCAN dbscan(dbscan_options(eps, min_samples, metric, algorithm, num_threads));
        return fit_without_gil(dbscan, matrix_view(X, "X"), optional_vector(sample_weight, "sample_weight"));
      },
      py::arg("X"), py::arg("eps"), py::arg("min_samples"), py::arg("metric"), py::arg("algorithm"),
      py::arg("num_threads"), py::arg("sample_weight") = py::none(),
      "DBSCAN on the rows of X (float32, n x d). Returns (labels int32, core mask bool, n_clusters, algorithm).");

  m.def(
      "dbscan_graph",
      [](const CArray<std::int64_t>& indptr, const CArray<std::int64_t>& indices, const CArray<double>& distances,
         std::size_t n, double eps, std::int64_t min_samples, int num_threads,
         const std::optional<CArray<double>>& sample_weight) {
        const DBSCAN dbscan(dbscan_options(eps, min_samples, "euclidean", "auto", num_threads));
        const CsrGraph graph{vector_view(indptr), vector_view(indices), vector_view(distances), n};
        return fit_without_gil(dbscan, graph, optional_vector(sample_weight, "sample_weight"));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("distances"), py::arg("n"), py::arg("eps"),
      py::arg("min_samples"), py::arg("num_threads"), py::arg("sample_weight") = py::none(),
      "DBSCAN on a precomputed sparse distance graph in CSR form (n x n).");
}

}  // namespace spatialembed::bindings
