#include <pybind11/stl.h>

#include <optional>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
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

}  // namespace

void bind_pipeline(py::module_& m) {
  m.def(
      "cluster_ion_images",
      [](const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz, const std::string& method,
         bool tic_normalize, double hotspot_quantile, std::size_t median_filter, UmapOptions umap,
         std::optional<double> eps, std::int64_t min_samples, const std::string& dbscan_algorithm,
         double isotope_tolerance, const std::string& isotope_unit, int max_charge, std::uint64_t seed,
         int num_threads, const py::object& features, const py::object& progress) {
        IonImageClusteringOptions o;
        o.method = parse_ion_clustering_method(method);
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
        IonImageStack stack = stack_from_python(images, mask, mz);
        IonImageClusteringResult result;
        {
          py::gil_scoped_release release;
          result = pipeline.fit(std::move(stack));
        }
        return result_to_python(std::move(result));
      },
      py::arg("images"), py::arg("mask"), py::arg("mz"), py::arg("method"), py::arg("tic_normalize"),
      py::arg("hotspot_quantile"), py::arg("median_filter"), py::arg("umap"), py::arg("eps"), py::arg("min_samples"),
      py::arg("dbscan_algorithm"), py::arg("isotope_tolerance"), py::arg("isotope_unit"), py::arg("max_charge"),
      py::arg("seed"), py::arg("num_threads"), py::arg("features"), py::arg("progress"),
      "The ion-image clustering pipeline (see spatialembed.IonImageClustering).");
}

}  // namespace spatialembed::bindings
