#pragma once
/// @file
/// Memory: checks made before large allocations, so that input implying an impossible amount
/// of memory (huge pixel coordinates, a giant PNG) gets an error that names the sizes instead
/// of `std::bad_alloc` or minutes of paging; and handing unused memory back to the system.

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

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

/// Hands the whole pages inside [`begin`, `begin + bytes`) back to the system (Linux:
/// `madvise(MADV_DONTNEED)`; elsewhere nothing). The range stays mapped: a later read gives
/// zeros, a later write faults a fresh page in. Best effort, never throws.
void give_back_pages(void* begin, std::size_t bytes) noexcept;

/// Hands the memory of `v` past its size back to the system without reallocating: what
/// `shrink_to_fit` would save, without its allocation and copy (a second copy of the kept
/// elements at the peak). For a vector shrunk in place that may hold gigabytes (an ion-image
/// stack after dropping empty images). The capacity is unchanged; elements past `size()` that
/// a later `resize` adds are value-initialised as always.
template <class T>
void give_back_unused_capacity(std::vector<T>& v) noexcept {
  static_assert(std::is_trivially_copyable_v<T>, "give_back_unused_capacity: trivially copyable elements only");
  give_back_pages(v.data() + v.size(), (v.capacity() - v.size()) * sizeof(T));
}

}  // namespace spatialembed
