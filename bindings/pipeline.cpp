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

template <class T>
py::array reshaped(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  return to_numpy(std::move(values)).reshape(shape);
}

py::dict result_to_python(IonImageClusteringResult&& r) {
  const auto N = static_cast<py::ssize_t>(r.mz.size()), H = static_cast<py::ssize_t>(r.height),
             W = static_cast<py::ssize_t>(r.width), K = static_cast<py::ssize_t>(r.members.size());
  py::dict out;
  out["method"] = to_string(r.method);
  out["clusterer"] = to_string(r.clusterer);
  if (r.clusterer == IonClusterer::hdbscan) {
    py::dict tree;
    tree["parent"] = to_numpy(std::move(r.condensed_tree.parent));
    tree["child"] = to_numpy(std::move(r.condensed_tree.child));
    tree["lambda_val"] = to_numpy(std::move(r.condensed_tree.lambda_val));
    tree["child_size"] = to_numpy(std::move(r.condensed_tree.child_size));
    out["condensed_tree"] = tree;
    out["cluster_nodes"] = to_numpy(std::move(r.cluster_nodes));
    out["probabilities"] = to_numpy(std::move(r.probabilities));
  } else {
    out["condensed_tree"] = py::none();
    out["cluster_nodes"] = py::none();
    out["probabilities"] = py::none();
  }
  out["labels"] = to_numpy(std::move(r.labels));
  out["empty"] = to_numpy(std::move(r.empty)).attr("view")("bool");
  out["mz"] = to_numpy(std::move(r.mz));
  out["embedding"] = reshaped(std::move(r.embedding), {N, static_cast<py::ssize_t>(r.n_components)});
  out["features"] = r.features.empty() ? py::object(py::none())
                                       : py::object(reshaped(std::move(r.features), {N, static_cast<py::ssize_t>(r.n_features)}));
  out["mask"] = reshaped(std::move(r.mask), {H, W}).attr("view")("bool");
  out["cluster_mean_images"] = reshaped(std::move(r.cluster_mean_images), {K, H, W});
  py::list members;
  for (auto& m : r.members) members.append(to_numpy(std::vector<std::int64_t>(m.begin(), m.end())));
  out["members"] = members;
  out["eps"] = r.eps;
  out["eps_auto"] = r.eps_auto;
  out["k_distances"] = to_numpy(std::move(r.k_distances));
  out["n_neighbors"] = r.n_neighbors;
  out["timings"] = r.timings;
  const auto& e = r.evaluation;
  py::dict evaluation;
  evaluation["n_clusters"] = e.n_clusters;
  evaluation["noise_fraction"] = e.noise_fraction;
  evaluation["silhouette"] = e.silhouette;
  evaluation["isotope_pairs"] = e.isotope_pairs;
  evaluation["isotope_pairs_clustered"] = e.isotope_pairs_clustered;
  evaluation["isotope_coclustering"] = e.isotope_coclustering;
  out["evaluation"] = evaluation;
  return out;
}

// A read-only NumPy view of memory that `base` (a Python object) keeps alive.
py::array readonly_view(const py::dtype& dtype, std::vector<py::ssize_t> shape, const void* data, py::handle base) {
  py::array view(dtype, std::move(shape), {}, data, base);
  view.attr("setflags")(py::arg("write") = false);
  return view;
}

IonImageClusteringOptions preprocess_only(bool tic_normalize, double hotspot_quantile, std::size_t median_filter,
                                          int num_threads, const py::object& progress) {
  IonImageClusteringOptions o;
  o.method = IonClusteringMethod::umap_only;  // no features function needed to prepare
  o.preprocess.tic_normalize = tic_normalize;
  o.preprocess.hotspot_quantile = hotspot_quantile;
  o.preprocess.median_filter = median_filter;
  o.num_threads = num_threads;
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
          [](const std::string& folder, bool tic_normalize, double hotspot_quantile, std::size_t median_filter,
             int num_threads, const py::object& progress, const PngStackOptions& png) {
            const auto o = preprocess_only(tic_normalize, hotspot_quantile, median_filter, num_threads, progress);
            IonImageStack stack;
            {
              py::gil_scoped_release release;
              stack = read_png_stack(folder, png);
            }
            return prepared(o, std::move(stack));  // moved, never copied
          },
          py::arg("folder"), py::arg("tic_normalize"), py::arg("hotspot_quantile"), py::arg("median_filter"),
          py::arg("num_threads"), py::arg("progress"), py::arg("png") = PngStackOptions{})
      .def_static(
          "from_imzml",
          [](const ImzMLReader& reader, const CArray<double>& mz, double tolerance, const std::string& unit,
             const std::string& aggregate, const std::string& normalization, bool tic_normalize,
             double hotspot_quantile, std::size_t median_filter, int num_threads, const py::object& progress) {
            const auto o = preprocess_only(tic_normalize, hotspot_quantile, median_filter, num_threads, progress);
            std::vector<std::string> warnings;
            const IonImageOptions cut = ion_image_options(tolerance, unit, aggregate, normalization, num_threads, warnings);
            SPATIALEMBED_CHECK(mz.ndim() == 1, InvalidArgument, "mz must be 1-D, got {} dimension(s)", mz.ndim());
            IonImageStack stack;
            {
              py::gil_scoped_release release;
              stack = extract_ion_images(reader, vector_view(mz), cut);
            }
            return py::make_tuple(prepared(o, std::move(stack)), warnings);  // moved, never copied
          },
          py::arg("reader"), py::arg("mz"), py::arg("tolerance"), py::arg("unit"), py::arg("aggregate"),
          py::arg("normalization"), py::arg("tic_normalize"), py::arg("hotspot_quantile"), py::arg("median_filter"),
          py::arg("num_threads"), py::arg("progress"))
      .def_static(
          "from_arrays",
          [](const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz, double pixel_size_x,
             double pixel_size_y, std::int32_t origin_x, std::int32_t origin_y, bool tic_normalize,
             double hotspot_quantile, std::size_t median_filter, int num_threads, const py::object& progress) {
            const auto o = preprocess_only(tic_normalize, hotspot_quantile, median_filter, num_threads, progress);
            IonImageStack stack = stack_from_python(images, mask, mz);  // the one copy
            stack.pixel_size_x = pixel_size_x, stack.pixel_size_y = pixel_size_y;
            stack.origin_x = origin_x, stack.origin_y = origin_y;
            return prepared(o, std::move(stack));
          },
          py::arg("images"), py::arg("mask"), py::arg("mz"), py::arg("pixel_size_x"), py::arg("pixel_size_y"),
          py::arg("origin_x"), py::arg("origin_y"), py::arg("tic_normalize"), py::arg("hotspot_quantile"),
          py::arg("median_filter"), py::arg("num_threads"), py::arg("progress"))
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
      .def_property_readonly("preprocess",
                             [](const P& p) {
                               py::dict d;
                               d["tic_normalize"] = p.preprocess.tic_normalize;
                               d["hotspot_quantile"] = p.preprocess.hotspot_quantile;
                               d["median_filter"] = p.preprocess.median_filter;
                               return d;
                             })
      .def_readonly("seconds", &P::seconds)
      .def_property_readonly("nbytes", [](const P& p) { return p.stack.images.size() * sizeof(float); });
}

}  // namespace

void bind_pipeline(py::module_& m) {
  bind_prepared(m);
  m.def(
      "fit_prepared",
      [](const PreparedIonImages& prepared, const std::string& method, bool tic_normalize, double hotspot_quantile,
         std::size_t median_filter, UmapOptions umap, std::optional<double> eps, std::int64_t min_samples,
         const std::string& dbscan_algorithm, double isotope_tolerance, const std::string& isotope_unit, int max_charge,
         std::uint64_t seed, int num_threads, const py::object& features, const py::object& progress,
         const std::string& clusterer, const HdbscanOptions& hdbscan, const std::string& feature_set,
         double pixel_weight) {
        IonImageClusteringOptions o;
        o.feature_set = parse_ion_feature_set(feature_set);
        o.pixel_weight = pixel_weight;
        o.method = parse_ion_clustering_method(method);
        o.clusterer = parse_ion_clusterer(clusterer);
        o.hdbscan = hdbscan;
        o.preprocess.tic_normalize = tic_normalize;
        o.preprocess.hotspot_quantile = hotspot_quantile;
        o.preprocess.median_filter = median_filter;
        o.umap = std::move(umap);
        o.eps_auto = !eps.has_value();
        if (eps) o.dbscan.eps = *eps;
        o.dbscan.min_samples = min_samples;
        o.dbscan.algorithm = parse_dbscan_algorithm(dbscan_algorithm);
        o.isotopes.tolerance = isotope_tolerance;
        o.isotopes.unit = parse_tolerance_unit(isotope_unit);
        o.isotopes.max_charge = max_charge;
        o.seed = seed;
        o.num_threads = num_threads;
        if (!features.is_none()) o.features = python_features(features);
        o.progress = stage_progress(progress);
        const IonImageClustering pipeline(std::move(o));
        IonImageClusteringResult result;
        {
          py::gil_scoped_release release;
          result = pipeline.fit_prepared(prepared);
        }
        return result_to_python(std::move(result));
      },
      py::arg("prepared"), py::arg("method"), py::arg("tic_normalize"), py::arg("hotspot_quantile"),
      py::arg("median_filter"), py::arg("umap"), py::arg("eps"), py::arg("min_samples"), py::arg("dbscan_algorithm"),
      py::arg("isotope_tolerance"), py::arg("isotope_unit"), py::arg("max_charge"), py::arg("seed"),
      py::arg("num_threads"), py::arg("features"), py::arg("progress"), py::arg("clusterer") = "dbscan",
      py::arg("hdbscan") = HdbscanOptions{}, py::arg("feature_set") = "cnn", py::arg("pixel_weight") = 1.0,
      "The ion-image clustering pipeline on prepared ion images (see spatialembed.IonImageClustering).");
}

}  // namespace spatialembed::bindings
