// Bindings of msi/peak_width and msi/mz_matching: MSI signal processing the Python workflow
// calls (the automatic m/z tolerance, matching ion images to m/z lists and references).

#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/msi/mz_matching.hpp"
#include "spatialembed/msi/peak_width.hpp"

namespace spatialembed::bindings {

void bind_msi_signal(py::module_& m) {
  py::class_<MzMatchOptions> options(m, "MzMatchOptions", "Options of match_mz (msi/mz_matching.hpp).");
  options.def(py::init<>())
      .def_readwrite("tolerance", &MzMatchOptions::tolerance,
                     "largest |reference - m/z| accepted, in `unit`; finite, > 0 (default 10)")
      .def("validate", &MzMatchOptions::validate, "Raises ValueError naming the field, its value and the allowed range.");
  def_enum(options, "unit", &MzMatchOptions::unit, &parse_tolerance_unit,
           "\"ppm\" (of each matched m/z, not of the reference) or \"da\" (default \"ppm\")");
  m.def(
      "match_mz",
      [](const CArray<double>& mz, const CArray<double>& reference_mz, const MzMatchOptions& options) {
        std::vector<std::int64_t> out;
        {
          py::gil_scoped_release release;
          out = match_mz(vector_view(mz), vector_view(reference_mz), options);
        }
        return to_numpy(std::move(out));
      },
      py::arg("mz"), py::arg("reference_mz"), py::arg("options") = MzMatchOptions{},
      "For each of mz (n,) float64, the index (int64) of the nearest reference_mz within the tolerance, else -1; "
      "ties to the smaller m/z, equal references to the lowest index.");
  m.def(
      "peak_half_width_ppm",
      [](const CArray<double>& mz, const CArray<double>& intensities, const CArray<std::int64_t>& index) {
        std::vector<std::size_t> peaks;
        peaks.reserve(static_cast<std::size_t>(index.size()));
        for (py::ssize_t k = 0; k < index.size(); ++k) {
          SPATIALEMBED_CHECK(index.data()[k] >= 0, InvalidArgument, "peak index {} is negative", index.data()[k]);
          peaks.push_back(static_cast<std::size_t>(index.data()[k]));
        }
        py::gil_scoped_release release;
        return peak_half_width_ppm(vector_view(mz), vector_view(intensities), peaks);
      },
      py::arg("mz"), py::arg("intensities"), py::arg("index"),
      "Median half width at half maximum of the peaks at `index` of a spectrum, in ppm; NaN when no peak has a "
      "positive height (msi/peak_width.hpp).");
}

}  // namespace spatialembed::bindings
