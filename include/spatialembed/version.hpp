#pragma once
/// @file
/// The library version, from the single VERSION file at the top of the source tree.

namespace spatialembed {

/// Version string "MAJOR.MINOR.PATCH" of the compiled library.
const char* version();

}  // namespace spatialembed
