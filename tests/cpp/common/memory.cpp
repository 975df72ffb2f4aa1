#include "spatialembed/common/memory.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using Catch::Matchers::Contains;

TEST_CASE("physical_memory_bytes agrees with /proc/meminfo", "[common][memory]") {
  std::ifstream in("/proc/meminfo");
  std::string line;
  double mem_total_kib = 0;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) == 0) std::istringstream(line.substr(9)) >> mem_total_kib;
  }
  REQUIRE(mem_total_kib > 0);
  // MemTotal leaves out the kernel's reserved pages: within a few percent of the page count.
  CHECK(static_cast<double>(physical_memory_bytes()) == Approx(mem_total_kib * 1024).epsilon(0.05));
}

TEST_CASE("format_bytes and check_memory name the sizes", "[common][memory]") {
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_bytes(1536) == "1.50 KiB");
  CHECK(format_bytes(3.0 * (1ull << 30)) == "3.00 GiB");
  CHECK(format_bytes(40.0 * (1ull << 40)) == "40.0 TiB");
  CHECK(format_bytes(200.0 * (1ull << 60)) == "200 EiB");
  CHECK_NOTHROW(check_memory(1024, "a small thing"));
  const double too_much = 2.0 * static_cast<double>(physical_memory_bytes());
  try {
    check_memory(too_much, "the canvas");
    FAIL("no exception");
  } catch (const InvalidArgument& e) {
    CHECK_THAT(e.what(), Contains("the canvas") && Contains(format_bytes(too_much)) &&
                             Contains(format_bytes(static_cast<double>(physical_memory_bytes()))));
  }
}

namespace {
// Resident set size of this process from /proc/self/statm (pages), in bytes.
double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  double size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}
}  // namespace

TEST_CASE("give_back_unused_capacity returns the memory past size to the system", "[common][memory]") {
  const std::size_t n = std::size_t{64} << 20;  // 64 Mi bytes, touched
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + 3);
  const double before = resident_bytes();
  const std::size_t kept = std::size_t{1} << 20;
  v.resize(kept);
  give_back_unused_capacity(v);
  const double after = resident_bytes();
  INFO("resident before " << before << " B, after " << after << " B");
  CHECK(before - after > 0.9 * static_cast<double>(n - kept));  // the 63 MiB went back
  CHECK(v.capacity() == n);
  for (std::size_t i = 0; i < kept; ++i) REQUIRE(v[i] == static_cast<std::uint8_t>(i * 7 + 3));  // kept intact
  v.resize(n);  // growing again within the capacity: value-initialised as always
  CHECK(v[kept] == 0);
  CHECK(v[n - 1] == 0);
  // Empty and page-less ranges are a no-op.
  std::vector<float> empty;
  give_back_unused_capacity(empty);
  give_back_pages(v.data(), 1);
  CHECK(v[0] == 3);
}
