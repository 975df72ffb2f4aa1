#pragma once
/// @file
/// The exception hierarchy and the one check macro every component uses.
///
/// Python sees InvalidArgument and FormatError as ValueError, IOError as OSError,
/// UnsafeOutput as spatialembed.UnsafeOutputError (an OSError), Cancelled as
/// KeyboardInterrupt and any other Error as RuntimeError.

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace spatialembed {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A caller passed a value outside its allowed range (options, shapes, NaN in data).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read or written.
class IOError : public Error {
 public:
  using Error::Error;
};

/// Writing an output would replace data it must not: the input, a folder holding the input
/// or the working folder, a symbolic link, or a folder spatialembed did not write (see
/// common/output_staging.hpp). The command line answers it with exit status 2.
class UnsafeOutput : public IOError {
 public:
  using IOError::IOError;
};

/// A file was read but its content breaks its format (names the file and byte offset).
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A progress callback asked the running call to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class E, class... Args>
[[noreturn]] void raise(fmt::format_string<Args...> format, Args&&... args) {
  throw E(fmt::format(format, std::forward<Args>(args)...));
}
}  // namespace detail

}  // namespace spatialembed

/// Throws `Kind` (a spatialembed error type) with an fmt-formatted message when `cond` is false.
/// The message should name the field, the offending value and what was expected, e.g.
/// `SPATIALEMBED_CHECK(eps > 0, InvalidArgument, "eps must be > 0, got {}", eps);`
#define SPATIALEMBED_CHECK(cond, Kind, ...)                      \
  do {                                                           \
    if (!(cond)) ::spatialembed::detail::raise<Kind>(__VA_ARGS__); \
  } while (false)
