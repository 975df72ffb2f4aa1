// EmbedderOptions (nn/embedder.hpp, a LibTorch-free header) bound in _core, so that
// spatialembed.Embedder takes its defaults from the C++ struct without loading LibTorch.
// spatialembed._nn adds its validate() and the Embedder that takes it (bindings/nn.cpp).

#include <pybind11/stl.h>

#include <array>

#include "common.hpp"
#include "spatialembed/nn/embedder.hpp"

namespace spatialembed::bindings {

void bind_embedder_options(py::module_& m) {
  using O = EmbedderOptions;
  py::class_<O> options(m, "EmbedderOptions",
                        "Options of Embedder (nn/embedder.hpp); spatialembed.Embedder fills them by name.");
  options.def(py::init<>())
      .def_readwrite("backbone", &O::backbone, "'resnet50' (default), 'xception' or 'torchscript'.")
      .def_readwrite("weights", &O::weights,
                     "TF.js layers model (folder or model.json) or Keras HDF5 (resnet50, xception), or a TorchScript "
                     "file; '' = resnet50's default_weights_path.")
      .def_readwrite("device", &O::device, "'cpu' (default), 'cuda' or 'cuda:N'.")
      .def_readwrite("batch_size", &O::batch_size, "Images per forward pass; >= 1. Default 32.")
      .def_readwrite("num_threads", &O::num_threads, "LibTorch intra-op threads during a call; 0 = all cores; >= 0.")
      .def_readwrite("dtype", &O::dtype, "'float32' (default); 'bfloat16' or 'float16' on CUDA only.")
      .def_readwrite("reuse_activation_memory", &O::reuse_activation_memory,
                     "Keep the activation memory of a batch for the next (an arena owned by the Embedder, LibTorch's "
                     "CPU allocator only during its calls): 2-3x faster on the CPU. Default True.")
      .def_readwrite("channels_last", &O::channels_last, "NHWC memory format for the network. Default False.")
      .def_readwrite("input_size", &O::input_size,
                     "Side of the square network input, pixels; 0 = the backbone's (224 resnet50, 299 xception).")
      .def_readwrite("normalization", &O::normalization,
                     "'' = the backbone's (caffe resnet50, tf xception, torch torchscript), or 'caffe', 'tf', 'torch', "
                     "'none'.")
      .def_property(
          "mean", [](const O& o) { return o.normalization_constants.mean; },
          [](O& o, const std::array<float, 3>& v) { o.normalization_constants.mean = v; },
          "RGB mean on [0, 1] for normalization 'torch'. Default ImageNet's (0.485, 0.456, 0.406).")
      .def_property(
          "std", [](const O& o) { return o.normalization_constants.std; },
          [](O& o, const std::array<float, 3>& v) { o.normalization_constants.std = v; },
          "RGB std on [0, 1] for normalization 'torch'; each > 0. Default ImageNet's (0.229, 0.224, 0.225).")
      .def_readwrite("logits", &O::logits, "Output the 1000 ImageNet logits instead of the pooled features.");
  def_enum(options, "pooling", &O::pooling, &parse_embedder_pooling,
           "Feature maps to a vector: 'avg' (default, the paper), 'spatial_pyramid' (1x1, 2x2, 4x4 grids) or "
           "'multi_layer' (pooled stages); not 'avg': resnet50/xception without logits.");
  options.def_readwrite("preprocess", &O::preprocess,
                     "Ion-image PreprocessOptions, per image, before the resize; tic_normalize must be False.");
  // validate() is attached by spatialembed._nn (it is implemented in the LibTorch layer).

}

}  // namespace spatialembed::bindings
