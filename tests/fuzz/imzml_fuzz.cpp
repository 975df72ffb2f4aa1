// libFuzzer target: the imzML XML parser and the offset checks against a .ibd size.
// Any input must end in a parsed index or a spatialembed::Error — never a crash, a hang,
// an unbounded allocation or undefined behaviour (built with ASan + UBSan by run.sh).
#include <cstddef>
#include <cstdint>

#include "msi/imzml_parse.hpp"
#include "spatialembed/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spatialembed;
  try {
    const auto parsed = msi_detail::parse_imzml_xml(reinterpret_cast<const char*>(data), size, "fuzz.imzML");
    msi_detail::check_index(parsed, 1 << 20, "fuzz.imzML", "fuzz.ibd");
  } catch (const Error&) {
  }
  return 0;
}
