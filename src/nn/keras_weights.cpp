// Keras weights from TF.js layers models (nlohmann/json + raw shards) and HDF5 files (HDF5 C API).

#include "spatialembed/nn/keras_weights.hpp"

#include <hdf5.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <set>
#include <sstream>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::size_t KerasWeights::total_values() const {
  std::size_t n = 0;
  for (const auto& [name, layer] : layers)
    for (const auto& [w, t] : layer.weights) n += t.numel();
  return n;
}

const KerasLayer& KerasWeights::layer(const std::string& name) const {
  auto it = layers.find(name);
  SPATIALEMBED_CHECK(it != layers.end(), FormatError, "{}: no weights for layer '{}'", source, name);
  return it->second;
}

namespace {

std::int64_t shape_numel(const std::vector<std::int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "block1_conv1_1" -> "block1_conv1"; "" when there is no _<digits> suffix.
std::string strip_numeric_suffix(const std::string& scope) {
  const auto underscore = scope.rfind('_');
  if (underscore == std::string::npos || underscore + 1 == scope.size()) return {};
  for (std::size_t i = underscore + 1; i < scope.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(scope[i]))) return {};
  return scope.substr(0, underscore);
}

// Layers of a Keras model config ({"class_name": "Model", "config": {"layers": [...]}}),
// possibly nested (a Model inside a Model): name -> (class_name, config).
void collect_config_layers(const json& model_config, std::map<std::string, KerasLayer>& out) {
  if (!model_config.is_object() || !model_config.contains("config")) return;
  const json& config = model_config["config"];
  if (!config.is_object() || !config.contains("layers") || !config["layers"].is_array()) return;
  for (const json& layer : config["layers"]) {
    if (!layer.is_object()) continue;
    const std::string class_name = layer.value("class_name", "");
    const json& lc = layer.contains("config") ? layer["config"] : json::object();
    std::string name = layer.value("name", lc.is_object() ? lc.value("name", "") : "");
    if (class_name == "Model" || class_name == "Functional" || class_name == "Sequential") {
      collect_config_layers(layer, out);
      continue;
    }
    if (name.empty()) continue;
    KerasLayer& entry = out[name];
    entry.class_name = class_name;
    if (class_name == "BatchNormalization" && lc.is_object() && lc.contains("epsilon") && lc["epsilon"].is_number())
      entry.epsilon = lc["epsilon"].get<double>();
  }
}

std::vector<char> read_file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  SPATIALEMBED_CHECK(in.good(), IOError, "cannot open weights file {}", path.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SPATIALEMBED_CHECK(!in.bad(), IOError, "cannot read weights file {}", path.string());
  return bytes;
}

}  // namespace

KerasWeights read_tfjs_layers_model(const std::string& path) {
  fs::path json_path = path;
  std::error_code ec;
  if (fs::is_directory(json_path, ec)) json_path /= "model.json";
  SPATIALEMBED_CHECK(fs::exists(json_path, ec), IOError,
                     "TF.js layers model {} not found (expected model.json and its weight shards)", json_path.string());
  const fs::path folder = json_path.parent_path();

  json model;
  {
    std::ifstream in(json_path);
    SPATIALEMBED_CHECK(in.good(), IOError, "cannot open {}", json_path.string());
    try {
      in >> model;
    } catch (const json::parse_error& e) {
      throw FormatError(fmt::format("{}: not valid JSON at byte {}: {}", json_path.string(), e.byte, e.what()));
    }
  }
  SPATIALEMBED_CHECK(model.is_object() && model.contains("weightsManifest") && model["weightsManifest"].is_array(),
                     FormatError, "{}: no 'weightsManifest' array (not a TensorFlow.js layers model)", json_path.string());

  KerasWeights result;
  result.source = json_path.string();
  if (model.contains("modelTopology") && model["modelTopology"].is_object()) {
    const json& topology = model["modelTopology"];
    collect_config_layers(topology.contains("model_config") ? topology["model_config"] : topology, result.layers);
  }
  const bool have_topology = !result.layers.empty();

  try {
    for (const json& group : model["weightsManifest"]) {
      std::vector<char> data;
      std::vector<std::pair<std::string, std::size_t>> shard_starts;  // for byte offsets in messages
      for (const json& p : group.at("paths")) {
        const fs::path shard = folder / p.get<std::string>();
        shard_starts.emplace_back(shard.string(), data.size());
        auto bytes = read_file_bytes(shard);
        data.insert(data.end(), bytes.begin(), bytes.end());
      }
      auto where = [&](std::size_t offset) {
        std::string file = shard_starts.empty() ? json_path.string() : shard_starts.front().first;
        std::size_t local = offset;
        for (const auto& [name, start] : shard_starts)
          if (offset >= start) file = name, local = offset - start;
        return fmt::format("{} byte {}", file, local);
      };
      std::size_t offset = 0;
      for (const json& w : group.at("weights")) {
        const std::string name = w.at("name").get<std::string>();
        const std::vector<std::int64_t> shape = w.at("shape").get<std::vector<std::int64_t>>();
        const std::string dtype = w.value("dtype", "float32");
        const std::int64_t n = shape_numel(shape);
        SPATIALEMBED_CHECK(n >= 0, FormatError, "{}: weight '{}' has a negative shape {}", json_path.string(), name,
                           shape_string(shape));
        KerasTensor tensor;
        tensor.shape = shape;
        tensor.values.resize(static_cast<std::size_t>(n));
        std::size_t bytes_each = 4;
        std::string stored = dtype;
        double scale = 1, min = 0;
        if (w.contains("quantization")) {
          const json& q = w["quantization"];
          stored = q.at("dtype").get<std::string>();
          SPATIALEMBED_CHECK(stored == "uint8" || stored == "uint16", FormatError,
                             "{}: weight '{}' is quantised as '{}'; supported: uint8, uint16", json_path.string(), name, stored);
          bytes_each = stored == "uint8" ? 1 : 2;
          scale = q.at("scale").get<double>();
          min = q.at("min").get<double>();
        } else {
          SPATIALEMBED_CHECK(dtype == "float32", FormatError, "{}: weight '{}' has dtype '{}'; supported: float32",
                             json_path.string(), name, dtype);
        }
        const std::size_t need = bytes_each * static_cast<std::size_t>(n);
        SPATIALEMBED_CHECK(offset + need <= data.size(), FormatError,
                           "{}: truncated: weight '{}' ({} values) needs bytes up to {} but the shards end at {} ({})",
                           json_path.string(), name, n, offset + need, data.size(), where(data.size()));
        const char* src = data.data() + offset;
        if (bytes_each == 4) {
          std::memcpy(tensor.values.data(), src, need);
        } else {
          for (std::int64_t i = 0; i < n; ++i) {
            unsigned q = 0;
            if (bytes_each == 1) {
              q = static_cast<unsigned char>(src[i]);
            } else {
              std::uint16_t v;
              std::memcpy(&v, src + 2 * i, 2);
              q = v;
            }
            tensor.values[static_cast<std::size_t>(i)] = static_cast<float>(q * scale + min);
          }
        }
        offset += need;

        const auto slash = name.rfind('/');
        SPATIALEMBED_CHECK(slash != std::string::npos && slash + 1 < name.size(), FormatError,
                           "{}: weight name '{}' is not <layer>/<weight>", json_path.string(), name);
        std::string scope = name.substr(0, slash);
        const std::string short_name = name.substr(slash + 1);
        if (const auto s = scope.rfind('/'); s != std::string::npos) scope = scope.substr(s + 1);  // nested scopes
        std::string layer_name = scope;
        if (have_topology && !result.layers.count(scope)) {
          const std::string stripped = strip_numeric_suffix(scope);
          SPATIALEMBED_CHECK(!stripped.empty() && result.layers.count(stripped), FormatError,
                             "{}: weight '{}' belongs to no layer of the model topology", json_path.string(), name);
          layer_name = stripped;
        }
        auto& slot = result.layers[layer_name].weights;
        SPATIALEMBED_CHECK(!slot.count(short_name), FormatError, "{}: layer '{}' has weight '{}' twice",
                           json_path.string(), layer_name, short_name);
        slot.emplace(short_name, std::move(tensor));
      }
      SPATIALEMBED_CHECK(offset == data.size(), FormatError,
                         "{}: the shards hold {} bytes but the manifest describes {} (extra data from {})",
                         json_path.string(), data.size(), offset, where(offset));
    }
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: malformed weightsManifest: {}", json_path.string(), e.what()));
  }
  // Layers without weights (activations, pooling) are of no use to a loader.
  for (auto it = result.layers.begin(); it != result.layers.end();)
    it = it->second.weights.empty() ? result.layers.erase(it) : std::next(it);
  return result;
}

// ------------------------------------------------------------------ HDF5

namespace {

// RAII for HDF5 ids.
struct H5Id {
  hid_t id = H5I_INVALID_HID;
  herr_t (*close)(hid_t) = nullptr;
  H5Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  ~H5Id() {
    if (id >= 0 && close) close(id);
  }
  bool ok() const { return id >= 0; }
  operator hid_t() const { return id; }
};

// A string or string-array attribute (fixed or variable length); empty optional if absent.
std::optional<std::vector<std::string>> read_string_attribute(hid_t object, const char* name, const std::string& where) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  H5Id attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  SPATIALEMBED_CHECK(attr.ok(), FormatError, "{}: cannot open attribute '{}'", where, name);
  H5Id type(H5Aget_type(attr), H5Tclose);
  SPATIALEMBED_CHECK(H5Tget_class(type) == H5T_STRING, FormatError, "{}: attribute '{}' is not a string", where, name);
  H5Id space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  SPATIALEMBED_CHECK(n >= 0, FormatError, "{}: attribute '{}' has no extent", where, name);
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    std::vector<char*> ptrs(static_cast<std::size_t>(n), nullptr);
    H5Id mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    SPATIALEMBED_CHECK(H5Aread(attr, mem, ptrs.data()) >= 0, FormatError, "{}: cannot read attribute '{}'", where, name);
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(type);
    std::vector<char> buffer(size * static_cast<std::size_t>(n) + 1, '\0');
    SPATIALEMBED_CHECK(H5Aread(attr, type, buffer.data()) >= 0, FormatError, "{}: cannot read attribute '{}'", where, name);
    for (hssize_t i = 0; i < n; ++i) {
      const char* s = buffer.data() + static_cast<std::size_t>(i) * size;
      out.emplace_back(s, strnlen(s, size));
    }
  }
  return out;
}

bool has_hdf5_signature(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char sig[8] = {};
  in.read(sig, 8);
  return in.gcount() == 8 && std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

}  // namespace

KerasWeights read_keras_h5(const std::string& path) {
  std::error_code ec;
  SPATIALEMBED_CHECK(fs::is_regular_file(path, ec), IOError, "Keras HDF5 weights file {} not found", path);
  SPATIALEMBED_CHECK(has_hdf5_signature(path), FormatError, "{}: not an HDF5 file (no HDF5 signature at byte 0)", path);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors become exceptions, not stderr noise
  H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  SPATIALEMBED_CHECK(file.ok(), FormatError, "{}: HDF5 file cannot be opened (corrupt or truncated)", path);

  KerasWeights result;
  result.source = path;
  // A whole-model file: model_config on the root (JSON), weights under model_weights.
  if (auto config = read_string_attribute(file, "model_config", path); config && !config->empty()) {
    try {
      collect_config_layers(json::parse(config->front()), result.layers);
    } catch (const json::exception& e) {
      throw FormatError(fmt::format("{}: attribute model_config is not valid JSON: {}", path, e.what()));
    }
  }
  const bool nested = H5Lexists(file, "model_weights", H5P_DEFAULT) > 0;
  H5Id root(H5Gopen2(file, nested ? "model_weights" : "/", H5P_DEFAULT), H5Gclose);
  SPATIALEMBED_CHECK(root.ok(), FormatError, "{}: cannot open the weights group", path);
  const auto layer_names = read_string_attribute(root, "layer_names", path);
  SPATIALEMBED_CHECK(layer_names.has_value(), FormatError,
                     "{}: no 'layer_names' attribute (not a Keras weights file written by save_weights or save)", path);

  for (const std::string& layer_name : *layer_names) {
    const std::string where = fmt::format("{}: layer '{}'", path, layer_name);
    SPATIALEMBED_CHECK(H5Lexists(root, layer_name.c_str(), H5P_DEFAULT) > 0, FormatError,
                       "{} is listed in layer_names but has no group", where);
    H5Id group(H5Gopen2(root, layer_name.c_str(), H5P_DEFAULT), H5Gclose);
    SPATIALEMBED_CHECK(group.ok(), FormatError, "{}: cannot open its group", where);
    const auto weight_names = read_string_attribute(group, "weight_names", where);
    SPATIALEMBED_CHECK(weight_names.has_value(), FormatError, "{}: no 'weight_names' attribute", where);
    if (weight_names->empty()) continue;
    KerasLayer& layer = result.layers[layer_name];
    for (const std::string& weight_name : *weight_names) {
      H5Id dataset(H5Dopen2(group, weight_name.c_str(), H5P_DEFAULT), H5Dclose);
      SPATIALEMBED_CHECK(dataset.ok(), FormatError, "{}: weight '{}' is listed but has no dataset", where, weight_name);
      H5Id space(H5Dget_space(dataset), H5Sclose);
      const int rank = H5Sget_simple_extent_ndims(space);
      SPATIALEMBED_CHECK(rank >= 0 && rank <= 8, FormatError, "{}: weight '{}' has rank {}", where, weight_name, rank);
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
      H5Sget_simple_extent_dims(space, dims.data(), nullptr);
      H5Id type(H5Dget_type(dataset), H5Tclose);
      SPATIALEMBED_CHECK(H5Tget_class(type) == H5T_FLOAT, FormatError, "{}: weight '{}' is not floating point", where,
                         weight_name);
      KerasTensor tensor;
      for (hsize_t d : dims) tensor.shape.push_back(static_cast<std::int64_t>(d));
      tensor.values.resize(static_cast<std::size_t>(shape_numel(tensor.shape)));
      SPATIALEMBED_CHECK(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.values.data()) >= 0,
                         FormatError, "{}: weight '{}' cannot be read (corrupt or truncated file)", where, weight_name);
      // "block1_conv1_bn/gamma:0" -> "gamma"
      std::string short_name = weight_name.substr(weight_name.rfind('/') == std::string::npos ? 0 : weight_name.rfind('/') + 1);
      if (const auto colon = short_name.rfind(':'); colon != std::string::npos) short_name.resize(colon);
      SPATIALEMBED_CHECK(!layer.weights.count(short_name), FormatError, "{}: weight '{}' twice", where, short_name);
      layer.weights.emplace(short_name, std::move(tensor));
    }
  }
  for (auto it = result.layers.begin(); it != result.layers.end();)
    it = it->second.weights.empty() ? result.layers.erase(it) : std::next(it);
  return result;
}

KerasWeights read_keras_weights(const std::string& path) {
  std::error_code ec;
  SPATIALEMBED_CHECK(fs::exists(path, ec), IOError, "weights {} not found", path);
  const fs::path p(path);
  if (fs::is_directory(p, ec) || p.extension() == ".json") return read_tfjs_layers_model(path);
  if (p.extension() == ".h5" || p.extension() == ".hdf5" || p.extension() == ".keras" || has_hdf5_signature(p))
    return read_keras_h5(path);
  throw FormatError(fmt::format(
      "{}: neither a TensorFlow.js layers model (folder or model.json) nor a Keras HDF5 file (.h5)", path));
}

}  // namespace spatialembed
