#pragma once
// Helpers shared by the binding files: NumPy conversion without copies, progress bridge.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"
#include "spatialembed/msi/ion_images.hpp"

namespace spatialembed::bindings {

namespace py = pybind11;

/// C-contiguous array of T; NumPy converts other dtypes and strides before the call.
template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

/// Hands a std::vector's buffer to NumPy without copying: the array owns the vector.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& values) {
  auto* owner = new std::vector<T>(std::move(values));
  py::capsule free_owner(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(owner->size()), owner->data(), free_owner);
}

/// A read-only row-major view of a 2-D float32 array; throws ValueError for other shapes.
ConstMatrixF matrix_view(const CArray<float>& X, const char* name);

/// A view of an array's elements in C order.
template <class T>
VectorView<const T> vector_view(const CArray<T>& values) {
  return VectorView<const T>(values.data(), static_cast<std::size_t>(values.size()));
}

/// A view of an optional 1-D float64 array (empty when None).
VectorView<const double> optional_vector(const std::optional<CArray<double>>& values, const char* name);

/// An ion-image stack copied from NumPy arrays (n × H × W float32, H × W bool, n float64);
/// throws ValueError for inconsistent shapes.
IonImageStack stack_from_python(const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz);

/// `options` (the bound IonImageOptions) with warnings collected into `warnings` (handed to
/// Python as UserWarnings) and Ctrl-C cancelling.
IonImageOptions ion_image_options(IonImageOptions options, std::vector<std::string>& warnings);

/// Progress to an optional Python callable `callback(done, total)`: the call stops (Cancelled)
/// when it returns False or on Ctrl-C; None only checks for Ctrl-C. For calls made with the GIL
/// released.
ProgressCallback python_progress(const py::object& callback);

/// With the GIL held: true (and the signal consumed) when the user pressed Ctrl-C.
bool interrupted();

/// A progress callback that only checks for Ctrl-C (the call then raises KeyboardInterrupt).
/// For calls made with the GIL released.
ProgressCallback interrupt_check();

void register_errors(py::module_& m);

/// Binds the enum field `field` of an options or result struct as a str property that crosses
/// through the core's own `parse` and `to_string` (a bad name raises ValueError from `parse`).
template <class Class, class O, class E>
void def_enum(Class& cls, const char* name, E O::*field, E (*parse)(const std::string&), const char* doc) {
  cls.def_property(
      name, [field](const O& o) { return std::string(to_string(o.*field)); },
      [field, parse](O& o, const std::string& value) { o.*field = parse(value); }, doc);
}

/// A read-only str property of an enum field (results).
template <class Class, class O, class E>
void def_enum_readonly(Class& cls, const char* name, E O::*field, const char* doc) {
  cls.def_property_readonly(name, [field](const O& o) { return std::string(to_string(o.*field)); }, doc);
}

/// One read-write property per field of a struct that lists its fields with
/// `for_each_field(visit(name, member pointer, description))`.
template <class O, class Class>
void def_fields(Class& cls) {
  O::for_each_field([&](const char* name, auto member, const char* doc) { cls.def_readwrite(name, member, doc); });
}

}  // namespace spatialembed::bindings
