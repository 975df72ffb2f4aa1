// Bindings of common/output_staging: OutputStaging, check_output_path, the marker's name, and
// UnsafeOutput as spatialembed.UnsafeOutputError (an OSError). The Python workflow and the
// report writer stage their outputs through these, as simulate_tissue does in C++.

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/output_staging.hpp"

namespace spatialembed::bindings {

void bind_output_staging(py::module_& m) {
  // Registered after register_errors' translator, so it is tried first (IOError would match too).
  py::register_exception<UnsafeOutput>(m, "UnsafeOutputError", PyExc_OSError);
  m.attr("OUTPUT_MARKER") = kOutputMarker;
  m.def(
      "check_output_path",
      [](const std::filesystem::path& path, const std::string& kind, bool overwrite,
         const std::vector<std::filesystem::path>& inputs) {
        check_output_path(path, parse_output_kind(kind), overwrite, inputs);
      },
      py::arg("path"), py::arg("kind"), py::arg("overwrite") = false, py::arg("inputs") = std::vector<std::filesystem::path>{},
      "Raises unless `path` may be written as an output of `kind` (\"file\" or \"folder\"): OSError when it exists "
      "and not overwrite, UnsafeOutputError when overwrite could lose data (an input, a folder holding an input or "
      "the working folder, a link, a non-empty folder without the marker of an earlier spatialembed run).");
  py::class_<OutputStaging>(m, "OutputStaging",
                            "Atomic outputs written under hidden temporary names and renamed into place by commit(); "
                            "existing outputs are replaced only with overwrite and only where safe "
                            "(see check_output_path). As a context manager, temporaries are removed unless committed.")
      .def(py::init<bool, std::vector<std::filesystem::path>>(), py::arg("overwrite") = false,
           py::arg("inputs") = std::vector<std::filesystem::path>{})
      .def(
          "add",
          [](OutputStaging& s, const std::filesystem::path& path, const std::string& kind, const std::string& ext) {
            return s.add(path, parse_output_kind(kind), ext);
          },
          py::arg("path"), py::arg("kind"), py::arg("ext") = "",
          "Checks the output and returns the temporary path to write it under (a folder's is created).")
      .def("commit", &OutputStaging::commit, "Moves every output into place; folders get the marker file.")
      .def("discard", &OutputStaging::discard, "Removes the temporaries (nothing once committed).")
      .def_property_readonly("committed", &OutputStaging::committed)
      .def_property_readonly("outputs", &OutputStaging::outputs)
      .def("__enter__", [](OutputStaging& s) -> OutputStaging& { return s; }, py::return_value_policy::reference)
      .def("__exit__", [](OutputStaging& s, const py::args&) { s.discard(); });
}

}  // namespace spatialembed::bindings
