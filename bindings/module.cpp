// The compiled module spatialembed._core; the public Python API lives in python/spatialembed.

#include <pybind11/pybind11.h>

#include "common.hpp"
#include "spatialembed/version.hpp"

namespace spatialembed::bindings {
void bind_neighbors(py::module_& m);
void bind_cluster(py::module_& m);
void bind_manifold(py::module_& m);
void bind_metrics(py::module_& m);
void bind_msi(py::module_& m);
void bind_msi_signal(py::module_& m);
void bind_pipeline(py::module_& m);
void bind_embedder_options(py::module_& m);
void bind_simulate(py::module_& m);
void bind_spatial(py::module_& m);
void bind_output_staging(py::module_& m);
void bind_spatial_expression(py::module_& m);
void bind_spatial_image(py::module_& m);
}  // namespace spatialembed::bindings

PYBIND11_MODULE(_core, m) {
  namespace sb = spatialembed::bindings;
  m.doc() = "spatialembed's C++ core; use the estimators in the spatialembed package.";
  m.attr("__version__") = spatialembed::version();
  sb::register_errors(m);
  sb::bind_output_staging(m);  // after register_errors: UnsafeOutputError before OSError
  sb::bind_neighbors(m);
  sb::bind_cluster(m);
  sb::bind_manifold(m);
  sb::bind_metrics(m);
  sb::bind_msi(m);
  sb::bind_msi_signal(m);
  sb::bind_pipeline(m);
  sb::bind_embedder_options(m);
  sb::bind_simulate(m);
  sb::bind_spatial(m);
  sb::bind_spatial_expression(m);
  sb::bind_spatial_image(m);
}
