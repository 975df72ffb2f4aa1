#include <pybind11/stl.h>

#include <memory>
#include <optional>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/msi/imzml_reader.hpp"
#include "spatialembed/pipeline/ion_image_clustering.hpp"

namespace spatialembed::bindings {

namespace {

// The preprocessed images handed to a Python features function, as a read-only array viewing
// the stack's memory: valid during the call only, which is all the function needs.
py::array stack_view(const IonImageStack& stack) {
  py::capsule no_owner(stack.images.data(), [](void*) {});
  const std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(stack.n_images()),
                                      static_cast<py::ssize_t>(stack.height), static_cast<py::ssize_t>(stack.width)};
  py::array_t<float> images(shape, stack.images.data(), no_owner);
  images.attr("setflags")(py::arg("write") = false);
  return images;
}

// Calls `features(images, mask)` (Python) with the GIL held; expects (n_images, D) float32.
IonImageFeatureFn python_features(const py::object& features) {
  return [features](const IonImageStack& stack) {
    py::gil_scoped_acquire gil;
    auto mask = to_numpy(std::vector<std::uint8_t>(stack.mask)).attr("view")("bool").attr("reshape")(
        py::make_tuple(stack.height, stack.width));
    const CArray<float> out = features(stack_view(stack), mask);
    SPATIALEMBED_CHECK(out.ndim() == 2 && static_cast<std::size_t>(out.shape(0)) == stack.n_images(), InvalidArgument,
                       "the features function must return an array of shape (n_images, D) = ({}, D), got {} dimension(s)",
                       stack.n_images(), out.ndim());
    return std::vector<float>(out.data(), out.data() + out.size());
  };
}

// Stage progress to an optional Python callable (stage, done, total); Ctrl-C cancels.
StageProgressCallback stage_progress(const py::object& callback) {
  return [callback](const std::string& stage, std::size_t done, std::size_t total) {
    py::gil_scoped_acquire gil;
    if (interrupted()) return false;
    if (callback.is_none()) return true;
    const py::object keep_going = callback(stage, done, total);
    return keep_going.is_none() || keep_going.cast<bool>();
  };
}

// A writable NumPy view of a vector owned by `owner` (a bound result object), which it keeps alive.
template <class T>
py::array view(const std::vector<T>& values, std::vector<py::ssize_t> shape, const py::object& owner) {
  return py::array_t<T>(std::move(shape), values.data(), owner);
}

void bind_results(py::module_& m) {
  using E = IonClusteringEvaluation;
  py::class_<E>(m, "IonClusteringEvaluation", "How good a clustering looks without ground truth (pipeline/ion_image_clustering.hpp).")
      .def_readonly("n_clusters", &E::n_clusters, "Clusters found.")
      .def_readonly("noise_fraction", &E::noise_fraction, "Share of the non-empty images labelled -1.")
      .def_readonly("silhouette", &E::silhouette,
                    "Mean silhouette in the UMAP space over clustered images; NaN with < 2 clusters.")
      .def_readonly("isotope_pairs", &E::isotope_pairs, "Isotope pairs among all ion images' m/z.")
      .def_readonly("isotope_pairs_clustered", &E::isotope_pairs_clustered, "Pairs whose two images both have a cluster.")
      .def_readonly("isotope_coclustering", &E::isotope_coclustering,
                    "Share of those in one cluster; NaN when there are none.")
      .def_readonly("isotope_pairs_together", &E::isotope_pairs_together, "Of those, pairs whose two images share a cluster.")
      .def_property_readonly(
          "isotope_pair_index",
          [](const E& e) {
            std::vector<std::int64_t> index;
            for (const auto& p : e.isotope_pair_list)
              index.insert(index.end(), {static_cast<std::int64_t>(p.light), static_cast<std::int64_t>(p.heavy)});
            return to_numpy(std::move(index)).reshape({static_cast<py::ssize_t>(e.isotope_pair_list.size()), py::ssize_t{2}});
          },
          "(n_pairs, 2) int64: the ion images (light, heavy) of each isotope pair, ordered by (light, heavy).")
      .def_property_readonly(
          "isotope_pair_charge",
          [](const E& e) {
            std::vector<std::int64_t> charge;
            for (const auto& p : e.isotope_pair_list) charge.push_back(p.charge);
            return to_numpy(std::move(charge));
          },
          "(n_pairs,) int64: the charge z matched by each pair.")
      .def_property_readonly(
          "isotope_pair_error",
          [](const E& e) {
            std::vector<double> error;
            for (const auto& p : e.isotope_pair_list) error.push_back(p.error);
            return to_numpy(std::move(error));
          },
          "(n_pairs,) float64: each pair's spacing error in Da.")
      .def_property_readonly("isotope_tolerance", [](const E& e) { return e.isotope_options.tolerance; },
                             "The tolerance the pairs were found with, in `isotope_unit`.")
      .def_property_readonly("isotope_unit", [](const E& e) { return std::string(to_string(e.isotope_options.unit)); },
                             "'ppm' or 'da'.")
      .def_property_readonly("isotope_max_charge", [](const E& e) { return e.isotope_options.max_charge; },
                             "The largest charge z searched.")
      .def_property_readonly("isotope_spacing", [](const E& e) { return e.isotope_options.spacing; },
                             "The isotope spacing searched, in Da (for z = 1).");

  using R = IonImageClusteringResult;
  py::class_<R> r(m, "IonImageClusteringResult",
                  "What one run of the pipeline found (arrays are views kept alive by this object); "
                  "spatialembed.IonImageClusteringResult is built from it.");
  def_enum_readonly(r, "method", &R::method, "'nn' or 'umap_only'.");
  def_enum_readonly(r, "clusterer", &R::clusterer, "'dbscan' or 'hdbscan'.");
  const auto n = [](const R& x) { return static_cast<py::ssize_t>(x.mz.size()); };
  r.def_property_readonly("mz", [n](py::object self) { const auto& x = self.cast<const R&>(); return view(x.mz, {n(x)}, self); },
                          "(n_images,) float64 m/z.")
      .def_property_readonly("labels", [n](py::object self) { const auto& x = self.cast<const R&>(); return view(x.labels, {n(x)}, self); },
                             "(n_images,) int32 clusters; -1 = noise or empty image.")
      .def_property_readonly("empty",
                             [n](py::object self) {
                               const auto& x = self.cast<const R&>();
                               return view(x.empty, {n(x)}, self).attr("view")("bool");
                             },
                             "(n_images,) bool: all zero after preprocessing (not clustered).")
      .def_property_readonly("embedding",
                             [n](py::object self) {
                               const auto& x = self.cast<const R&>();
                               return view(x.embedding, {n(x), static_cast<py::ssize_t>(x.n_components)}, self);
                             },
                             "(n_images, n_components) float32; NaN rows for empty images.")
      .def_property_readonly("features",
                             [n](py::object self) -> py::object {
                               const auto& x = self.cast<const R&>();
                               if (x.features.empty()) return py::none();
                               return view(x.features, {n(x), static_cast<py::ssize_t>(x.n_features)}, self);
                             },
                             "(n_images, n_features) float32 (nn), or None (umap_only).")
      .def_property_readonly("mask",
                             [](py::object self) {
                               const auto& x = self.cast<const R&>();
                               return view(x.mask, {static_cast<py::ssize_t>(x.height), static_cast<py::ssize_t>(x.width)}, self)
                                   .attr("view")("bool");
                             },
                             "(height, width) bool, measured pixels.")
      .def_property_readonly("cluster_mean_images",
                             [](py::object self) {
                               const auto& x = self.cast<const R&>();
                               return view(x.cluster_mean_images,
                                           {static_cast<py::ssize_t>(x.members.size()), static_cast<py::ssize_t>(x.height),
                                            static_cast<py::ssize_t>(x.width)},
                                           self);
                             },
                             "(n_clusters, height, width) float32 mean of each cluster's preprocessed images.")
      .def_property_readonly("members",
                             [](const R& x) {
                               py::list members;
                               for (const auto& c : x.members)
                                 members.append(to_numpy(std::vector<std::int64_t>(c.begin(), c.end())));
                               return members;
                             },
                             "Per cluster, its image indices (int64) by increasing m/z.")
      .def_readonly("eps", &R::eps, "DBSCAN eps used (0 for HDBSCAN).")
      .def_readonly("eps_auto", &R::eps_auto, "eps was the k-distance knee.")
      .def_property_readonly("k_distances",
                             [](py::object self) {
                               const auto& x = self.cast<const R&>();
                               return view(x.k_distances, {static_cast<py::ssize_t>(x.k_distances.size())}, self);
                             },
                             "DBSCAN: the ascending k-distance curve (k = min_samples) in the UMAP space.")
      .def_property_readonly("probabilities",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const R&>();
                               if (x.clusterer != IonClusterer::hdbscan) return py::none();
                               return view(x.probabilities, {static_cast<py::ssize_t>(x.probabilities.size())}, self);
                             },
                             "HDBSCAN: (n_images,) membership strengths; None for DBSCAN.")
      .def_property_readonly("condensed_tree",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const R&>();
                               if (x.clusterer != IonClusterer::hdbscan) return py::none();
                               return py::cast(&x.condensed_tree, py::return_value_policy::reference_internal, self);
                             },
                             "HDBSCAN: the condensed tree over the non-empty images; None for DBSCAN.")
      .def_property_readonly("cluster_nodes",
                             [](py::object self) -> py::object {
                               const auto& x = self.cast<const R&>();
                               if (x.clusterer != IonClusterer::hdbscan) return py::none();
                               return view(x.cluster_nodes, {static_cast<py::ssize_t>(x.cluster_nodes.size())}, self);
                             },
                             "HDBSCAN: the condensed-tree node of each cluster; None for DBSCAN.")
      .def_readonly("n_neighbors", &R::n_neighbors, "UMAP n_neighbors used.")
      .def_readonly("timings", &R::timings, "Seconds per stage.")
      .def_readonly("evaluation", &R::evaluation, "The IonClusteringEvaluation.")
      .def_property_readonly("n_clusters", &R::n_clusters);
}

void bind_options(py::module_& m) {
  using O = IonImageClusteringOptions;
  py::class_<O> o(m, "IonImageClusteringOptions",
                  "Options of the ion-image clustering pipeline (pipeline/ion_image_clustering.hpp); "
                  "spatialembed.IonImageClustering fills them by name. Nested options are edited in place.");
  o.def(py::init<>());
  def_enum(o, "method", &O::method, &parse_ion_clustering_method, "'nn' (default: CNN features) or 'umap_only'.");
  o.def_readwrite("preprocess", &O::preprocess, "Per-image PreprocessOptions before either method.")
      .def_readwrite("umap", &O::umap, "UmapOptions; default_umap() unless set; seed and num_threads replaced by these.");
  def_enum(o, "feature_set", &O::feature_set, &parse_ion_feature_set,
           "nn method's UMAP input: 'cnn+pixels' (default: [f/|f|, pixel_weight*x/|x|]) or 'cnn' (the paper).");
  o.def_readwrite("pixel_weight", &O::pixel_weight,
                  "Weight of the L2-normalised pixel part for feature_set 'cnn+pixels'; finite, >= 0. Default 1.");
  def_enum(o, "clusterer", &O::clusterer, &parse_ion_clusterer,
           "'hdbscan' (default, chosen by bench/ion_features/study.py) or 'dbscan' (the paper).");
  o.def_readwrite("dbscan", &O::dbscan, "DbscanOptions in the UMAP space; eps used only when eps_auto is False.")
      .def_readwrite("hdbscan", &O::hdbscan, "HdbscanOptions in the UMAP space (clusterer 'hdbscan').")
      .def_readwrite("eps_auto", &O::eps_auto, "Choose eps as the knee of the k-distance curve. Default True.")
      .def_readwrite("isotopes", &O::isotopes, "IsotopePairOptions of the isotope co-clustering score.")
      .def_readwrite("seed", &O::seed, "Seed of every random choice (UMAP). Default 0.")
      .def_readwrite("num_threads", &O::num_threads, "Threads for every stage; 0 = all cores.")
      .def("validate", &O::validate, "Raises ValueError naming the field, its value and the allowed range.")
      .def_static("default_umap", &O::default_umap,
                  "umap-learn's defaults but n_components = 3, min_dist = 0 and metric cosine (the pipeline's UMAP).")
      .def_static("paper", &O::paper,
                  "The faithful configuration of Zhang et al. 2021: nn, feature_set 'cnn', euclidean UMAP, DBSCAN.");
}

// A read-only NumPy view of memory that `base` (a Python object) keeps alive.
py::array readonly_view(const py::dtype& dtype, std::vector<py::ssize_t> shape, const void* data, py::handle base) {
  py::array view(dtype, std::move(shape), {}, data, base);
  view.attr("setflags")(py::arg("write") = false);
  return view;
}

// Options that only prepare: `preprocess` (its num_threads for every step) and progress.
IonImageClusteringOptions preprocess_only(const PreprocessOptions& preprocess, const py::object& progress) {
  IonImageClusteringOptions o;
  o.method = IonClusteringMethod::umap_only;  // no features function needed to prepare
  o.preprocess = preprocess;
  o.num_threads = preprocess.num_threads;
  o.progress = stage_progress(progress);
  return o;
}

std::unique_ptr<PreparedIonImages> prepared(const IonImageClusteringOptions& o, IonImageStack&& stack) {
  const IonImageClustering pipeline(o);
  py::gil_scoped_release release;
  return std::make_unique<PreparedIonImages>(pipeline.prepare(std::move(stack)));
}

void bind_prepared(py::module_& m) {
  using P = PreparedIonImages;
  py::class_<P>(m, "PreparedIonImages",
                "Preprocessed non-empty ion images owned by C++ (see spatialembed.PreparedIonImages).")
      .def_static(
          "from_png_dir",
          [](const std::string& folder, const PreprocessOptions& preprocess, const py::object& progress,
             const PngStackOptions& png) {
            const auto o = preprocess_only(preprocess, progress);
            IonImageStack stack;
            {
              py::gil_scoped_release release;
              stack = read_png_stack(folder, png);
            }
            return prepared(o, std::move(stack));  // moved, never copied
          },
          py::arg("folder"), py::arg("preprocess"), py::arg("progress") = py::none(), py::arg("png") = PngStackOptions{})
      .def_static(
          "from_imzml",
          [](const ImzMLReader& reader, const CArray<double>& mz, const IonImageOptions& ion_images,
             const PreprocessOptions& preprocess, const py::object& progress) {
            const auto o = preprocess_only(preprocess, progress);
            std::vector<std::string> warnings;
            const IonImageOptions cut = ion_image_options(ion_images, warnings);
            SPATIALEMBED_CHECK(mz.ndim() == 1, InvalidArgument, "mz must be 1-D, got {} dimension(s)", mz.ndim());
            IonImageStack stack;
            {
              py::gil_scoped_release release;
              stack = extract_ion_images(reader, vector_view(mz), cut);
            }
            return py::make_tuple(prepared(o, std::move(stack)), warnings);  // moved, never copied
          },
          py::arg("reader"), py::arg("mz"), py::arg("ion_images"), py::arg("preprocess"), py::arg("progress") = py::none())
      .def_static(
          "from_arrays",
          [](const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz, double pixel_size_x,
             double pixel_size_y, std::int32_t origin_x, std::int32_t origin_y, const PreprocessOptions& preprocess,
             const py::object& progress) {
            const auto o = preprocess_only(preprocess, progress);
            IonImageStack stack = stack_from_python(images, mask, mz);  // the one copy
            stack.pixel_size_x = pixel_size_x, stack.pixel_size_y = pixel_size_y;
            stack.origin_x = origin_x, stack.origin_y = origin_y;
            return prepared(o, std::move(stack));
          },
          py::arg("images"), py::arg("mask"), py::arg("mz"), py::arg("pixel_size_x"), py::arg("pixel_size_y"),
          py::arg("origin_x"), py::arg("origin_y"), py::arg("preprocess"), py::arg("progress") = py::none())
      .def_property_readonly("images",
                             [](py::object self) {
                               const auto& p = self.cast<const P&>();
                               return readonly_view(py::dtype::of<float>(),
                                                    {static_cast<py::ssize_t>(p.n_kept()),
                                                     static_cast<py::ssize_t>(p.height()),
                                                     static_cast<py::ssize_t>(p.width())},
                                                    p.stack.images.data(), self);
                             })
      .def_property_readonly("mask",
                             [](py::object self) {
                               const auto& p = self.cast<const P&>();
                               return readonly_view(py::dtype::of<bool>(),
                                                    {static_cast<py::ssize_t>(p.height()),
                                                     static_cast<py::ssize_t>(p.width())},
                                                    p.stack.mask.data(), self);
                             })
      .def_property_readonly("mz",
                             [](py::object self) {
                               const auto& p = self.cast<const P&>();
                               return readonly_view(py::dtype::of<double>(), {static_cast<py::ssize_t>(p.n_images())},
                                                    p.mz.data(), self);
                             })
      .def_property_readonly("empty",
                             [](py::object self) {
                               const auto& p = self.cast<const P&>();
                               return readonly_view(py::dtype::of<bool>(), {static_cast<py::ssize_t>(p.n_images())},
                                                    p.empty.data(), self);
                             })
      .def_property_readonly("mean_intensity",
                             [](py::object self) {
                               const auto& p = self.cast<const P&>();
                               return readonly_view(py::dtype::of<double>(), {static_cast<py::ssize_t>(p.n_images())},
                                                    p.mean_intensity.data(), self);
                             })
      .def_property_readonly("kept",
                             [](const P& p) { return to_numpy(std::vector<std::int64_t>(p.kept.begin(), p.kept.end())); })
      .def_property_readonly("pixel_size", [](const P& p) { return py::make_tuple(p.stack.pixel_size_x, p.stack.pixel_size_y); })
      .def_property_readonly("origin", [](const P& p) { return py::make_tuple(p.stack.origin_x, p.stack.origin_y); })
      .def_readonly("preprocess", &P::preprocess, "The PreprocessOptions applied (num_threads aside).")
      .def_readonly("seconds", &P::seconds)
      .def_property_readonly("nbytes", [](const P& p) { return p.stack.images.size() * sizeof(float); });
}

}  // namespace

void bind_pipeline(py::module_& m) {
  bind_options(m);
  bind_results(m);
  bind_prepared(m);
  m.def(
      "fit_prepared",
      [](const PreparedIonImages& prepared, IonImageClusteringOptions options, const py::object& features,
         const py::object& progress) {
        if (!features.is_none()) options.features = python_features(features);
        options.progress = stage_progress(progress);
        const IonImageClustering pipeline(std::move(options));
        auto result = std::make_unique<IonImageClusteringResult>();
        {
          py::gil_scoped_release release;
          *result = pipeline.fit_prepared(prepared);
        }
        return result;
      },
      py::arg("prepared"), py::arg("options"), py::arg("features") = py::none(), py::arg("progress") = py::none(),
      "The ion-image clustering pipeline on prepared ion images (see spatialembed.IonImageClustering): "
      "an IonImageClusteringResult.");
}

}  // namespace spatialembed::bindings
