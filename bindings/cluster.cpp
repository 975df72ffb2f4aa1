#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/cluster/dbscan.hpp"
#include "spatialembed/cluster/hdbscan.hpp"

namespace spatialembed::bindings {

namespace {

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

// A NumPy view of a vector owned by `owner` (a bound result object), which it keeps alive.
template <class T>
py::array_t<T> view(const std::vector<T>& values, const py::object& owner) {
  return py::array_t<T>(static_cast<py::ssize_t>(values.size()), values.data(), owner);
}

void bind_hdbscan(py::module_& m) {
  using O = HdbscanOptions;
  py::class_<O> options(m, "HdbscanOptions", "HDBSCAN options (see spatialembed.HDBSCAN and cluster/hdbscan.hpp)");
  options.def(py::init<>())
      .def_readwrite("min_cluster_size", &O::min_cluster_size,
                     "Smallest number of points that counts as a cluster; >= 2. Default 5.")
      .def_readwrite("min_samples", &O::min_samples,
                     "Neighbours defining the core distance, the point itself counted; 0 = min_cluster_size.")
      .def_readwrite("cluster_selection_epsilon", &O::cluster_selection_epsilon,
                     "Distance below which clusters are not split; 0 = off; >= 0.")
      .def_readwrite("max_cluster_size", &O::max_cluster_size,
                     "eom only: clusters larger than this are never selected; 0 = no limit.")
      ;
  def_enum(options, "metric", &O::metric, &parse_metric, "'euclidean', 'cosine', 'correlation' or 'manhattan'.");
  options.def_readwrite("alpha", &O::alpha,
                        "Distance scaling: mutual reachability = max(core_a, core_b, d / alpha); > 0.");
  def_enum(options, "cluster_selection_method", &O::cluster_selection_method, &parse_cluster_selection_method,
           "'eom' (excess of mass) or 'leaf'.");
  options.def_readwrite("allow_single_cluster", &O::allow_single_cluster,
                        "Let the root (all points) be selected as the one cluster.");
  def_enum(options, "algorithm", &O::algorithm, &parse_hdbscan_algorithm,
           "Spanning-tree algorithm: 'auto', 'brute' or 'kdtree'; results do not depend on it.");
  options.def_readwrite("num_threads", &O::num_threads, "Worker threads; 0 = all cores.")
      .def("validate", &O::validate, "Raises ValueError naming the field, its value and the allowed range.");

  py::class_<CondensedTree>(m, "CondensedTree", "The condensed cluster tree (see cluster/hdbscan.hpp)")
      .def_property_readonly("parent", [](py::object self) { return view(self.cast<const CondensedTree&>().parent, self); },
                             "Cluster node id of each row (int64; n is the root).")
      .def_property_readonly("child", [](py::object self) { return view(self.cast<const CondensedTree&>().child, self); },
                             "A point (< n) or a cluster node id (>= n) (int64).")
      .def_property_readonly("lambda_val",
                             [](py::object self) { return view(self.cast<const CondensedTree&>().lambda_val, self); },
                             "1 / distance at which the child left the parent (float64; inf at distance 0).")
      .def_property_readonly("child_size",
                             [](py::object self) { return view(self.cast<const CondensedTree&>().child_size, self); },
                             "1 for a point, the number of points for a cluster (int64).")
      .def("__len__", &CondensedTree::size);

  py::class_<SingleLinkageTree>(m, "SingleLinkageTree", "The single-linkage tree in SciPy's linkage format")
      .def_property_readonly("left", [](py::object self) { return view(self.cast<const SingleLinkageTree&>().left, self); },
                             "Node holding the merge edge's lower-index endpoint (int64).")
      .def_property_readonly("right", [](py::object self) { return view(self.cast<const SingleLinkageTree&>().right, self); },
                             "Node holding the other endpoint (int64).")
      .def_property_readonly("distance",
                             [](py::object self) { return view(self.cast<const SingleLinkageTree&>().distance, self); },
                             "Mutual-reachability distance of the merge (float64, ascending).")
      .def_property_readonly("size", [](py::object self) { return view(self.cast<const SingleLinkageTree&>().size, self); },
                             "Points under the new node (int64).");

  using R = HdbscanResult;
  py::class_<R>(m, "HdbscanResult", "What HDBSCAN found (see cluster/hdbscan.hpp)")
      .def_property_readonly("labels", [](py::object self) { return view(self.cast<const R&>().labels, self); },
                             "Cluster label of each point (int32), -1 = noise.")
      .def_property_readonly("probabilities",
                             [](py::object self) { return view(self.cast<const R&>().probabilities, self); },
                             "Membership strength of each point in [0, 1] (float64).")
      .def_readonly("n_clusters", &R::n_clusters, "Number of clusters.")
      .def_property_readonly("cluster_nodes",
                             [](py::object self) { return view(self.cast<const R&>().cluster_nodes, self); },
                             "Condensed-tree node id of each cluster label (int64).")
      .def_property_readonly("core_distances",
                             [](py::object self) { return view(self.cast<const R&>().core_distances, self); },
                             "Core distance of each point, metric units (float64).")
      .def_readonly("condensed_tree", &R::condensed_tree, "The condensed tree.")
      .def_readonly("single_linkage_tree", &R::single_linkage_tree, "The single-linkage tree.")
      .def_property_readonly("algorithm", [](const R& r) { return std::string(to_string(r.algorithm)); },
                             "The spanning-tree algorithm that ran.");

  m.def(
      "hdbscan_fit",
      [](const CArray<float>& X, HdbscanOptions options, const py::object& progress) {
        options.progress = python_progress(progress);
        const auto view_x = matrix_view(X, "X");
        const HDBSCAN hdbscan(options);
        HdbscanResult result;
        {
          py::gil_scoped_release release;
          result = hdbscan.fit(view_x);
        }
        return result;
      },
      py::arg("X"), py::arg("options"), py::arg("progress") = py::none(),
      "HDBSCAN of the rows of X (float32, n x d). Returns an HdbscanResult.");
}

void bind_dbscan(py::module_& m) {
  using O = DbscanOptions;
  py::class_<O> options(m, "DbscanOptions", "DBSCAN options (see spatialembed.DBSCAN and cluster/dbscan.hpp)");
  options.def(py::init<>())
      .def_readwrite("eps", &O::eps, "Neighbourhood radius in metric units; inclusive (d <= eps); > 0. Default 0.5.")
      .def_readwrite("min_samples", &O::min_samples,
                     "Neighbours (or their total weight) for a core point, itself counted; >= 1. Default 5.");
  def_enum(options, "metric", &O::metric, &parse_metric,
           "'euclidean' (default), 'cosine' or 'correlation' (ignored for a precomputed graph).");
  def_enum(options, "algorithm", &O::algorithm, &parse_dbscan_algorithm,
           "Neighbour search: 'auto' (default), 'grid', 'kdtree' or 'brute'; results do not depend on it.");
  options.def_readwrite("num_threads", &O::num_threads, "Worker threads; 0 = all cores; >= 0.")
      .def("validate", &O::validate, "Raises ValueError naming the field, its value and the allowed range.");

  m.def(
      "dbscan",
      [](const CArray<float>& X, DbscanOptions options, const std::optional<CArray<double>>& sample_weight) {
        options.progress = interrupt_check();
        const DBSCAN dbscan(std::move(options));
        return fit_without_gil(dbscan, matrix_view(X, "X"), optional_vector(sample_weight, "sample_weight"));
      },
      py::arg("X"), py::arg("options"), py::arg("sample_weight") = py::none(),
      "DBSCAN on the rows of X (float32, n x d). Returns (labels int32, core mask bool, n_clusters, algorithm).");

  m.def(
      "dbscan_graph",
      [](const CArray<std::int64_t>& indptr, const CArray<std::int64_t>& indices, const CArray<double>& distances,
         std::size_t n, DbscanOptions options, const std::optional<CArray<double>>& sample_weight) {
        options.progress = interrupt_check();
        const DBSCAN dbscan(std::move(options));
        const CsrGraph graph{vector_view(indptr), vector_view(indices), vector_view(distances), n};
        return fit_without_gil(dbscan, graph, optional_vector(sample_weight, "sample_weight"));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("distances"), py::arg("n"), py::arg("options"),
      py::arg("sample_weight") = py::none(), "DBSCAN on a precomputed sparse distance graph in CSR form (n x n).");
}

}  // namespace

void bind_cluster(py::module_& m) {
  bind_hdbscan(m);
  bind_dbscan(m);
}

}  // namespace spatialembed::bindings
