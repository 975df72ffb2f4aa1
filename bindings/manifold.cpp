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

KnnMethod parse_knn_method(const std::string& name) {
  if (name == "auto") return KnnMethod::automatic;
  if (name == "exact") return KnnMethod::exact;
  if (name == "nn_descent") return KnnMethod::nn_descent;
  detail::raise<InvalidArgument>("knn_method must be 'auto', 'exact' or 'nn_descent', got '{}'", name);
}

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


py::tuple embedding_to_python(UmapEmbedding&& r) {
  auto embedding = to_numpy(std::move(r.embedding))
                       .reshape(std::vector<py::ssize_t>{static_cast<py::ssize_t>(r.n), static_cast<py::ssize_t>(r.n_components)});
  return py::make_tuple(embedding, csr_to_python(std::move(r.graph)), r.ab.a, r.ab.b, r.n_epochs, r.spectral_fell_back);
}

}  // namespace

void bind_manifold(py::module_& m) {
  py::class_<UmapOptions>(m, "UmapOptions", "UMAP options (see spatialembed.UMAP)")
      .def(py::init<>())
      .def_readwrite("n_neighbors", &UmapOptions::n_neighbors)
      .def_readwrite("n_components", &UmapOptions::n_components)
      .def_property("metric", [](const UmapOptions& o) { return std::string(to_string(o.metric)); },
                    [](UmapOptions& o, const std::string& v) { o.metric = parse_metric(v); })
      .def_readwrite("min_dist", &UmapOptions::min_dist)
      .def_readwrite("spread", &UmapOptions::spread)
      .def_readwrite("n_epochs", &UmapOptions::n_epochs)
      .def_readwrite("learning_rate", &UmapOptions::learning_rate)
      .def_property("init", [](const UmapOptions& o) {
                      const char* names[] = {"spectral", "pca", "random", "user"};
                      return std::string(names[static_cast<int>(o.init)]);
                    },
                    [](UmapOptions& o, const std::string& v) { o.init = parse_umap_init(v); })
      .def("set_init_embedding", [](UmapOptions& o, const CArray<float>& values) {
        o.init = UmapInit::user;
        o.init_embedding.assign(values.data(), values.data() + values.size());
      })
      .def_readwrite("negative_sample_rate", &UmapOptions::negative_sample_rate)
      .def_readwrite("repulsion_strength", &UmapOptions::repulsion_strength)
      .def_readwrite("set_op_mix_ratio", &UmapOptions::set_op_mix_ratio)
      .def_readwrite("local_connectivity", &UmapOptions::local_connectivity)
      .def_readwrite("a", &UmapOptions::a)
      .def_readwrite("b", &UmapOptions::b)
      .def_property("knn_method", [](const UmapOptions& o) {
                      const char* names[] = {"auto", "exact", "nn_descent"};
                      return std::string(names[static_cast<int>(o.knn_method)]);
                    },
                    [](UmapOptions& o, const std::string& v) { o.knn_method = parse_knn_method(v); })
      .def_readwrite("seed", &UmapOptions::seed)
      .def_readwrite("num_threads", &UmapOptions::num_threads)
      .def("validate", &UmapOptions::validate);

  m.def(
      "umap_fit",
      [](const CArray<float>& X, UmapOptions options, const py::object& progress) {
        options.progress = python_progress(progress);
        const auto view = matrix_view(X, "X");
        UmapEmbedding r;
        {
          py::gil_scoped_release release;
          r = umap_fit(view, options);
        }
        return embedding_to_python(std::move(r));
      },
      py::arg("X"), py::arg("options"), py::arg("progress") = py::none(),
      "UMAP of X (float32, n x d). Returns (embedding, (indptr, indices, data, shape), a, b, n_epochs, fell_back).");

  m.def(
      "umap_fit_knn",
      [](const CArray<std::int32_t>& indices, const CArray<float>& distances, UmapOptions options,
         const std::optional<CArray<float>>& X, const py::object& progress) {
        options.progress = python_progress(progress);
        KnnGraph knn = knn_from_python(indices, distances);
        const ConstMatrixF data = X ? matrix_view(*X, "X") : ConstMatrixF();
        UmapEmbedding r;
        {
          py::gil_scoped_release release;
          r = umap_fit(knn, options, data);
        }
        return embedding_to_python(std::move(r));
      },
      py::arg("knn_indices"), py::arg("knn_dists"), py::arg("options"), py::arg("X") = py::none(),
      py::arg("progress") = py::none(), "UMAP from a precomputed kNN graph (n x k int32 indices, float32 distances).");

  m.def(
      "umap_transform",
      [](const CArray<float>& X_train, const CArray<float>& embedding, const CArray<float>& Y, UmapOptions options) {
        options.progress = interrupt_check();
        const auto train = matrix_view(X_train, "X_train"), fitted = matrix_view(embedding, "embedding"),
                   queries = matrix_view(Y, "X");
        std::vector<float> out;
        {
          py::gil_scoped_release release;
          out = umap_transform(train, fitted, queries, options);
        }
        return to_numpy(std::move(out))
            .reshape(std::vector<py::ssize_t>{static_cast<py::ssize_t>(queries.rows), static_cast<py::ssize_t>(options.n_components)});
      },
      py::arg("X_train"), py::arg("embedding"), py::arg("X"), py::arg("options"));

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
          knn = options.knn_method == KnnMethod::nn_descent
                    ? nn_descent(view, NnDescentOptions{k, options.metric, 0, 0, 60, 0, 0.001, seed, num_threads})
                    : exact_knn(view, k, options.metric, num_threads);
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
      "find_ab_params",
      [](double spread, double min_dist) {
        const auto ab = find_ab_params(spread, min_dist);
        return py::make_tuple(ab.a, ab.b);
      },
      py::arg("spread"), py::arg("min_dist"), "umap-learn's find_ab_params: (a, b).");
}

}  // namespace spatialembed::bindings
