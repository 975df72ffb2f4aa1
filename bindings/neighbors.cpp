#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/neighbors/k_distance.hpp"

namespace spatialembed::bindings {

void bind_neighbors(py::module_& m) {
  m.def(
      "k_distance",
      [](const CArray<float>& X, std::size_t k, const std::string& metric, bool sort, int num_threads) {
        KDistanceOptions options;
        options.k = k;
        options.metric = parse_metric(metric);
        options.sorted = sort;
        options.num_threads = num_threads;
        const auto view = matrix_view(X, "X");
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = k_distance(view, options);
        }
        return to_numpy(std::move(out));
      },
      py::arg("X"), py::arg("k"), py::arg("metric"), py::arg("sort"), py::arg("num_threads"),
      "Distance of each row of X (float32, n x d) to its k-th nearest row, itself first.");
  m.def(
      "k_distance_knee",
      [](const CArray<double>& sorted_distances) { return k_distance_knee(vector_view(sorted_distances)); },
      py::arg("sorted_distances"), "The knee (Kneedle point) of an ascending k-distance curve.");
}

}  // namespace spatialembed::bindings
