// Bindings of nn/: the Embedder. The Python API lives in python/spatialembed/nn.py.
// Only the LibTorch-free header embedder.hpp is included here, so this file compiles fast.

#include <pybind11/stl.h>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/nn/embedder.hpp"

namespace spatialembed::bindings {

namespace {

py::array_t<float> rows(std::vector<float>&& values, std::size_t n, std::size_t d) {
  return to_numpy(std::move(values)).attr("reshape")(py::make_tuple(static_cast<py::ssize_t>(n),
                                                                     static_cast<py::ssize_t>(d)));
}

}  // namespace

void bind_nn(py::module_& m) {
  m.def("default_weights_path", &default_weights_path, py::arg("backbone"));
  m.def("cuda_available", &cuda_available);
  py::class_<Embedder>(m, "Embedder")
      .def(py::init([](const std::string& backbone, const std::string& weights, const std::string& device,
                       std::size_t batch_size, int num_threads, const std::string& dtype, bool channels_last,
                       std::size_t input_size, const std::string& normalization, std::array<float, 3> mean,
                       std::array<float, 3> std, bool logits, double hotspot_quantile, std::size_t median_filter,
                       bool scale, const std::string& pooling) {
             EmbedderOptions o;
             o.pooling = parse_embedder_pooling(pooling);
             o.backbone = backbone;
             o.weights = weights;
             o.device = device;
             o.batch_size = batch_size;
             o.num_threads = num_threads;
             o.dtype = dtype;
             o.channels_last = channels_last;
             o.input_size = input_size;
             o.normalization = normalization;
             o.normalization_constants.mean = mean;
             o.normalization_constants.std = std;
             o.logits = logits;
             o.preprocess.hotspot_quantile = hotspot_quantile;
             o.preprocess.median_filter = median_filter;
             o.preprocess.scale = scale;
             o.progress = interrupt_check();
             py::gil_scoped_release release;
             return std::make_unique<Embedder>(std::move(o));
           }),
           py::arg("backbone"), py::arg("weights"), py::arg("device"), py::arg("batch_size"), py::arg("num_threads"),
           py::arg("dtype"), py::arg("channels_last"), py::arg("input_size"), py::arg("normalization"),
           py::arg("mean"), py::arg("std"), py::arg("logits"), py::arg("hotspot_quantile"),
           py::arg("median_filter"), py::arg("scale"), py::arg("pooling") = "avg")
      .def_property_readonly("input_size", &Embedder::input_size)
      .def_property_readonly("output_dim", &Embedder::output_dim)
      .def_property_readonly("normalization", [](const Embedder& e) { return to_string(e.normalization().mode); })
      .def(
          "transform_stack",
          [](const Embedder& e, const CArray<float>& images, const CArray<bool>& mask) {
            SPATIALEMBED_CHECK(images.ndim() == 3, InvalidArgument,
                               "images must be 3-D (n_images, height, width), got {} dimension(s)", images.ndim());
            SPATIALEMBED_CHECK(mask.ndim() == 2 && mask.shape(0) == images.shape(1) && mask.shape(1) == images.shape(2),
                               InvalidArgument, "mask must have shape (height, width) = ({}, {})", images.shape(1),
                               images.shape(2));
            // Read in place (a read-only view of a 16 GB stack is not copied); one image per worker.
            const auto n = static_cast<std::size_t>(images.shape(0));
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = e.transform(images.data(), n, static_cast<std::size_t>(images.shape(1)),
                                static_cast<std::size_t>(images.shape(2)),
                                reinterpret_cast<const std::uint8_t*>(mask.data()));
            }
            return rows(std::move(out), n, e.output_dim());
          },
          py::arg("images"), py::arg("mask"))
      .def(
          "transform_rgb",
          [](const Embedder& e, const CArray<std::uint8_t>& tiles) {
            SPATIALEMBED_CHECK(tiles.ndim() == 4 && tiles.shape(3) == 3, InvalidArgument,
                               "RGB tiles must have shape (n, height, width, 3), got {} dimension(s){}", tiles.ndim(),
                               tiles.ndim() == 4 ? fmt::format(" with {} channel(s)", tiles.shape(3)) : "");
            const auto n = static_cast<std::size_t>(tiles.shape(0));
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = e.transform_rgb(tiles.data(), n, static_cast<std::size_t>(tiles.shape(1)),
                                    static_cast<std::size_t>(tiles.shape(2)));
            }
            return rows(std::move(out), n, e.output_dim());
          },
          py::arg("tiles"))
      .def(
          "forward",
          [](const Embedder& e, const CArray<float>& input) {
            SPATIALEMBED_CHECK(input.ndim() == 4 && input.shape(1) == 3, InvalidArgument,
                               "network input must have shape (n, 3, height, width), got {} dimension(s){}",
                               input.ndim(), input.ndim() == 4 ? fmt::format(" with {} channel(s)", input.shape(1)) : "");
            const auto n = static_cast<std::size_t>(input.shape(0));
            std::vector<float> out;
            {
              py::gil_scoped_release release;
              out = e.forward(input.data(), n, static_cast<std::size_t>(input.shape(2)),
                              static_cast<std::size_t>(input.shape(3)));
            }
            return rows(std::move(out), n, e.output_dim());
          },
          py::arg("input"));
}

}  // namespace spatialembed::bindings
