// Bindings of spatial/image and spatial/tiles: ImageFile, TileOptions, Tiles, cut_tiles and
// TileLoader. Pixels cross as uint8 NumPy arrays without copies. The Python API lives in
// python/spatialembed/spatial_image.py.

#include <pybind11/stl.h>

#include <array>
#include <optional>

#include "common.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/image.hpp"
#include "spatialembed/spatial/tiles.hpp"

namespace spatialembed::bindings {

namespace {

std::uint8_t fill_value(int fill) {
  SPATIALEMBED_CHECK(fill >= 0 && fill <= 255, InvalidArgument, "fill must be in [0, 255], got {}", fill);
  return static_cast<std::uint8_t>(fill);
}

py::array_t<std::uint8_t> rgb_array(std::vector<std::uint8_t>&& pixels, std::int64_t height, std::int64_t width) {
  return to_numpy(std::move(pixels)).attr("reshape")(py::make_tuple(height, width, 3));
}

VectorView<const double> coordinates(const CArray<double>& values, const char* name) {
  SPATIALEMBED_CHECK(values.ndim() == 1, InvalidArgument, "{} must be a 1-D array of pixel coordinates, got {} dimension(s)",
                     name, values.ndim());
  return vector_view(values);
}

// A view of `values` whose NumPy array keeps `owner` (the Python object holding them) alive.
template <class T>
py::array_t<T> view(const std::vector<T>& values, std::vector<py::ssize_t> shape, py::handle owner) {
  return py::array_t<T>(shape, values.data(), owner);
}

}  // namespace

void bind_spatial_image(py::module_& m) {
  m.def("detect_image_format", [](const std::string& path) { return std::string(to_string(detect_image_format(path))); },
        py::arg("path"), "The decoder for the file at path from its first bytes: 'jpeg', 'png', 'tiff' or 'openslide'.");
  m.def("openslide_available", &openslide_available, "True when this build reads whole-slide formats through OpenSlide.");

  py::class_<ImageInfo>(m, "ImageInfo", "What the header of an image file says.")
      .def_readonly("path", &ImageInfo::path, "the file")
      .def_property_readonly("format", [](const ImageInfo& i) { return std::string(to_string(i.format)); },
                             "how it is decoded: 'jpeg', 'png', 'tiff' or 'openslide'")
      .def_readonly("width", &ImageInfo::width, "full-resolution columns")
      .def_readonly("height", &ImageInfo::height, "full-resolution rows")
      .def_readonly("random_access", &ImageInfo::random_access,
                    "True for tiled TIFF and OpenSlide (a rectangle costs only the tiles it touches)")
      .def("__repr__", [](const ImageInfo& i) {
        return fmt::format("ImageInfo(path='{}', format='{}', width={}, height={}, random_access={})", i.path,
                           to_string(i.format), i.width, i.height, i.random_access ? "True" : "False");
      });

  py::class_<ImageFile>(m, "ImageFile", "An image file opened for reading rectangles (header read and checked).")
      .def(py::init([](const std::string& path, const std::optional<std::string>& format) {
             py::gil_scoped_release release;
             return format ? ImageFile(path, parse_image_format(*format)) : ImageFile(path);
           }),
           py::arg("path"), py::arg("format") = py::none())
      .def_property_readonly("info", &ImageFile::info, py::return_value_policy::copy)
      .def(
          "read_region",
          [](const ImageFile& f, std::int64_t x0, std::int64_t y0, std::int64_t width, std::int64_t height, int fill) {
            const std::uint8_t value = fill_value(fill);
            std::vector<std::uint8_t> pixels;
            {
              py::gil_scoped_release release;
              pixels = f.read_region(x0, y0, width, height, value);
            }
            return rgb_array(std::move(pixels), height, width);
          },
          py::arg("x0"), py::arg("y0"), py::arg("width"), py::arg("height"), py::arg("fill") = 255,
          "RGB uint8 (height, width, 3) of columns [x0, x0+width) and rows [y0, y0+height); outside = fill.")
      .def(
          "read_regions",
          [](const ImageFile& f, const std::vector<std::array<std::int64_t, 4>>& boxes, int fill, int num_threads) {
            const std::uint8_t value = fill_value(fill);
            std::vector<ImageRect> rects;
            for (const auto& b : boxes) rects.push_back({b[0], b[1], b[2], b[3]});
            std::vector<std::vector<std::uint8_t>> regions;
            {
              py::gil_scoped_release release;
              regions = f.read_regions(rects, value, num_threads);
            }
            py::list out;
            for (std::size_t i = 0; i < regions.size(); ++i) {
              out.append(rgb_array(std::move(regions[i]), rects[i].height, rects[i].width));
            }
            return out;
          },
          py::arg("rects"), py::arg("fill") = 255, py::arg("num_threads") = 0,
          "Several (x0, y0, width, height) rectangles in one pass; a list of RGB uint8 arrays.");

  using O = TileOptions;
  py::class_<O>(m, "TileOptions", "cut_tiles / TileLoader options (see spatialembed.spatial_image.cut_tiles)")
      .def(py::init<>())
      .def_readwrite("size", &O::size, "crop side in full-resolution pixels, when diameter_multiple = 0; 1 … 65536")
      .def_readwrite("diameter_multiple", &O::diameter_multiple,
                     "> 0: crop side = round(multiple × spot diameter) px instead of size; 0 … 1000")
      .def_readwrite("output_size", &O::output_size, "side of the returned tiles; 0 = the crop side (no resampling)")
      .def_property("filter", [](const O& o) { return std::string(to_string(o.filter)); },
                    [](O& o, const std::string& v) { o.filter = parse_resample_filter(v); },
                    "'box', 'bilinear', 'bicubic' or 'lanczos' (as PIL's resize, reducing_gap=None)")
      .def_readwrite("fill", &O::fill, "value of pixels outside the image; 0 … 255")
      .def_readwrite("num_threads", &O::num_threads, "worker threads; 0 = all cores")
      .def_readwrite("batch_size", &O::batch_size, "tiles per TileLoader batch and per random-access read; >= 1")
      .def_readwrite("prefetch", &O::prefetch, "TileLoader: batches prepared ahead of the consumer; >= 1")
      .def("validate", &O::validate);

  py::class_<Tiles>(m, "Tiles", "Tiles in spot order: pixels (n, height, width, 3) uint8.")
      .def_readonly("n", &Tiles::n, "number of tiles")
      .def_readonly("height", &Tiles::height, "tile rows")
      .def_readonly("width", &Tiles::width, "tile columns")
      .def_readonly("crop_size", &Tiles::crop_size, "side of the crop cut from the image, full-resolution pixels")
      .def_property_readonly("pixels", [](py::object self) {
        const auto& t = self.cast<const Tiles&>();
        const auto n = static_cast<py::ssize_t>(t.n), h = static_cast<py::ssize_t>(t.height), w = static_cast<py::ssize_t>(t.width);
        return view(t.pixels, {n, h, w, 3}, self);
      }, "(n, height, width, 3) uint8, a view that keeps these Tiles alive")
      .def_property_readonly("spots", [](py::object self) {
        const auto& t = self.cast<const Tiles&>();
        return view(t.spots, {static_cast<py::ssize_t>(t.spots.size())}, self);
      }, "spot index of each tile")
      .def_property_readonly("padded", [](py::object self) {
        const auto& t = self.cast<const Tiles&>();
        return view(t.padded, {static_cast<py::ssize_t>(t.padded.size())}, self);
      }, "spot indices, ascending, whose crop reached outside the image (filled with fill)")
      .def("__len__", [](const Tiles& t) { return t.n; });

  m.def("tile_origin", &tile_origin, py::arg("centre"), py::arg("side"),
        "First column (row) of the crop of side `side` centred at `centre`: floor(centre - side/2 + 1/2).");

  m.def(
      "cut_tiles",
      [](const ImageFile& image, const CArray<double>& x, const CArray<double>& y, double spot_diameter_px, O options,
         const py::object& progress) {
        const auto xs = coordinates(x, "x"), ys = coordinates(y, "y");
        options.progress = python_progress(progress);
        py::gil_scoped_release release;
        return cut_tiles(image, xs, ys, spot_diameter_px, options);
      },
      py::arg("image"), py::arg("x"), py::arg("y"), py::arg("spot_diameter_px"), py::arg("options"),
      py::arg("progress") = py::none(), "Tiles centred on spots (x = column, y = row, full-resolution pixels).");

  py::class_<TileLoader>(m, "TileLoader", "Batches of spot tiles made on background threads; iterate for Tiles.")
      .def(py::init([](const ImageFile& image, const CArray<double>& x, const CArray<double>& y, double spot_diameter_px,
                       const O& options) {
             return std::make_unique<TileLoader>(image, coordinates(x, "x"), coordinates(y, "y"), spot_diameter_px, options);
           }),
           py::arg("image"), py::arg("x"), py::arg("y"), py::arg("spot_diameter_px"), py::arg("options"))
      .def("__len__", &TileLoader::num_batches)
      .def_property_readonly("num_spots", &TileLoader::num_spots)
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__", [](TileLoader& loader) {
        std::optional<Tiles> batch;
        {
          py::gil_scoped_release release;
          batch = loader.next();
        }
        if (!batch) throw py::stop_iteration();
        return std::move(*batch);
      });
}

}  // namespace spatialembed::bindings
