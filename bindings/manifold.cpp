#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/manifold/ab_params.hpp"
#include "spatialembed/manifold/fuzzy_simplicial_set.hpp"
#include "spatialembed/manifold/umap.hpp"
#include "spatialembed/neighbors/exact_knn.hpp"
#include "spatialembed/neighbors/nn_descent.hpp"

namespace spatialembed::bindings {

namespace {

py::tuple knn_to_python(KnnGraph&& knn) {
  const auto shape = std::vector<py::ssize_t>{static_cast<py::ssize_t>(knn.n), static_cast<py::ssize_t>(knn.k)};
  return py::make_tuple(to_numpy(std::move(knn.indices)).reshape(shape), to_numpy(std::move(knn.distances)).reshape(shape));
}

KnnGraph knn_from_python(const CArray<std::int32_t>& indices, const CArray<float>& distances) {
  SPATIALEMBED_CHECK(indices.ndim() == 2 && distances.ndim() == 2 && indices.shape(0) == distances.shape(0) &&
                         indices.shape(1) == distances.shape(1),
                     InvalidArgument, "knn indices and distances must be 2-D arrays of one shape (n, k)");
  KnnGraph knn;
  knn.n = static_cast<std::size_t>(indices.shape(0));
  knn.k = static_cast<std::size_t>(indices.shape(1));
  knn.indices.assign(indices.data(), indices.data() + indices.size());
  knn.distances.assign(distances.data(), distances.data() + distances.size());
  return knn;
}

py::tuple csr_to_python(CsrMatrix&& m) {
  return py::make_tuple(to_numpy(std::move(m.indptr)), to_numpy(std::move(m.indices)), to_numpy(std::move(m.data)),
                        py::make_tuple(m.rows, m.cols));
}


CsrMatrix csr_from_python(const CArray<std::int64_t>& indptr, const CArray<std::int32_t>& indices,
                          const CArray<float>& data, std::size_t n) {
  SPATIALEMBED_CHECK(indptr.ndim() == 1 && static_cast<std::size_t>(indptr.size()) == n + 1 &&
                         indices.size() == data.size() && indptr.data()[n] == data.size(),
                     InvalidArgument, "a CSR graph needs indptr of n + 1 = {} offsets ending at the number of values",
                     n + 1);
  CsrMatrix m;
  m.rows = m.cols = n;
  m.indptr.assign(indptr.data(), indptr.data() + indptr.size());
  m.indices.assign(indices.data(), indices.data() + indices.size());
  m.data.assign(data.data(), data.data() + data.size());
  return m;
}

py::array_t<float> rows(const std::vector<float>& values, std::size_t n, std::size_t d) {
  py::array_t<float> out({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(d)});
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

// The stateful C++ UMAP (manifold/umap.hpp), used by spatialembed.UMAP for fit, transform,
// save/load and pickling (through its own serialisation).
void bind_umap_model(py::module_& m) {
  py::class_<UMAP>(m, "UMAP", "The stateful C++ UMAP (see spatialembed.UMAP, manifold/umap.hpp).")
      .def(py::init<UmapOptions>(), py::arg("options") = UmapOptions{})
      .def(
          "fit",
          [](UMAP& model, const CArray<float>& X, const py::object& progress) {
            const auto view = matrix_view(X, "X");
            model.options().progress = python_progress(progress);
            {
              py::gil_scoped_release release;
              model.fit(view);
            }
            model.options().progress = {};
          },
          py::arg("X"), py::arg("progress") = py::none(), "Fit on X (float32, n x d); keeps a copy of X for transform.")
      .def(
          "fit_knn",
          [](UMAP& model, const CArray<std::int32_t>& indices, const CArray<float>& distances,
             const std::optional<CArray<float>>& X, const py::object& progress) {
            const KnnGraph knn = knn_from_python(indices, distances);
            const ConstMatrixF data = X ? matrix_view(*X, "X") : ConstMatrixF();
            model.options().progress = python_progress(progress);
            {
              py::gil_scoped_release release;
              model.fit(knn, data);
            }
            model.options().progress = {};
          },
          py::arg("knn_indices"), py::arg("knn_dists"), py::arg("X") = py::none(), py::arg("progress") = py::none(),
          "Fit from a kNN graph (n x k int32 indices, float32 distances); X (optional) is kept for transform.")
      .def(
          "transform",
          [](const UMAP& model, const CArray<float>& Y) {
            const auto queries = matrix_view(Y, "X");
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = model.transform(queries);
            }
            return to_numpy(std::move(out))
                .reshape(std::vector<py::ssize_t>{static_cast<py::ssize_t>(queries.rows),
                                                  static_cast<py::ssize_t>(model.options().n_components)});
          },
          py::arg("X"), "Embed new points (float32, m x d) against the fitted model: m x n_components float32.")
      .def_property_readonly("fitted", &UMAP::fitted)
      .def_property_readonly("n_features", &UMAP::n_features, "Columns of the training data; 0 without it.")
      .def_property_readonly("options", py::overload_cast<>(&UMAP::options), py::return_value_policy::reference_internal)
      .def_property_readonly("embedding",
                             [](const UMAP& model) {
                               return rows(model.result().embedding, model.result().n, model.result().n_components);
                             })
      .def_property_readonly("graph",
                             [](const UMAP& model) {
                               CsrMatrix graph = model.result().graph;
                               return csr_to_python(std::move(graph));
                             },
                             "The fuzzy simplicial set as (indptr, indices, data, shape); empty after load.")
      .def_property_readonly("a", [](const UMAP& model) { return model.result().ab.a; })
      .def_property_readonly("b", [](const UMAP& model) { return model.result().ab.b; })
      .def_property_readonly("n_epochs", [](const UMAP& model) { return model.result().n_epochs; })
      .def_property_readonly("spectral_fell_back", [](const UMAP& model) { return model.result().spectral_fell_back; })
      .def("save", &UMAP::save, py::arg("path"), py::arg("overwrite") = false,
           "Write the fitted model to a binary file (refuses to overwrite unless overwrite).")
      .def_static("load", &UMAP::load, py::arg("path"), "Read a model written by save.")
      .def("to_bytes", [](const UMAP& model) { return py::bytes(model.to_bytes()); })
      .def_static("from_bytes", [](const py::bytes& bytes) { return UMAP::from_bytes(std::string(bytes)); },
                  py::arg("data"))
      .def(py::pickle([](const UMAP& model) { return py::bytes(model.to_bytes()); },
                      [](const py::bytes& bytes) { return UMAP::from_bytes(std::string(bytes)); }));
}

}  // namespace

void bind_manifold(py::module_& m) {
  using O = UmapOptions;
  py::class_<O> options(m, "UmapOptions", "UMAP options (manifold/umap.hpp); spatialembed.UMAP fills them by name.");
  options.def(py::init<>())
      .def_readwrite("n_neighbors", &O::n_neighbors, "Neighbours per point, itself included; >= 2, < n. Default 15.")
      .def_readwrite("n_components", &O::n_components, "Output dimensions; >= 1. Default 2.");
  def_enum(options, "metric", &O::metric, &parse_metric,
           "Input distance: 'euclidean' (default), 'cosine', 'correlation' or 'manhattan'.");
  options
      .def_readwrite("min_dist", &O::min_dist,
                     "Output-space distance where similarity starts to fall; in [0, spread]. Default 0.1.")
      .def_readwrite("spread", &O::spread, "Output-space scale of the similarity curve; > 0. Default 1.")
      .def_readwrite("n_epochs", &O::n_epochs, "Layout epochs; 0 = auto: 500 for n <= 10,000, else 200. Default 0.")
      .def_readwrite("learning_rate", &O::learning_rate, "Initial SGD step, decays linearly to 0; > 0. Default 1.");
  def_enum(options, "init", &O::init, &parse_umap_init,
           "Starting layout: 'spectral' (default), 'pca', 'random'; 'user' after set_init_embedding.");
  options
      .def(
          "set_init_embedding",
          [](O& o, const CArray<float>& values) {
            o.init = UmapInit::user;
            o.init_embedding.assign(values.data(), values.data() + values.size());
          },
          py::arg("values"), "Start from these coordinates (n x n_components float32); sets init = 'user'.")
      .def_readwrite("negative_sample_rate", &O::negative_sample_rate,
                     "Negative samples per positive edge sample; >= 0. Default 5.")
      .def_readwrite("repulsion_strength", &O::repulsion_strength, "Weight of the negative samples; >= 0. Default 1.")
      .def_readwrite("set_op_mix_ratio", &O::set_op_mix_ratio,
                     "1 = fuzzy union, 0 = fuzzy intersection; in [0, 1]. Default 1.")
      .def_readwrite("local_connectivity", &O::local_connectivity,
                     "Neighbours assumed connected (rho); >= 0. Default 1.")
      .def_readwrite("a", &O::a, "Curve parameter a; NaN (default) = fitted from min_dist and spread.")
      .def_readwrite("b", &O::b, "Curve parameter b; NaN (default) = fitted from min_dist and spread.");
  def_enum(options, "knn_method", &O::knn_method, &parse_knn_method,
           "Neighbour search: 'auto' (exact below 4,096 points, else NN-descent), 'exact' or 'nn_descent'.");
  options.def_readwrite("seed", &O::seed, "Every random choice derives from it. Default 0.")
      .def_readwrite("num_threads", &O::num_threads, "Worker threads; 0 = all cores; the output does not depend on it.")
      .def("validate", &O::validate, "Raises ValueError naming the field, its value and the allowed range.");

  using N = NnDescentOptions;
  py::class_<N> nnd(m, "NnDescentOptions", "NN-descent options (neighbors/nn_descent.hpp); 0 = umap-learn's automatic value.");
  nnd.def(py::init<>())
      .def_readwrite("k", &N::k, "Neighbours per point, itself included; 1 <= k <= n. Default 15.");
  def_enum(nnd, "metric", &N::metric, &parse_metric, "Distance between rows. Default 'euclidean'.");
  nnd.def_readwrite("n_trees", &N::n_trees, "Random-projection trees; 0 = min(64, 5 + round(sqrt(n) / 20)).")
      .def_readwrite("leaf_size", &N::leaf_size, "Largest tree leaf; 0 = max(10, k).")
      .def_readwrite("max_candidates", &N::max_candidates, "Candidates per point per iteration. Default 60.")
      .def_readwrite("n_iters", &N::n_iters, "Most iterations; 0 = max(5, round(log2 n)).")
      .def_readwrite("delta", &N::delta, "Stop when fewer than delta * n * k neighbours change. Default 0.001.")
      .def_readwrite("seed", &N::seed, "Trees and candidate sampling derive from it. Default 0.")
      .def_readwrite("num_threads", &N::num_threads, "0 = all cores; the result does not depend on it.");

  bind_umap_model(m);

  m.def(
      "nearest_neighbors",
      [](const CArray<float>& X, std::size_t k, const std::string& metric, const std::string& method,
         std::uint64_t seed, int num_threads) {
        UmapOptions options;
        options.n_neighbors = k;
        options.metric = parse_metric(metric);
        options.knn_method = parse_knn_method(method);
        options.seed = seed;
        options.num_threads = num_threads;
        const auto view = matrix_view(X, "X");
        KnnGraph knn;
        {
          py::gil_scoped_release release;
          if (options.knn_method == KnnMethod::nn_descent) {
            NnDescentOptions nnd;  // the other fields at their defaults
            nnd.k = k;
            nnd.metric = options.metric;
            nnd.seed = seed;
            nnd.num_threads = num_threads;
            knn = nn_descent(view, nnd);
          } else {
            knn = exact_knn(view, k, options.metric, num_threads);
          }
        }
        return knn_to_python(std::move(knn));
      },
      py::arg("X"), py::arg("k"), py::arg("metric") = "euclidean", py::arg("method") = "exact", py::arg("seed") = 0,
      py::arg("num_threads") = 0, "k nearest neighbours of each row, itself first: (indices int32, distances float32).");

  m.def(
      "smooth_knn_dist",
      [](const CArray<std::int32_t>& indices, const CArray<float>& distances, double k, double local_connectivity) {
        auto r = smooth_knn_dist(knn_from_python(indices, distances), k, local_connectivity);
        return py::make_tuple(to_numpy(std::move(r.sigmas)), to_numpy(std::move(r.rhos)));
      },
      py::arg("knn_indices"), py::arg("knn_dists"), py::arg("k"), py::arg("local_connectivity") = 1.0,
      "umap-learn's smooth_knn_dist: (sigmas, rhos).");

  m.def(
      "fuzzy_simplicial_set",
      [](const CArray<std::int32_t>& indices, const CArray<float>& distances, double set_op_mix_ratio,
         double local_connectivity) {
        return csr_to_python(fuzzy_simplicial_set(knn_from_python(indices, distances), set_op_mix_ratio, local_connectivity));
      },
      py::arg("knn_indices"), py::arg("knn_dists"), py::arg("set_op_mix_ratio") = 1.0,
      py::arg("local_connectivity") = 1.0, "The symmetric fuzzy graph as (indptr, indices, data, shape).");

  m.def(
      "fuzzy_set_intersection",
      [](const CArray<std::int64_t>& left_indptr, const CArray<std::int32_t>& left_indices,
         const CArray<float>& left_data, const CArray<std::int64_t>& right_indptr,
         const CArray<std::int32_t>& right_indices, const CArray<float>& right_data, std::size_t n,
         double mix_weight, double k) {
        return csr_to_python(fuzzy_set_intersection(csr_from_python(left_indptr, left_indices, left_data, n),
                                                    csr_from_python(right_indptr, right_indices, right_data, n),
                                                    mix_weight, k));
      },
      py::arg("left_indptr"), py::arg("left_indices"), py::arg("left_data"), py::arg("right_indptr"),
      py::arg("right_indices"), py::arg("right_data"), py::arg("n"), py::arg("mix_weight") = 0.5, py::arg("k") = 15.0,
      "umap-learn's intersection of two fuzzy graphs (UMAP.__mul__) as (indptr, indices, data, shape).");

  m.def(
      "find_ab_params",
      [](double spread, double min_dist) {
        const auto ab = find_ab_params(spread, min_dist);
        return py::make_tuple(ab.a, ab.b);
      },
      py::arg("spread"), py::arg("min_dist"), "umap-learn's find_ab_params: (a, b).");
}

}  // namespace spatialembed::bindings
