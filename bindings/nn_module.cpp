// The compiled module spatialembed._nn: the LibTorch layer (Embedder), kept apart from
// spatialembed._core so that importing the package does not load LibTorch.

#include <pybind11/pybind11.h>

#include "common.hpp"

namespace spatialembed::bindings {
void bind_nn(py::module_& m);
void bind_contrastive(py::module_& m);
void bind_distributed(py::module_& m);
}  // namespace spatialembed::bindings

PYBIND11_MODULE(_nn, m) {
  namespace sb = spatialembed::bindings;
  m.doc() = "spatialembed's LibTorch layer; use spatialembed.Embedder and spatialembed.contrastive.";
  sb::register_errors(m);
  sb::bind_nn(m);
  sb::bind_distributed(m);
  sb::bind_contrastive(m);
}
