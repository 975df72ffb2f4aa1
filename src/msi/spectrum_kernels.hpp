#pragma once
// Small helpers shared by the spectrum passes (ion images, mean spectrum).

#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/error.hpp"
#include "spatialembed/msi/imzml_reader.hpp"

namespace spatialembed::msi_detail {

/// Calls fn(const T*) with the raw bytes viewed as the array's element type.
template <class F>
void visit_typed(const char* bytes, BinaryDataType type, F&& fn) {
  switch (type) {
    case BinaryDataType::float32: fn(reinterpret_cast<const float*>(bytes)); break;
    case BinaryDataType::float64: fn(reinterpret_cast<const double*>(bytes)); break;
    case BinaryDataType::int32: fn(reinterpret_cast<const std::int32_t*>(bytes)); break;
    case BinaryDataType::int64: fn(reinterpret_cast<const std::int64_t*>(bytes)); break;
  }
}

/// Throws FormatError unless a spectrum's m/z values are non-decreasing.
inline void check_increasing(const std::vector<double>& mz, std::size_t spectrum, const std::string& ibd,
                             std::uint64_t offset) {
  for (std::size_t c = 1; c < mz.size(); ++c) {
    SPATIALEMBED_CHECK(mz[c] >= mz[c - 1], FormatError,
                       "{}: spectrum {}'s m/z array (byte offset {}) is not increasing at element {} ({} after {})",
                       ibd, spectrum, offset, c, mz[c], mz[c - 1]);
  }
}

}  // namespace spatialembed::msi_detail
