// The delimited-text and count-table parsing behind the her2st and STimage-1K4M readers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "msi/msi_test_util.hpp"
#include "spatial/count_table.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;

namespace {

std::string write(const test::ScratchDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

}  // namespace

TEST_CASE("count tables: quoting, BOM, CRLF, blank lines and zeros", "[spatial][count_table]") {
  test::ScratchDir dir("count_table");
  const auto path = write(dir, "t.csv", "\xEF\xBB\xBF,G1,\"G,2\"\r\n\r\n\"s,1\",0,2\r\ns2,1e1,0.0\r\n");
  const auto table = detail::read_count_table(path, ',');
  CHECK(table.genes == std::vector<std::string>{"G1", "G,2"});
  CHECK(table.row_ids == std::vector<std::string>{"s,1", "s2"});
  CHECK(table.counts.indptr == std::vector<std::int64_t>{0, 1, 2});
  CHECK(table.counts.indices == std::vector<std::int32_t>{1, 0});
  CHECK(table.counts.data == std::vector<float>{2, 10});
  CHECK(table.integer);
}

TEST_CASE("count tables: errors name the file, the row and the gene", "[spatial][count_table]") {
  test::ScratchDir dir("count_table_bad");
  CHECK_THROWS_WITH(detail::read_count_table(write(dir, "a.tsv", "\tG1\ns1\tx\n"), '\t'),
                    Catch::Contains("a.tsv: row 2, column 'G1': expected a finite number, got 'x'"));
  CHECK_THROWS_WITH(detail::read_count_table(write(dir, "b.tsv", "\tG1\ns1\t-3\n"), '\t'),
                    Catch::Contains("b.tsv: row 2 (spot s1), gene G1: counts must be ≥ 0, got -3"));
  CHECK_THROWS_WITH(detail::read_count_table(write(dir, "c.csv", "G1\n"), ','), Catch::Contains("1 field(s)"));
  CHECK_THROWS_WITH(detail::read_count_table(write(dir, "d.csv", ",G1\n\"s1,1\n"), ','), Catch::Contains("d.csv"));
  CHECK_THROWS_AS(detail::read_count_table((dir.path / "missing.csv").string(), ','), IOError);
  CHECK_THROWS_AS(detail::read_count_table(dir.path.string(), ','), IOError);
}

TEST_CASE("the count-table fuzzing corpus parses or fails with a spatialembed::Error", "[spatial][count_table]") {
  const auto corpus = std::filesystem::path(SPATIALEMBED_SOURCE_DIR) / "tests" / "fuzz" / "table_corpus";
  REQUIRE(std::filesystem::is_directory(corpus));
  std::size_t files = 0, parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    ++files;
    for (const char delimiter : {'\t', ','}) {
      try {
        const auto table = detail::read_count_table(entry.path().string(), delimiter);
        CHECK(table.counts.indptr.size() == table.row_ids.size() + 1);
        ++parsed;
      } catch (const Error&) {
      }
    }
  }
  CHECK(files >= 4);
  CHECK(parsed >= 3);
}
