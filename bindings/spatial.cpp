// Spatial-transcriptomics sections and their readers. Options and the Section are bound as
// structs, field by field, so that Python fills them by name and C++ validates them.
#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/spatial/readers.hpp"
#include "spatialembed/spatial/section_tiles.hpp"

namespace spatialembed::bindings {

namespace {

// A copy of a vector as a NumPy array (the Section keeps its own).
template <class T>
py::array_t<T> array_copy(const std::vector<T>& values) {
  return to_numpy(std::vector<T>(values));
}

template <class T>
std::vector<T> from_array(const CArray<T>& values) {
  return std::vector<T>(values.data(), values.data() + values.size());
}

void bind_spots(py::module_& m) {
  py::class_<Spots>(m, "Spots", "The spots of a section, one entry per spot in every array.")
      .def(py::init<>())
      .def_readwrite("ids", &Spots::ids, "spot ids (her2st `{x}x{y}`, Visium barcode, STimage-1K4M row name)")
      .def_property(
          "x", [](const Spots& s) { return array_copy(s.x); },
          [](Spots& s, const CArray<double>& v) { s.x = from_array(v); }, "centre column, full-resolution pixels (float64)")
      .def_property(
          "y", [](const Spots& s) { return array_copy(s.y); },
          [](Spots& s, const CArray<double>& v) { s.y = from_array(v); }, "centre row, full-resolution pixels (float64)")
      .def_property(
          "array_col", [](const Spots& s) { return array_copy(s.array_col); },
          [](Spots& s, const CArray<std::int64_t>& v) { s.array_col = from_array(v); }, "grid column (int64, -1 unknown)")
      .def_property(
          "array_row", [](const Spots& s) { return array_copy(s.array_row); },
          [](Spots& s, const CArray<std::int64_t>& v) { s.array_row = from_array(v); }, "grid row (int64, -1 unknown)")
      .def_property(
          "in_tissue", [](const Spots& s) { return array_copy(s.in_tissue).attr("view")("bool"); },
          [](Spots& s, const CArray<std::uint8_t>& v) { s.in_tissue = from_array(v); }, "under tissue (bool)")
      .def_readwrite("labels", &Spots::labels, "optional annotation per spot; empty = none");
}

void bind_section(py::module_& m) {
  py::class_<Provenance>(m, "Provenance", "Where a section came from and how its image relates to its coordinates.")
      .def(py::init<>())
      .def_readwrite("layout", &Provenance::layout, "'her2st', 'stimage1k4m', 'visium' or 'anndata'")
      .def_readwrite("image_path", &Provenance::image_path, "the image read for tiles; empty = none")
      .def_readwrite("counts_path", &Provenance::counts_path, "counts file")
      .def_readwrite("spots_path", &Provenance::spots_path, "spot positions file")
      .def_readwrite("scalefactors_path", &Provenance::scalefactors_path, "Visium scalefactors_json.json")
      .def_readwrite("image_scale", &Provenance::image_scale, "image pixels per full-resolution pixel (> 0)")
      .def_readwrite("tissue_hires_scalef", &Provenance::tissue_hires_scalef, "Visium hires scale factor; 0 = unknown")
      .def_readwrite("tissue_lowres_scalef", &Provenance::tissue_lowres_scalef, "Visium lowres scale factor; 0 = unknown");

  py::class_<Section>(m, "Section", "One section: spots paired with count rows by id, genes, image, provenance.")
      .def(py::init<>())
      .def_readwrite("name", &Section::name, "section or slide name")
      .def_readwrite("spots", &Section::spots, "the spots (a copy)")
      .def_readwrite("integer_counts", &Section::integer_counts, "every stored count is a whole number")
      .def_readwrite("gene_names", &Section::gene_names, "gene names (symbols)")
      .def_readwrite("gene_ids", &Section::gene_ids, "gene ids (Ensembl) or empty")
      .def_readwrite("spot_diameter", &Section::spot_diameter, "spot diameter, full-resolution pixels")
      .def_readwrite("spots_without_counts", &Section::spots_without_counts, "spot ids with no count row (left out)")
      .def_readwrite("counts_without_spots", &Section::counts_without_spots, "count rows with no spot (left out)")
      .def_readwrite("warnings", &Section::warnings, "what the reader reported")
      .def_readwrite("provenance", &Section::provenance, "files and scale factors")
      .def_property_readonly("n_spots", &Section::n_spots)
      .def_property_readonly("n_genes", &Section::n_genes)
      .def(
          "counts_csr",
          [](const Section& s) {
            return py::make_tuple(array_copy(s.counts.indptr), array_copy(s.counts.indices), array_copy(s.counts.data),
                                  py::make_tuple(s.counts.rows, s.counts.cols));
          },
          "The counts as CSR parts (indptr int64, indices int32, data float32, (n_spots, n_genes)).")
      .def(
          "set_counts",
          [](Section& s, const CArray<std::int64_t>& indptr, const CArray<std::int32_t>& indices,
             const CArray<float>& data, std::size_t rows, std::size_t cols) {
            s.counts.indptr = from_array(indptr);
            s.counts.indices = from_array(indices);
            s.counts.data = from_array(data);
            s.counts.rows = rows;
            s.counts.cols = cols;
          },
          py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("rows"), py::arg("cols"),
          "Replaces the counts (CSR parts, spots × genes); call validate() afterwards.")
      .def("validate", &Section::validate, "Raises ValueError naming the field when the parts disagree.");
}

void bind_readers(py::module_& m) {
  py::class_<Her2stOptions>(m, "Her2stOptions", "Options of read_her2st.")
      .def(py::init<>())
      .def_readwrite("diameter_to_spacing", &Her2stOptions::diameter_to_spacing,
                     "spot diameter / centre-to-centre spacing (legacy ST: 100 µm / 200 µm = 0.5); in (0, 1]")
      .def_readwrite("only_in_tissue", &Her2stOptions::only_in_tissue, "keep only spots whose `selected` flag is 1")
      .def("validate", &Her2stOptions::validate);
  py::class_<Stimage1k4mOptions>(m, "Stimage1k4mOptions", "Options of read_stimage1k4m.")
      .def(py::init<>())
      .def("validate", &Stimage1k4mOptions::validate);
  py::class_<VisiumOptions>(m, "VisiumOptions", "Options of read_visium.")
      .def(py::init<>())
      .def_readwrite("image", &VisiumOptions::image,
                     "full-resolution image; empty: spatial/tissue_hires_image.png with coordinates scaled")
      .def_readwrite("only_in_tissue", &VisiumOptions::only_in_tissue, "keep only spots flagged in_tissue")
      .def_readwrite("matrix", &VisiumOptions::matrix, "count matrix file in the folder")
      .def_readwrite("feature_type", &VisiumOptions::feature_type, "features of this type are kept; empty = all")
      .def("validate", &VisiumOptions::validate);

  m.def(
      "read_her2st",
      [](const std::string& root, const std::string& section, const Her2stOptions& options) {
        py::gil_scoped_release release;
        return read_her2st(root, section, options);
      },
      py::arg("root"), py::arg("section"), py::arg("options"));
  m.def(
      "read_stimage1k4m",
      [](const std::string& root, const std::string& slide, const Stimage1k4mOptions& options) {
        py::gil_scoped_release release;
        return read_stimage1k4m(root, slide, options);
      },
      py::arg("root"), py::arg("slide"), py::arg("options"));
  m.def(
      "read_visium",
      [](const std::string& folder, const VisiumOptions& options) {
        py::gil_scoped_release release;
        return read_visium(folder, options);
      },
      py::arg("folder"), py::arg("options"));
}

void bind_section_tiles(py::module_& m) {
  m.def(
      "cut_section_tiles",
      [](const Section& section, TileOptions options, const py::object& progress) {
        options.progress = python_progress(progress);
        py::gil_scoped_release release;
        return cut_section_tiles(section, options);
      },
      py::arg("section"), py::arg("options"), py::arg("progress") = py::none(),
      "Every spot's tile in spot order (positions and size scaled by the image's image_scale).");
  m.def(
      "section_tile_loader",
      [](const Section& section, const TileOptions& options) { return section_tile_loader(section, options); },
      py::arg("section"), py::arg("options"), "Batches of the section's tiles made on background threads.");
}

}  // namespace

void bind_spatial(py::module_& m) {
  bind_spots(m);
  bind_section(m);
  bind_readers(m);
  bind_section_tiles(m);
}

}  // namespace spatialembed::bindings
