#include "common.hpp"

#include "spatialembed/common/error.hpp"

namespace spatialembed::bindings {

ConstMatrixF matrix_view(const CArray<float>& X, const char* name) {
  SPATIALEMBED_CHECK(X.ndim() == 2, InvalidArgument, "{} must be a 2-D array (n_samples, n_features), got {} dimension(s)",
                     name, X.ndim());
  return ConstMatrixF(X.data(), static_cast<std::size_t>(X.shape(0)), static_cast<std::size_t>(X.shape(1)));
}

VectorView<const double> optional_vector(const std::optional<CArray<double>>& values, const char* name) {
  if (!values) return {};
  SPATIALEMBED_CHECK(values->ndim() == 1, InvalidArgument, "{} must be a 1-D array, got {} dimension(s)", name,
                     values->ndim());
  return VectorView<const double>(values->data(), static_cast<std::size_t>(values->shape(0)));
}

IonImageStack stack_from_python(const CArray<float>& images, const CArray<bool>& mask, const CArray<double>& mz) {
  SPATIALEMBED_CHECK(images.ndim() == 3, InvalidArgument, "images must be 3-D (n_images, height, width), got {} dimension(s)",
                     images.ndim());
  SPATIALEMBED_CHECK(mask.ndim() == 2 && mask.shape(0) == images.shape(1) && mask.shape(1) == images.shape(2),
                     InvalidArgument, "mask must have shape (height, width) = ({}, {})", images.shape(1), images.shape(2));
  SPATIALEMBED_CHECK(mz.ndim() == 1 && mz.shape(0) == images.shape(0), InvalidArgument,
                     "mz must have shape (n_images,) = ({},)", images.shape(0));
  IonImageStack stack;
  stack.height = static_cast<std::size_t>(images.shape(1));
  stack.width = static_cast<std::size_t>(images.shape(2));
  stack.images.assign(images.data(), images.data() + images.size());
  stack.mask.assign(mask.data(), mask.data() + mask.size());
  stack.mz.assign(mz.data(), mz.data() + mz.size());
  return stack;
}

IonImageOptions ion_image_options(IonImageOptions o, std::vector<std::string>& warnings) {
  o.progress = interrupt_check();
  o.warn = [&warnings](const std::string& w) { warnings.push_back(w); };
  return o;
}

bool interrupted() {
  if (PyErr_CheckSignals() == 0) return false;
  PyErr_Clear();
  return true;
}

ProgressCallback interrupt_check() {
  return [](std::size_t, std::size_t) {
    py::gil_scoped_acquire gil;
    return !interrupted();
  };
}

ProgressCallback python_progress(const py::object& callback) {
  if (callback.is_none()) return interrupt_check();
  return [callback](std::size_t done, std::size_t total) {
    py::gil_scoped_acquire gil;
    if (interrupted()) return false;
    const py::object keep_going = callback(done, total);
    return keep_going.is_none() || keep_going.cast<bool>();
  };
}

void register_errors(py::module_& m) {
  // Python's own exception types, so user code catches ValueError / OSError as usual.
  // Translators are global to the process and tried newest first, so this one, registered again
  // when _nn loads, passes UnsafeOutput on to _core's UnsafeOutputError (bind_output_staging).
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UnsafeOutput&) {
      throw;
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const FormatError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const IOError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });
  // Any other spatialembed::Error derives from std::runtime_error, which pybind11 maps to RuntimeError.
  (void)m;
}

}  // namespace spatialembed::bindings
