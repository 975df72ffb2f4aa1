#include "spatialembed/common/memory.hpp"

#include <unistd.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include <cmath>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(units)) bytes /= 1024, ++u;
  if (u == 0) return fmt::format("{:.0f} B", bytes);
  return fmt::format("{:.{}f} {}", bytes, bytes >= 100 ? 0 : bytes >= 10 ? 1 : 2, units[u]);
}

void check_memory(double bytes, const std::string& what) {
  const std::uint64_t memory = physical_memory_bytes();
  SPATIALEMBED_CHECK(memory == 0 || !(bytes > static_cast<double>(memory)), InvalidArgument,
                     "{}: {} of memory needed, more than this machine's {}", what, format_bytes(bytes),
                     format_bytes(static_cast<double>(memory)));
}

void give_back_pages(void* begin, std::size_t bytes) noexcept {
#ifdef __linux__
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (!begin || bytes == 0 || page_size <= 0) return;
  const auto page = static_cast<std::uintptr_t>(page_size);
  const auto start = reinterpret_cast<std::uintptr_t>(begin), end = start + bytes;
  const std::uintptr_t first = (start + page - 1) / page * page, last = end / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
#else
  (void)begin, (void)bytes;
#endif
}

}  // namespace spatialembed
