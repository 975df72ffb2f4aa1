// Replays the fuzzing corpus (tests/fuzz/corpus) through the parser on every test run:
// each input must parse or throw a spatialembed::Error, nothing else.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "msi/imzml_parse.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;

TEST_CASE("the fuzzing corpus parses or fails with a spatialembed::Error", "[msi][fuzz_corpus]") {
  const auto corpus = std::filesystem::path(SPATIALEMBED_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  REQUIRE(std::filesystem::is_directory(corpus));
  std::size_t files = 0, parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    try {
      const auto index = msi_detail::parse_imzml_xml(data.data(), data.size(), entry.path().string());
      msi_detail::check_index(index, 1 << 20, "fuzz.imzML", "fuzz.ibd");
      ++parsed;
    } catch (const Error&) {
    }
  }
  CHECK(files >= 5);
  CHECK(parsed >= 1);
}
