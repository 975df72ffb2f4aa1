// Bindings of msi/: the imzML reader and writer, ion-image extraction, spectra processing,
// PNG stacks and preprocessing. The Python API lives in python/spatialembed/msi.py.

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cmath>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/msi/imzml_reader.hpp"
#include "spatialembed/msi/imzml_writer.hpp"
#include "spatialembed/msi/ion_images.hpp"
#include "spatialembed/msi/preprocessing.hpp"
#include "spatialembed/msi/spectra.hpp"

namespace spatialembed::bindings {

namespace {

// (images n x H x W float32, mask H x W bool, mz float64, metadata dict); images without a copy.
py::tuple stack_to_python(IonImageStack&& stack) {
  const auto K = static_cast<py::ssize_t>(stack.n_images());
  const auto H = static_cast<py::ssize_t>(stack.height), W = static_cast<py::ssize_t>(stack.width);
  py::dict meta;
  meta["pixel_size_x"] = stack.pixel_size_x;
  meta["pixel_size_y"] = stack.pixel_size_y;
  meta["origin_x"] = stack.origin_x;
  meta["origin_y"] = stack.origin_y;
  auto images = to_numpy(std::move(stack.images)).attr("reshape")(py::make_tuple(K, H, W));
  auto mask = to_numpy(std::move(stack.mask)).attr("view")("bool").attr("reshape")(py::make_tuple(H, W));
  return py::make_tuple(images, mask, to_numpy(std::move(stack.mz)), meta);
}

py::array_t<double> read_array(const ImzMLReader& reader, const BinaryArrayRef& array) {
  std::vector<double> values;
  std::vector<char> scratch;
  reader.read_array(array, values, scratch);
  return to_numpy(std::move(values));
}


// The options structs of msi/, each bound once; enums cross as strings through parse_*/to_string.
void bind_msi_options(py::module_& m) {
  py::class_<PreprocessOptions> pre(m, "PreprocessOptions",
                                    "Ion-image preprocessing options (msi/preprocessing.hpp); steps in field order.");
  pre.def(py::init<>());
  def_fields<PreprocessOptions>(pre);  // every field, from PreprocessOptions::for_each_field
  pre.def("validate", &PreprocessOptions::validate, "Raises ValueError naming the field, its value and the range.")
      .def("same_preprocessing", [](const PreprocessOptions& a, const PreprocessOptions& b) { return same_preprocessing(a, b); },
           py::arg("other"), "True when both preprocess alike (every field equal but num_threads).")
      .def("describe", &PreprocessOptions::describe)
      .def("__repr__", [](const PreprocessOptions& o) { return "PreprocessOptions(" + o.describe() + ")"; });

  py::class_<PngStackOptions>(m, "PngStackOptions", "Options of read_png_stack.")
      .def(py::init<>())
      .def_readwrite("max_image_pixels", &PngStackOptions::max_image_pixels,
                     "Largest image read, in pixels (width x height), checked against each PNG's header before "
                     "decoding. Default 2^27 = 134,217,728; range 1 .. 2^40.")
      .def("validate", &PngStackOptions::validate);

  py::class_<ImzMLOptions>(m, "ImzMLOptions", "Options of ImzMLReader (msi/imzml_reader.hpp).")
      .def(py::init<>())
      .def_readwrite("ibd_path", &ImzMLOptions::ibd_path, "The binary file; '' = the .imzML path with extension .ibd.")
      .def_readwrite("check_uuid", &ImzMLOptions::check_uuid,
                     "Compare the XML's UUID with the .ibd's first 16 bytes. Default True.")
      .def_readwrite("verify_checksum", &ImzMLOptions::verify_checksum,
                     "Hash the whole .ibd at open and compare with the XML's SHA-1 / MD5. Default False.")
      .def("validate", &ImzMLOptions::validate);

  using W = ImzMLWriterOptions;
  py::class_<W> writer(m, "ImzMLWriterOptions", "Options of ImzMLWriter (msi/imzml_writer.hpp).");
  writer.def(py::init<>());
  def_enum(writer, "mode", &W::mode, &parse_imzml_mode,
           "'processed' (default) or 'continuous' (one shared m/z array).");
  def_enum(writer, "mz_type", &W::mz_type, &parse_binary_data_type, "m/z array type: 'float64' (default) or 'float32'.");
  def_enum(writer, "intensity_type", &W::intensity_type, &parse_binary_data_type,
           "Intensity array type: 'float32' (default), 'float64', 'int32', 'int64'; integers must be exact.");
  writer.def_readwrite("centroid", &W::centroid, "Spectra are centroided (MS:1000127), else profile. Default False.")
      .def_readwrite("pixel_size_x", &W::pixel_size_x, "Micrometres; NaN (default) = not written.")
      .def_readwrite("pixel_size_y", &W::pixel_size_y, "Micrometres; NaN (default) = same as x.")
      .def_readwrite("uuid", &W::uuid, "32 hex digits; '' (default) = random.")
      .def("validate", &W::validate);

  using I = IonImageOptions;
  py::class_<I> ion(m, "IonImageOptions", "Options of ion-image extraction (msi/ion_images.hpp).");
  ion.def(py::init<>()).def_readwrite("tolerance", &I::tolerance, "Half-width of each m/z window, in unit; > 0. Default 10.");
  def_enum(ion, "unit", &I::unit, &parse_tolerance_unit, "'ppm' (default) or 'da'.");
  def_enum(ion, "aggregate", &I::aggregate, &parse_window_aggregate, "'sum' (default) or 'max' of the window.");
  def_enum(ion, "normalization", &I::normalization, &parse_spectrum_normalization,
           "Per pixel, before windowing: 'none' (default), 'tic' or 'rms'.");
  ion.def_readwrite("num_threads", &I::num_threads, "Worker threads; 0 = all cores; >= 0.")
      .def("validate", &I::validate);

  using M = MeanSpectrumOptions;
  py::class_<M> mean(m, "MeanSpectrumOptions", "Options of mean_spectrum (msi/spectra.hpp).");
  mean.def(py::init<>());
  def_enum(mean, "aggregate", &M::aggregate, &parse_spectrum_aggregate, "'mean' (default) or 'max' over the pixels.");
  mean.def_readwrite("bin_ppm", &M::bin_ppm, "Processed mode only: width of the common m/z bins, ppm; > 0. Default 5.");
  def_enum(mean, "normalization", &M::normalization, &parse_spectrum_normalization,
           "Of each pixel first: 'none' (default), 'tic' or 'rms'.");
  mean.def_readwrite("num_threads", &M::num_threads, "Worker threads; 0 = all cores; >= 0.").def("validate", &M::validate);

  using K = PeakPickingOptions;
  py::class_<K>(m, "PeakPickingOptions", "Options of pick_peaks (msi/spectra.hpp).")
      .def(py::init<>())
      .def_readwrite("snr", &K::snr, "Minimum signal-to-noise ratio (intensity / noise); >= 0. Default 3.")
      .def_readwrite("half_window", &K::half_window,
                     "A peak is the maximum of the 2 * half_window + 1 points around it; >= 1. Default 20.")
      .def_readwrite("top_n", &K::top_n, "Keep the n most intense peaks; 0 = all (default).")
      .def("validate", &K::validate);

  using P = IsotopePairOptions;
  py::class_<P> iso(m, "IsotopePairOptions", "Options of isotope-pair finding (msi/spectra.hpp).");
  iso.def(py::init<>()).def_readwrite("tolerance", &P::tolerance, "Allowed error of the spacing, in unit; > 0. Default 10.");
  def_enum(iso, "unit", &P::unit, &parse_tolerance_unit, "'ppm' (of the heavier peak's m/z, default) or 'da'.");
  iso.def_readwrite("max_charge", &P::max_charge, "Charges 1..max_charge are tried; >= 1. Default 1.")
      .def_readwrite("spacing", &P::spacing, "13C - 12C mass difference, Da; > 0. Default 1.00336.")
      .def("validate", &P::validate);
}

}  // namespace

void bind_msi(py::module_& m) {
  bind_msi_options(m);
  py::class_<ImzMLReader>(m, "ImzMLReader")
      .def(py::init([](const std::string& path, const ImzMLOptions& options) {
             py::gil_scoped_release release;
             return std::make_unique<ImzMLReader>(path, options);
           }),
           py::arg("path"), py::arg("options") = ImzMLOptions{})
      .def("__len__", &ImzMLReader::size)
      .def_property_readonly("path", &ImzMLReader::path)
      .def_property_readonly("ibd_path", &ImzMLReader::ibd_path)
      .def_property_readonly("mode", [](const ImzMLReader& r) { return to_string(r.mode()); })
      .def_property_readonly("metadata", [](const ImzMLReader& r) {
        const auto& meta = r.metadata();
        py::dict d;
        d["mode"] = to_string(meta.mode);
        d["uuid"] = meta.uuid;
        d["sha1"] = meta.sha1;
        d["md5"] = meta.md5;
        d["max_count_x"] = meta.max_count_x;
        d["max_count_y"] = meta.max_count_y;
        d["pixel_size_x"] = meta.pixel_size_x;
        d["pixel_size_y"] = meta.pixel_size_y;
        d["mz_type"] = to_string(r.spectrum(0).mz.type);
        d["intensity_type"] = to_string(r.spectrum(0).intensity.type);
        return d;
      })
      .def_property_readonly("coordinates", [](const ImzMLReader& r) {
        std::vector<std::int32_t> xyz(3 * r.size());
        for (std::size_t i = 0; i < r.size(); ++i) {
          const auto c = r.coordinate(i);
          xyz[3 * i] = c.x, xyz[3 * i + 1] = c.y, xyz[3 * i + 2] = c.z;
        }
        return to_numpy(std::move(xyz)).attr("reshape")(py::make_tuple(static_cast<py::ssize_t>(r.size()), 3));
      })
      .def_property_readonly("lengths", [](const ImzMLReader& r) {
        std::vector<std::int64_t> n(r.size());
        for (std::size_t i = 0; i < r.size(); ++i) n[i] = static_cast<std::int64_t>(r.spectrum(i).mz.length);
        return to_numpy(std::move(n));
      })
      .def_property_readonly("stored_tic", [](const ImzMLReader& r) {
        std::vector<double> t(r.size());
        for (std::size_t i = 0; i < r.size(); ++i) t[i] = r.spectrum(i).stored_tic;
        return to_numpy(std::move(t));
      })
      .def("mz", [](const ImzMLReader& r, std::size_t i) { return read_array(r, r.spectrum(i).mz); }, py::arg("i"))
      .def("intensities", [](const ImzMLReader& r, std::size_t i) { return read_array(r, r.spectrum(i).intensity); },
           py::arg("i"))
      .def("tic", &ImzMLReader::tic, py::arg("i"), py::call_guard<py::gil_scoped_release>())
      .def("mz_range", &ImzMLReader::mz_range, py::call_guard<py::gil_scoped_release>())
      .def("verify_checksum", &ImzMLReader::verify_checksum, py::call_guard<py::gil_scoped_release>())
      .def(
          "mean_spectrum",
          [](const ImzMLReader& r, MeanSpectrumOptions o) {
            o.progress = interrupt_check();
            Spectrum s;
            {
              py::gil_scoped_release release;
              s = mean_spectrum(r, o);
            }
            return py::make_tuple(to_numpy(std::move(s.mz)), to_numpy(std::move(s.intensities)));
          },
          py::arg("options"))
      .def(
          "ion_images",
          [](const ImzMLReader& r, const CArray<double>& mz, const IonImageOptions& options) {
            std::vector<std::string> warnings;
            const IonImageOptions o = ion_image_options(options, warnings);
            SPATIALEMBED_CHECK(mz.ndim() == 1, InvalidArgument, "mz must be 1-D, got {} dimension(s)", mz.ndim());
            IonImageStack stack;
            {
              py::gil_scoped_release release;
              stack = extract_ion_images(r, vector_view(mz), o);
            }
            return py::make_tuple(stack_to_python(std::move(stack)), warnings);
          },
          py::arg("mz"), py::arg("options"));

  py::class_<ImzMLWriter>(m, "ImzMLWriter")
      .def(py::init([](const std::string& path, const ImzMLWriterOptions& o) { return std::make_unique<ImzMLWriter>(path, o); }),
           py::arg("path"), py::arg("options") = ImzMLWriterOptions{})
      .def(
          "add_spectrum",
          [](ImzMLWriter& w, std::int32_t x, std::int32_t y, std::int32_t z, const CArray<double>& mz,
             const CArray<double>& intensities) {
            w.add_spectrum({x, y, z}, vector_view(mz), vector_view(intensities));
          },
          py::arg("x"), py::arg("y"), py::arg("z"), py::arg("mz"), py::arg("intensities"))
      .def("close", &ImzMLWriter::close)
      .def("__len__", &ImzMLWriter::size)
      .def_property_readonly("uuid", &ImzMLWriter::uuid)
      .def_property_readonly("ibd_path", &ImzMLWriter::ibd_path);

  m.def(
      "read_png_stack",
      [](const std::string& folder, const PngStackOptions& options) {
        IonImageStack stack;
        {
          py::gil_scoped_release release;
          stack = read_png_stack(folder, options);
        }
        return stack_to_python(std::move(stack));
      },
      py::arg("folder"), py::arg("options") = PngStackOptions{});
  m.def(
      "write_png_stack",
      [](const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz, const std::string& folder,
         int bit_depth) {
        const auto stack = stack_from_python(images, mask, mz);
        py::gil_scoped_release release;
        write_png_stack(stack, folder, bit_depth);
      },
      py::arg("images"), py::arg("mask"), py::arg("mz"), py::arg("folder"), py::arg("bit_depth"));
  m.def(
      "preprocess",
      [](const CArray<float>& images, const CArray<bool>& mask, const PreprocessOptions& o) {
        o.validate();
        auto stack = stack_from_python(images, mask, CArray<double>(py::array_t<double>(images.shape(0))));
        {
          py::gil_scoped_release release;
          preprocess(stack, o);
        }
        const auto shape = py::make_tuple(images.shape(0), images.shape(1), images.shape(2));
        return to_numpy(std::move(stack.images)).attr("reshape")(shape);
      },
      py::arg("images"), py::arg("mask"), py::arg("options"));
  m.def(
      "pick_peaks",
      [](const CArray<double>& mz, const CArray<double>& intensities, const PeakPickingOptions& o) {
        auto p = pick_peaks(vector_view(mz), vector_view(intensities), o);
        std::vector<std::int64_t> index(p.index.begin(), p.index.end());
        return py::make_tuple(to_numpy(std::move(p.mz)), to_numpy(std::move(p.intensities)), to_numpy(std::move(p.snr)),
                              to_numpy(std::move(index)), p.noise);
      },
      py::arg("mz"), py::arg("intensities"), py::arg("options"));
  m.def(
      "isotope_pairs",
      [](const CArray<double>& mz, const IsotopePairOptions& o) {
        const auto pairs = find_isotope_pairs(vector_view(mz), o);
        std::vector<std::int64_t> light, heavy, charge;
        std::vector<double> error;
        for (const auto& p : pairs) {
          light.push_back(static_cast<std::int64_t>(p.light));
          heavy.push_back(static_cast<std::int64_t>(p.heavy));
          charge.push_back(p.charge);
          error.push_back(p.error);
        }
        return py::make_tuple(to_numpy(std::move(light)), to_numpy(std::move(heavy)), to_numpy(std::move(charge)),
                              to_numpy(std::move(error)));
      },
      py::arg("mz"), py::arg("options"));
}

}  // namespace spatialembed::bindings
