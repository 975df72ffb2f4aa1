#pragma once
/// @file
/// Reading Keras weights from the two forms they are published in, without LibTorch:
/// a TensorFlow.js layers model (`model.json` + binary shards, as written by the TF.js
/// converter) and a Keras HDF5 weights file (`Model.save_weights` / `Model.save`, e.g.
/// `xception_weights_tf_dim_ordering_tf_kernels_notop.h5`).
///
/// Tensors stay in Keras's layout (Conv2D kernel H×W×in×out, depthwise kernel
/// H×W×in×multiplier, Dense kernel in×out); the networks in resnet50.hpp / xception.hpp
/// convert them when they load.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spatialembed {

/// One weight array, float32, row-major in Keras's layout.
struct KerasTensor {
  std::vector<std::int64_t> shape;  ///< Keras shape, e.g. {7, 7, 3, 64} for a Conv2D kernel
  std::vector<float> values;        ///< product(shape) values, row-major
  std::size_t numel() const { return values.size(); }
};

/// The weights of one Keras layer by short name (`kernel`, `bias`, `gamma`, `beta`,
/// `moving_mean`, `moving_variance`, `depthwise_kernel`, `pointwise_kernel`), plus what the
/// file says of the layer's configuration.
struct KerasLayer {
  std::map<std::string, KerasTensor> weights;
  std::string class_name;          ///< e.g. "Conv2D", "BatchNormalization"; empty when the file has no config
  std::optional<double> epsilon;   ///< BatchNormalization epsilon from the config, when given
};

/// All layers of a weights file, by Keras layer name.
struct KerasWeights {
  std::map<std::string, KerasLayer> layers;
  std::string source;  ///< the file or folder read, for messages

  /// Number of float values over all layers.
  std::size_t total_values() const;
  /// The layer called `name`; throws FormatError naming the layer and `source` if absent.
  const KerasLayer& layer(const std::string& name) const;
};

/// Reads a TensorFlow.js layers model: `path` is its `model.json` or the folder holding it.
/// Every weight of the manifest is read from the group's shards (concatenated in order;
/// float32, or uint8/uint16 affine-quantised with scale and min) and paired with its layer by
/// name: the manifest name `<scope>/<weight>` belongs to layer `<scope>`, or, when no layer
/// has that name, to `<scope>` less a `_<digits>` suffix (TF variable names such as
/// `block1_conv1_1/kernel`). BatchNormalization epsilons come from the model config.
/// Throws IOError when a file cannot be read; FormatError (naming the file and, for shards,
/// the byte offset) for malformed JSON, a missing manifest, shards shorter or longer than the
/// manifest says, a weight that pairs with no layer, or an unsupported dtype.
KerasWeights read_tfjs_layers_model(const std::string& path);

/// Reads a Keras HDF5 weights file (the root, or the `model_weights` group of a whole-model
/// file, lists `layer_names`; each layer group lists `weight_names` such as
/// `block1_conv1_bn/gamma:0`). BatchNormalization epsilons come from the root's
/// `model_config` attribute when the file has one. Throws IOError when the file cannot be
/// opened, FormatError naming the file and the layer or dataset when it is not such a file.
KerasWeights read_keras_h5(const std::string& path);

/// Reads either form: a folder or a `.json` file → `read_tfjs_layers_model`; a `.h5`/`.hdf5`
/// file (or any file starting with the HDF5 signature) → `read_keras_h5`. Throws IOError when
/// `path` does not exist, FormatError for a file of neither form.
KerasWeights read_keras_weights(const std::string& path);

}  // namespace spatialembed
