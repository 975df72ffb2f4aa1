// Bindings of msi/simulated_tissue: the options and simulate_tissue, with the truth returned
// as a dict of NumPy arrays. The Python API lives in python/spatialembed/simulate.py.

#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/msi/simulated_tissue.hpp"

namespace spatialembed::bindings {

namespace {

template <class T>
py::array_t<T> image(std::vector<T>&& values, const SimulatedTissueTruth& t) {
  return to_numpy(std::move(values)).attr("reshape")(py::make_tuple(t.height, t.width));
}

// Pattern maps are returned only up to this many values (64 MiB of float32).
constexpr std::size_t kMaxMapValues = std::size_t{1} << 24;

py::dict truth_to_python(SimulatedTissueTruth&& t) {
  py::dict d;
  const std::size_t n_patterns = t.patterns.size();
  if (n_patterns * t.n_pixels() <= kMaxMapValues) {
    std::vector<float> maps;
    maps.reserve(n_patterns * t.n_pixels());
    for (std::size_t i = 0; i < n_patterns; ++i) {
      const auto map = t.pattern_map(i);
      maps.insert(maps.end(), map.begin(), map.end());
    }
    d["pattern_maps"] = to_numpy(std::move(maps)).attr("reshape")(py::make_tuple(n_patterns, t.height, t.width));
  } else {
    d["pattern_maps"] = py::none();
  }
  std::vector<std::string> kind;
  for (const auto k : t.kind) kind.emplace_back(to_string(k));
  py::list patterns;
  for (std::size_t i = 0; i < n_patterns; ++i) {
    const auto& p = t.patterns[i];
    py::dict q;
    q["id"] = i;
    q["kind"] = to_string(p.kind);
    q["region"] = p.region;
    q["nodule"] = p.nodule;
    q["layer"] = p.layer;
    q["gradient"] = p.gradient;
    q["n_pixels"] = p.n_pixels;
    q["n_ions"] = p.n_ions;
    patterns.append(q);
  }
  d["mz"] = to_numpy(std::move(t.mz));
  d["molecule"] = to_numpy(std::move(t.molecule));
  d["isotope"] = to_numpy(std::move(t.isotope));
  d["pattern"] = to_numpy(std::move(t.pattern));
  d["kind"] = kind;
  d["shoulder"] = to_numpy(std::move(t.shoulder));
  d["abundance"] = to_numpy(std::move(t.abundance));
  d["png_max"] = t.png_max.empty() ? py::object(py::none()) : py::object(to_numpy(std::move(t.png_max)));
  d["patterns"] = patterns;
  d["molecule_mz"] = to_numpy(std::move(t.molecule_mz));
  d["molecule_pattern"] = to_numpy(std::move(t.molecule_pattern));
  d["molecule_shoulder"] = to_numpy(std::move(t.molecule_shoulder));
  d["mask"] = image(std::move(t.mask), t).attr("view")("bool");
  d["region_labels"] = image(std::move(t.region_labels), t);
  d["nodule_labels"] = image(std::move(t.nodule_labels), t);
  d["layer_labels"] = image(std::move(t.layer_labels), t);
  return d;
}

}  // namespace

void bind_simulate(py::module_& m) {
  using O = SimulatedTissueOptions;
  py::class_<O>(m, "SimulatedTissueOptions", "simulate_tissue options (see spatialembed.simulate_tissue)")
      .def(py::init<>())
      .def_readwrite("width", &O::width)
      .def_readwrite("height", &O::height)
      .def_readwrite("n_molecules", &O::n_molecules)
      .def_readwrite("n_ion_images", &O::n_ion_images)
      .def_readwrite("n_regions", &O::n_regions)
      .def_readwrite("n_nodules", &O::n_nodules)
      .def_readwrite("n_layers", &O::n_layers)
      .def_readwrite("n_gradients", &O::n_gradients)
      .def_readwrite("nodule_radius", &O::nodule_radius)
      .def_readwrite("min_isotopes", &O::min_isotopes)
      .def_readwrite("max_isotopes", &O::max_isotopes)
      .def_readwrite("isotope_spacing", &O::isotope_spacing)
      .def_readwrite("mz_min", &O::mz_min)
      .def_readwrite("mz_max", &O::mz_max)
      .def_readwrite("resolving_power", &O::resolving_power)
      .def_readwrite("min_peak_separation", &O::min_peak_separation)
      .def_readwrite("n_shoulder_pairs", &O::n_shoulder_pairs)
      .def_readwrite("shoulder_offset", &O::shoulder_offset)
      .def_readwrite("points_per_fwhm", &O::points_per_fwhm)
      .def_readwrite("peak_window", &O::peak_window)
      .def_readwrite("intensity_scale", &O::intensity_scale)
      .def_readwrite("noise", &O::noise)
      .def_readwrite("detection_limit", &O::detection_limit)
      .def_readwrite("hotspot_fraction", &O::hotspot_fraction)
      .def_readwrite("tissue_mask", &O::tissue_mask)
      .def_readwrite("pixel_size", &O::pixel_size)
      .def_property("output", [](const O& o) { return std::string(to_string(o.output)); },
                    [](O& o, const std::string& v) { o.output = parse_simulation_output(v); })
      .def_readwrite("seed", &O::seed)
      .def_readwrite("num_threads", &O::num_threads)
      .def_readwrite("overwrite", &O::overwrite)
      .def("validate", &O::validate);

  m.def(
      "simulate_tissue",
      [](const std::string& path, O options, const py::object& progress) {
        options.progress = python_progress(progress);
        SimulatedTissueTruth truth;
        {
          py::gil_scoped_release release;
          truth = simulate_tissue(path, options);
        }
        return truth_to_python(std::move(truth));
      },
      py::arg("path"), py::arg("options"), py::arg("progress") = py::none(),
      "Simulates a tissue section into path; returns the truth as a dict.");
}

}  // namespace spatialembed::bindings
