#include <hdf5.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "spatial/delimited_table.hpp"
#include "spatial/reader_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/readers.hpp"

namespace spatialembed {

void VisiumOptions::validate() const {
  SPATIALEMBED_CHECK(!matrix.empty(), InvalidArgument, "matrix must name the count-matrix file, got an empty string");
}

namespace {

// ----------------------------------------------------------------------------- HDF5
// HDF5 prints its error stack to stderr by default; errors are reported as exceptions instead,
// and the caller's setting is restored afterwards.
class SilenceHdf5 {
 public:
  SilenceHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &function_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, function_, data_); }
  SilenceHdf5(const SilenceHdf5&) = delete;
  SilenceHdf5& operator=(const SilenceHdf5&) = delete;

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
};

// Owns one HDF5 identifier.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = -1; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle& operator=(Handle&&) = delete;
  hid_t get() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class Hdf5File {
 public:
  explicit Hdf5File(const std::string& path) : path_(path), file_(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose) {
    SPATIALEMBED_CHECK(file_.get() >= 0, FormatError, "{}: not an HDF5 file (or unreadable)", path);
  }

  bool has(const std::string& name) const {
    // Check each level so that a missing group does not count as an error.
    std::string prefix;
    std::size_t start = 0;
    while (start <= name.size()) {
      const std::size_t slash = name.find('/', start);
      prefix = name.substr(0, slash);
      if (H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return true;
  }

  Handle open(const std::string& name) const {
    SPATIALEMBED_CHECK(has(name), FormatError,
                       "{}: no dataset '{}': not a 10x Genomics feature-barcode matrix (expected matrix/data, "
                       "indices, indptr, shape, barcodes and features/name, features/id)",
                       path_, name);
    Handle dataset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    SPATIALEMBED_CHECK(dataset.get() >= 0, FormatError, "{}: '{}' is not a dataset", path_, name);
    return dataset;
  }

  std::size_t length(const Handle& dataset, const std::string& name) const {
    Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    SPATIALEMBED_CHECK(rank == 1, FormatError, "{}: '{}' has {} dimensions, expected 1", path_, name, rank);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    return static_cast<std::size_t>(n);
  }

  template <class T>
  std::vector<T> numbers(const std::string& name, hid_t memory_type) const {
    const Handle dataset = open(name);
    Handle type(H5Dget_type(dataset.get()), H5Tclose);
    SPATIALEMBED_CHECK(H5Tget_class(type.get()) == H5T_INTEGER || H5Tget_class(type.get()) == H5T_FLOAT, FormatError,
                       "{}: '{}' does not hold numbers", path_, name);
    std::vector<T> values(length(dataset, name));
    if (!values.empty()) {
      SPATIALEMBED_CHECK(H5Dread(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0,
                         FormatError, "{}: cannot read '{}'", path_, name);
    }
    return values;
  }

  std::vector<std::string> strings(const std::string& name) const {
    const Handle dataset = open(name);
    Handle type(H5Dget_type(dataset.get()), H5Tclose);
    SPATIALEMBED_CHECK(H5Tget_class(type.get()) == H5T_STRING, FormatError, "{}: '{}' does not hold strings", path_,
                       name);
    const std::size_t n = length(dataset, name);
    std::vector<std::string> out(n);
    if (n == 0) return out;
    if (H5Tis_variable_str(type.get()) > 0) {
      Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(memory.get(), H5T_VARIABLE);
      std::vector<char*> pointers(n, nullptr);
      SPATIALEMBED_CHECK(H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0,
                         FormatError, "{}: cannot read '{}'", path_, name);
      for (std::size_t i = 0; i < n; ++i) out[i] = pointers[i] ? pointers[i] : "";
      Handle space(H5Dget_space(dataset.get()), H5Sclose);
      H5Dvlen_reclaim(memory.get(), space.get(), H5P_DEFAULT, pointers.data());
      return out;
    }
    const std::size_t width = H5Tget_size(type.get());
    Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory.get(), width);
    H5Tset_strpad(memory.get(), H5T_STR_NULLPAD);
    std::vector<char> buffer(n * width);
    SPATIALEMBED_CHECK(H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) >= 0,
                       FormatError, "{}: cannot read '{}'", path_, name);
    for (std::size_t i = 0; i < n; ++i) {
      const char* begin = buffer.data() + i * width;
      std::size_t size = 0;
      while (size < width && begin[size] != '\0') ++size;
      out[i].assign(begin, size);
    }
    return out;
  }

 private:
  std::string path_;
  Handle file_;
};

struct FeatureMatrix {
  std::vector<std::string> barcodes, names, ids;
  CsrMatrix counts;  // barcodes × kept features
  bool integer = true;
};

// The 10x matrix is CSC features × barcodes, which is CSR barcodes × features as stored.
FeatureMatrix read_feature_matrix(const std::string& path, const std::string& feature_type) {
  const SilenceHdf5 silence;
  const Hdf5File file(path);
  FeatureMatrix m;
  m.barcodes = file.strings("matrix/barcodes");
  std::vector<std::string> names = file.strings("matrix/features/name");
  std::vector<std::string> ids = file.strings("matrix/features/id");
  const auto shape = file.numbers<std::int64_t>("matrix/shape", H5T_NATIVE_INT64);
  auto indptr = file.numbers<std::int64_t>("matrix/indptr", H5T_NATIVE_INT64);
  const auto indices = file.numbers<std::int64_t>("matrix/indices", H5T_NATIVE_INT64);
  const auto data = file.numbers<double>("matrix/data", H5T_NATIVE_DOUBLE);
  SPATIALEMBED_CHECK(shape.size() == 2 && shape[0] >= 0 && shape[1] >= 0, FormatError,
                     "{}: matrix/shape must hold (features, barcodes)", path);
  const auto n_features = static_cast<std::size_t>(shape[0]);
  const auto n_barcodes = static_cast<std::size_t>(shape[1]);
  SPATIALEMBED_CHECK(names.size() == n_features && ids.size() == n_features, FormatError,
                     "{}: {} feature names and {} ids for shape[0] = {}", path, names.size(), ids.size(), n_features);
  SPATIALEMBED_CHECK(m.barcodes.size() == n_barcodes, FormatError, "{}: {} barcodes for shape[1] = {}", path,
                     m.barcodes.size(), n_barcodes);
  SPATIALEMBED_CHECK(indptr.size() == n_barcodes + 1 && indptr.front() == 0 &&
                         static_cast<std::size_t>(indptr.back()) == data.size() && indices.size() == data.size(),
                     FormatError, "{}: matrix/indptr, indices and data disagree ({} offsets, {} indices, {} values)",
                     path, indptr.size(), indices.size(), data.size());

  // Keep the features of the requested type, renumbered.
  std::vector<std::int64_t> column(n_features, -1);
  std::vector<std::string> types;
  if (!feature_type.empty() && file.has("matrix/features/feature_type")) types = file.strings("matrix/features/feature_type");
  for (std::size_t j = 0; j < n_features; ++j) {
    if (!types.empty() && types[j] != feature_type) continue;
    column[j] = static_cast<std::int64_t>(m.names.size());
    m.names.push_back(std::move(names[j]));
    m.ids.push_back(std::move(ids[j]));
  }
  SPATIALEMBED_CHECK(!m.names.empty(), FormatError, "{}: no feature of type '{}'", path, feature_type);

  CsrMatrix& counts = m.counts;
  counts.rows = n_barcodes;
  counts.cols = m.names.size();
  counts.indptr.assign(1, 0);
  for (std::size_t b = 0; b < n_barcodes; ++b) {
    SPATIALEMBED_CHECK(indptr[b] <= indptr[b + 1], FormatError, "{}: matrix/indptr decreases at barcode {}", path, b);
    for (auto k = indptr[b]; k < indptr[b + 1]; ++k) {
      const auto i = indices[static_cast<std::size_t>(k)];
      SPATIALEMBED_CHECK(i >= 0 && static_cast<std::size_t>(i) < n_features, FormatError,
                         "{}: matrix/indices[{}] = {} is outside [0, {})", path, k, i, n_features);
      const double value = data[static_cast<std::size_t>(k)];
      SPATIALEMBED_CHECK(std::isfinite(value) && value >= 0, InvalidArgument,
                         "{}: barcode {}, feature index {}: counts must be finite and ≥ 0, got {}", path,
                         m.barcodes[b], i, value);
      const auto j = column[static_cast<std::size_t>(i)];
      if (j < 0 || value == 0) continue;
      if (value != std::floor(value)) m.integer = false;
      counts.indices.push_back(static_cast<std::int32_t>(j));
      counts.data.push_back(static_cast<float>(value));
    }
    counts.indptr.push_back(static_cast<std::int64_t>(counts.data.size()));
  }
  return m;
}

// ----------------------------------------------------------------------------- spots
Spots read_tissue_positions(const std::string& path) {
  // Both versions list barcode, in_tissue, array_row, array_col, pxl_row_in_fullres,
  // pxl_col_in_fullres; Space Ranger ≥ 2.0 adds a header naming them.
  Spots spots;
  std::size_t col[6] = {0, 1, 2, 3, 4, 5};
  static const char* const kNames[6] = {"barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres",
                                        "pxl_col_in_fullres"};
  bool first = true;
  detail::read_delimited(path, ',', [&](const detail::TableRow& row) {
    if (first) {
      first = false;
      if (row.fields[0] == "barcode") {
        const std::vector<std::string> names(row.fields.begin(), row.fields.end());
        for (int k = 0; k < 6; ++k) col[k] = detail::require_column(names, kNames[k], path);
        return;
      }
    }
    const auto field = [&](int k) {
      SPATIALEMBED_CHECK(col[k] < row.fields.size(), FormatError, "{}: row {} has {} fields, no {}", path, row.number,
                         row.fields.size(), kNames[k]);
      return detail::parse_number(row.fields[col[k]], path, row.number, kNames[k]);
    };
    SPATIALEMBED_CHECK(col[0] < row.fields.size(), FormatError, "{}: row {} is empty", path, row.number);
    spots.ids.emplace_back(row.fields[col[0]]);
    spots.in_tissue.push_back(field(1) != 0);
    spots.array_row.push_back(static_cast<std::int64_t>(field(2)));
    spots.array_col.push_back(static_cast<std::int64_t>(field(3)));
    spots.y.push_back(field(4));
    spots.x.push_back(field(5));
  });
  SPATIALEMBED_CHECK(spots.size() > 0, FormatError, "{}: no spots", path);
  return spots;
}

struct ScaleFactors {
  double spot_diameter_fullres = 0, tissue_hires_scalef = 0, tissue_lowres_scalef = 0;
};

ScaleFactors read_scalefactors(const std::string& path) {
  std::ifstream in(path);
  SPATIALEMBED_CHECK(in, IOError, "cannot open {}", path);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    detail::raise<FormatError>("{}: not valid JSON: {}", path, e.what());
  }
  const auto number = [&](const char* key, bool required) {
    if (!json.is_object() || !json.contains(key)) {
      SPATIALEMBED_CHECK(!required, FormatError, "{}: no '{}'", path, key);
      return 0.0;
    }
    const auto& value = json.at(key);
    SPATIALEMBED_CHECK(value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() > 0, FormatError,
                       "{}: '{}' must be a positive number, got {}", path, key, value.dump());
    return value.get<double>();
  };
  return {number("spot_diameter_fullres", true), number("tissue_hires_scalef", false),
          number("tissue_lowres_scalef", false)};
}

}  // namespace

Section read_visium(const std::string& folder, const VisiumOptions& options) {
  options.validate();
  const std::filesystem::path base(folder);
  const std::string matrix_path = detail::existing_file(base / options.matrix, "Visium count matrix");
  const auto spatial = base / "spatial";
  const bool v2 = std::filesystem::exists(spatial / "tissue_positions.csv");
  const std::string spots_path = detail::existing_file(
      spatial / (v2 ? "tissue_positions.csv" : "tissue_positions_list.csv"), "Visium tissue positions");
  const std::string scale_path =
      detail::existing_file(spatial / "scalefactors_json.json", "Visium scale factors");

  const std::string name =
      base.filename().empty() ? base.parent_path().filename().string() : base.filename().string();
  Section section = detail::new_section(name, "visium", spots_path, matrix_path, "");
  section.provenance.scalefactors_path = scale_path;
  const ScaleFactors scale = read_scalefactors(scale_path);
  section.provenance.tissue_hires_scalef = scale.tissue_hires_scalef;
  section.provenance.tissue_lowres_scalef = scale.tissue_lowres_scalef;
  section.spot_diameter = scale.spot_diameter_fullres;
  if (!options.image.empty()) {
    section.provenance.image_path = detail::existing_file(options.image, "full-resolution image");
  } else {
    section.provenance.image_path = detail::existing_file(spatial / "tissue_hires_image.png", "Visium hires image");
    SPATIALEMBED_CHECK(scale.tissue_hires_scalef > 0, FormatError,
                       "{}: no 'tissue_hires_scalef', needed to place spots on tissue_hires_image.png", scale_path);
    section.provenance.image_scale = scale.tissue_hires_scalef;
  }

  section.spots = read_tissue_positions(spots_path);
  if (options.only_in_tissue) detail::keep_in_tissue(section.spots);
  FeatureMatrix matrix = read_feature_matrix(matrix_path, options.feature_type);
  section.gene_names = std::move(matrix.names);
  section.gene_ids = std::move(matrix.ids);
  section.integer_counts = matrix.integer;
  pair_spots_with_counts(section, matrix.barcodes, std::move(matrix.counts), matrix_path);
  detail::finish_section(section);
  return section;
}

}  // namespace spatialembed
