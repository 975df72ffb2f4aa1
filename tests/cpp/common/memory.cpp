#include "spatialembed/common/memory.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

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
