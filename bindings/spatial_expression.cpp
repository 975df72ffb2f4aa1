// Bindings of spatial/expression, spatial/genes and spatial/hvg: options and result structs,
// and functions taking scipy CSR parts (indptr, indices, data, shape). The Python API lives in
// python/spatialembed/spatial_expression.py.

#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/expression.hpp"
#include "spatialembed/spatial/genes.hpp"
#include "spatialembed/spatial/hvg.hpp"

namespace spatialembed::bindings {

namespace {

using Shape = std::pair<std::size_t, std::size_t>;

// scipy CSR parts as C-contiguous arrays of the library's dtypes: int32 → int64 indptr costs a
// copy of rows + 1 offsets; int32 indices and float32 data are used in place; other dtypes
// are converted (a copy).
struct PyCsr {
  CArray<std::int64_t> indptr;
  CArray<std::int32_t> indices;
  CArray<float> data;
  Shape shape;

  ConstCsrView view() const {
    return ConstCsrView(shape.first, shape.second, indptr.data(), indices.data(), data.data());
  }
};

PyCsr csr_parts(CArray<std::int64_t> indptr, CArray<std::int32_t> indices, CArray<float> data, Shape shape,
                const std::string& what) {
  SPATIALEMBED_CHECK(indptr.ndim() == 1 && static_cast<std::size_t>(indptr.size()) == shape.first + 1, InvalidArgument,
                     "{}: indptr must be 1-D with rows + 1 = {} entries, got shape ({})", what, shape.first + 1,
                     indptr.size());
  SPATIALEMBED_CHECK(indices.ndim() == 1 && data.ndim() == 1 && indices.size() == data.size(), InvalidArgument,
                     "{}: indices and data must be 1-D of one length, got {} and {}", what, indices.size(), data.size());
  const std::int64_t nnz = indptr.data()[shape.first];
  SPATIALEMBED_CHECK(nnz == static_cast<std::int64_t>(data.size()), InvalidArgument,
                     "{}: indptr[-1] = {} but {} values are stored", what, nnz, data.size());
  return PyCsr{std::move(indptr), std::move(indices), std::move(data), shape};
}

PyCsr csr_parts(const py::tuple& parts, const std::string& what) {
  SPATIALEMBED_CHECK(parts.size() == 4, InvalidArgument, "{}: expected (indptr, indices, data, shape), got {} items", what,
                     parts.size());
  return csr_parts(parts[0].cast<CArray<std::int64_t>>(), parts[1].cast<CArray<std::int32_t>>(),
                   parts[2].cast<CArray<float>>(), parts[3].cast<Shape>(), what);
}

// An owned copy of the parts, for the functions that transform values in place.
CsrMatrix owned(const PyCsr& p) {
  CsrMatrix m;
  m.rows = p.shape.first;
  m.cols = p.shape.second;
  m.indptr.assign(p.indptr.data(), p.indptr.data() + p.indptr.size());
  m.indices.assign(p.indices.data(), p.indices.data() + p.indices.size());
  m.data.assign(p.data.data(), p.data.data() + p.data.size());
  return m;
}

py::tuple csr_to_python(CsrMatrix&& m) {
  return py::make_tuple(to_numpy(std::move(m.indptr)), to_numpy(std::move(m.indices)), to_numpy(std::move(m.data)),
                        py::make_tuple(m.rows, m.cols));
}

py::array_t<bool> bool_array(const std::vector<std::uint8_t>& v) {
  py::array_t<bool> a(static_cast<py::ssize_t>(v.size()));
  bool* out = a.mutable_data();
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = v[i] != 0;
  return a;
}

template <class T>
py::array_t<T> array(const std::vector<T>& v) {
  return py::array_t<T>(static_cast<py::ssize_t>(v.size()), v.data());
}

}  // namespace

void bind_spatial_expression(py::module_& m) {
  py::class_<NormalizeTotalOptions>(m, "NormalizeTotalOptions", "normalize_total options (see spatialembed.spatial_expression)")
      .def(py::init<>())
      .def_readwrite("target_sum", &NormalizeTotalOptions::target_sum,
                     "total of every spot after normalisation; finite > 0, or 0 = median of the positive spot totals")
      .def_readwrite("num_threads", &NormalizeTotalOptions::num_threads, "worker threads; 0 = all cores")
      .def("validate", &NormalizeTotalOptions::validate);

  py::class_<FilterGenesOptions>(m, "FilterGenesOptions", "filter_genes options (see spatialembed.spatial_expression)")
      .def(py::init<>())
      .def_readwrite("min_spots", &FilterGenesOptions::min_spots,
                     "keep genes with a value > 0 in at least this many spots (scanpy's min_cells); 0 = off")
      .def_readwrite("min_counts", &FilterGenesOptions::min_counts,
                     "keep genes whose values sum to at least this over all spots; 0 = off")
      .def("validate", &FilterGenesOptions::validate);

  py::class_<HvgOptions>(m, "HvgOptions", "highly_variable_genes options (see spatialembed.spatial_expression)")
      .def(py::init<>())
      .def_property(
          "flavor", [](const HvgOptions& o) { return std::string(to_string(o.flavor)); },
          [](HvgOptions& o, const std::string& v) { o.flavor = parse_hvg_flavor(v); },
          "'seurat' (scanpy's default), 'seurat_v3' or 'pearson_residuals'")
      .def_readwrite("n_top_genes", &HvgOptions::n_top_genes,
                     "genes to select; >= 1; more than there are genes selects them all")
      .def_readwrite("n_bins", &HvgOptions::n_bins, "seurat: equal-width bins of log1p(mean); 1 ... 10000")
      .def_readwrite("span", &HvgOptions::span, "seurat_v3: loess span, the fraction of genes in each local fit; (0, 1]")
      .def_readwrite("theta", &HvgOptions::theta, "pearson_residuals: NB overdispersion theta; > 0, inf = Poisson")
      .def_readwrite("clip", &HvgOptions::clip,
                     "pearson_residuals: residuals clipped to [-clip, clip]; <= 0 = sqrt(spots of the batch), inf = none")
      .def_readwrite("num_threads", &HvgOptions::num_threads, "worker threads; 0 = all cores")
      .def("validate", &HvgOptions::validate);

  py::class_<HvgResult>(m, "HvgResult", "per-gene HVG results with scanpy's column names (empty where the flavour has none)")
      .def_property_readonly(
          "flavor", [](const HvgResult& r) { return std::string(to_string(r.flavor)); }, "the flavour that made it")
      .def_readonly("n_batches", &HvgResult::n_batches, "batches (sections) given")
      .def_property_readonly("highly_variable", [](const HvgResult& r) { return bool_array(r.highly_variable); }, "bool: selected")
      .def_property_readonly("means", [](const HvgResult& r) { return array(r.means); },
                             "seurat: log1p(mean of expm1(x)); others: mean count over all spots")
      .def_property_readonly("variances", [](const HvgResult& r) { return array(r.variances); },
                             "seurat_v3, pearson_residuals: variance (ddof 1) of counts over all spots")
      .def_property_readonly("dispersions", [](const HvgResult& r) { return array(r.dispersions); }, "seurat: log(var / mean)")
      .def_property_readonly("dispersions_norm", [](const HvgResult& r) { return array(r.dispersions_norm); },
                             "seurat: dispersion standardised within its mean bin")
      .def_property_readonly("variances_norm", [](const HvgResult& r) { return array(r.variances_norm); },
                             "seurat_v3: variance of loess-standardised clipped counts")
      .def_property_readonly("residual_variances", [](const HvgResult& r) { return array(r.residual_variances); },
                             "pearson_residuals: variance (ddof 0) of clipped Pearson residuals")
      .def_property_readonly("highly_variable_rank", [](const HvgResult& r) { return array(r.highly_variable_rank); },
                             "seurat_v3, pearson_residuals: median 0-based rank over the batches selecting the gene; NaN if none")
      .def_property_readonly("highly_variable_nbatches", [](const HvgResult& r) { return array(r.highly_variable_nbatches); },
                             "batches in which the gene is among the top genes")
      .def_property_readonly("highly_variable_intersection",
                             [](const HvgResult& r) { return bool_array(r.highly_variable_intersection); },
                             "nbatches == n_batches")
      .def_readonly("warnings", &HvgResult::warnings, "e.g. non-integer values where raw counts are expected");

  m.def(
      "normalize_total",
      [](CArray<std::int64_t> indptr, CArray<std::int32_t> indices, CArray<float> data, Shape shape,
         const NormalizeTotalOptions& options) {
        CsrMatrix x = owned(csr_parts(std::move(indptr), std::move(indices), std::move(data), shape, "counts"));
        {
          py::gil_scoped_release release;
          normalize_total(x, options);
        }
        return csr_to_python(std::move(x));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("shape"), py::arg("options"),
      "normalize_total of CSR parts; returns new (indptr int64, indices int32, data float32, shape).");

  m.def(
      "log1p",
      [](CArray<std::int64_t> indptr, CArray<std::int32_t> indices, CArray<float> data, Shape shape, int num_threads) {
        CsrMatrix x = owned(csr_parts(std::move(indptr), std::move(indices), std::move(data), shape, "X"));
        {
          py::gil_scoped_release release;
          log1p(x, num_threads);
        }
        return csr_to_python(std::move(x));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("shape"), py::arg("num_threads") = 0,
      "ln(1 + x) of CSR parts; returns new (indptr, indices, data, shape).");

  m.def(
      "filter_genes",
      [](CArray<std::int64_t> indptr, CArray<std::int32_t> indices, CArray<float> data, Shape shape,
         const FilterGenesOptions& options) {
        const PyCsr x = csr_parts(std::move(indptr), std::move(indices), std::move(data), shape, "counts");
        GeneFilter f;
        {
          py::gil_scoped_release release;
          f = filter_genes(x.view(), options);
        }
        return py::make_tuple(bool_array(f.keep), to_numpy(std::move(f.n_spots)), to_numpy(std::move(f.n_counts)));
      },
      py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("shape"), py::arg("options"),
      "(keep bool, n_spots int64, n_counts float64) per gene.");

  m.def(
      "match_genes",
      [](const std::vector<std::vector<std::string>>& names, const std::vector<std::vector<std::string>>& ids) {
        GeneMatch g;
        {
          py::gil_scoped_release release;
          g = match_genes(names, ids);
        }
        py::list columns;
        for (auto& c : g.columns) columns.append(to_numpy(std::move(c)));
        return py::make_tuple(g.names, g.ids, columns);
      },
      py::arg("names"), py::arg("ids"), "(shared names, their ids, per-section int32 column arrays).");

  m.def(
      "highly_variable_genes",
      [](const std::vector<py::tuple>& matrices, const HvgOptions& options, bool from_counts,
         const NormalizeTotalOptions& normalize) {
        std::vector<PyCsr> parts;
        parts.reserve(matrices.size());
        for (std::size_t b = 0; b < matrices.size(); ++b) parts.push_back(csr_parts(matrices[b], fmt::format("matrix {}", b)));
        std::vector<ConstCsrView> views;
        for (const auto& p : parts) views.push_back(p.view());
        HvgResult r;
        {
          py::gil_scoped_release release;
          r = from_counts ? highly_variable_genes_from_counts(views, options, normalize)
                          : highly_variable_genes(views, options);
        }
        return r;
      },
      py::arg("matrices"), py::arg("options"), py::arg("from_counts"), py::arg("normalize"),
      "HVGs of a list of (indptr, indices, data, shape) spots x genes matrices with aligned columns.");
}

}  // namespace spatialembed::bindings
