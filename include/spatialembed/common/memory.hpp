#pragma once
/// @file
/// Checks made before large allocations, so that input implying an impossible amount of
/// memory (huge pixel coordinates, a giant PNG) gets an error that names the sizes instead of
/// `std::bad_alloc` or minutes of paging.

#include <cstdint>
#include <string>

namespace spatialembed {

/// Bytes of physical memory of this machine (sysconf), 0 when unknown.
std::uint64_t physical_memory_bytes();

/// `bytes` in binary units with three significant digits, e.g. "512 B", "1.50 GiB", "8.00 TiB".
std::string format_bytes(double bytes);

/// Throws InvalidArgument "`what`: <bytes> of memory needed, more than this machine's
/// <memory>" when `bytes` exceeds the physical memory (unknown memory: never). `what` says what
/// the memory is for and why it is that large, e.g. "ion images of 1000000 x 100000 pixels
/// (the canvas the pixel coordinates of x.imzML span)".
void check_memory(double bytes, const std::string& what);

}  // namespace spatialembed
