#pragma once
/// @file
/// The progress callback type taken by long-running calls.

#include <cstddef>
#include <functional>

namespace spatialembed {

/// Called with (`done`, `total`) units of work as a long call advances, always from the
/// thread that made the call. Returning false asks the call to stop: it then throws
/// `spatialembed::Cancelled`. An empty function means no reporting.
using ProgressCallback = std::function<bool(std::size_t done, std::size_t total)>;

}  // namespace spatialembed
