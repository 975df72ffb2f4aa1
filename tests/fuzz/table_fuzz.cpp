// libFuzzer target: the delimited-text (libcsv + zlib) and count-table parsing behind the
// her2st and STimage-1K4M readers. Any input must end in a table or a spatialembed::Error —
// never a crash, a hang or undefined behaviour (built with ASan + UBSan by `run.sh table`).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "spatial/count_table.hpp"
#include "spatialembed/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spatialembed;
  // The readers take paths (gzip is detected from the content), so the input goes to a file.
  static const std::string path = "/tmp/spatialembed_table_fuzz_" + std::to_string(::getpid());
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  for (const char delimiter : {'\t', ','}) {
    try {
      const auto table = detail::read_count_table(path, delimiter);
      if (table.counts.indptr.size() != table.row_ids.size() + 1) __builtin_trap();
    } catch (const Error&) {
    }
  }
  return 0;
}
