#include "spatialembed/common/output_staging.hpp"

#include <catch2/catch.hpp>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Writes a run into `out` through a staging: one file, committed.
void run_into(const fs::path& out, bool overwrite, std::vector<fs::path> inputs = {}, const std::string& text = "new") {
  OutputStaging staging(overwrite, std::move(inputs));
  const fs::path tmp = staging.add(out, OutputKind::folder);
  write_text((tmp / "result.txt").string(), text);
  staging.commit();
}

std::size_t partial_entries(const fs::path& folder) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(folder)) n += e.path().filename().string().find(".partial") != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("OutputStaging: a new folder is written atomically and marked", "[common][output]") {
  ScratchDir dir("staging_new");
  const fs::path out = dir.path / "deeper" / "run";
  {
    OutputStaging staging;
    const fs::path tmp = staging.add(out, OutputKind::folder);
    CHECK(fs::is_directory(tmp));
    CHECK(tmp.parent_path() == out.parent_path());
    CHECK(tmp.filename().string().rfind(".run.", 0) == 0);
    write_text((tmp / "result.txt").string(), "x");
    CHECK_FALSE(fs::exists(out));  // nothing final before commit
    staging.commit();
  }
  CHECK(read_text(out / "result.txt") == "x");
  CHECK_THAT(read_text(out / kOutputMarker), Contains("spatialembed") && Contains("run"));
  CHECK(partial_entries(out.parent_path()) == 0);
}

TEST_CASE("OutputStaging: refuses to replace without overwrite", "[common][output]") {
  ScratchDir dir("staging_exists");
  const fs::path out = dir.path / "run";
  run_into(out, false);
  expect_error<IOError>([&] { run_into(out, false); }, {out.string(), "already exists", "overwrite"});
  CHECK(read_text(out / "result.txt") == "new");
}

TEST_CASE("OutputStaging: overwrite never removes an input, a folder holding it, or a folder spatialembed did not write",
          "[common][output]") {
  ScratchDir dir("staging_unsafe");
  const fs::path input = dir.path / "data" / "pngs";
  fs::create_directories(input);
  write_text((input / "409.045.png").string(), "not really a png");
  write_text((dir.path / "data" / "notes.txt").string(), "keep me");
  const auto before = read_text(input / "409.045.png");

  // The input itself, also spelled with `..` and through a link.
  expect_error<UnsafeOutput>([&] { run_into(input, true, {input}); }, {"is the input", input.string()});
  expect_error<UnsafeOutput>([&] { run_into(dir.path / "data" / "x" / ".." / "pngs", true, {input}); }, {"is the input"});
  // A parent (and a grandparent) of the input.
  expect_error<UnsafeOutput>([&] { run_into(dir.path / "data", true, {input}); }, {"holds the input", input.string()});
  expect_error<UnsafeOutput>([&] { run_into(dir.path, true, {input / "409.045.png"}); }, {"holds the input"});
  // An input file as a file output.
  {
    OutputStaging staging(true, {input / "409.045.png"});
    expect_error<UnsafeOutput>([&] { staging.add(input / "409.045.png", OutputKind::file); }, {"is the input"});
  }
  // A folder that is not an earlier run, even with no input involved: names what it holds.
  expect_error<UnsafeOutput>([&] { run_into(dir.path / "data", true); }, {"notes.txt", "pngs", kOutputMarker});
  CHECK(read_text(input / "409.045.png") == before);
  CHECK(read_text(dir.path / "data" / "notes.txt") == "keep me");
  CHECK(partial_entries(dir.path) == 0);
  CHECK(partial_entries(dir.path / "data") == 0);
}

TEST_CASE("OutputStaging: overwrite replaces an earlier run or an empty folder", "[common][output]") {
  ScratchDir dir("staging_replace");
  const fs::path out = dir.path / "run";
  run_into(out, false, {}, "first");
  write_text((out / "stale.txt").string(), "from the first run");
  run_into(out, true, {}, "second");
  CHECK(read_text(out / "result.txt") == "second");
  CHECK_FALSE(fs::exists(out / "stale.txt"));  // the old folder is replaced, not merged
  CHECK(fs::exists(out / kOutputMarker));
  std::size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) leftovers += e.path().filename() != "run";
  CHECK(leftovers == 0);  // no .partial, no .old

  const fs::path empty = dir.path / "empty";
  fs::create_directories(empty);
  run_into(empty, true);
  CHECK(read_text(empty / "result.txt") == "new");
}

TEST_CASE("OutputStaging: links, the working folder, files for folders and the root are refused", "[common][output]") {
  ScratchDir dir("staging_odd");
  const fs::path real = dir.path / "real";
  run_into(real, false);
  fs::create_directory_symlink(real, dir.path / "link");
  expect_error<UnsafeOutput>([&] { run_into(dir.path / "link", true); }, {"symbolic link", real.string()});
  CHECK(fs::is_symlink(dir.path / "link"));

  write_text((dir.path / "file.txt").string(), "a file");
  expect_error<UnsafeOutput>([&] { run_into(dir.path / "file.txt", true); }, {"not a folder"});
  {
    OutputStaging staging(true);
    expect_error<UnsafeOutput>([&] { staging.add(real, OutputKind::file); }, {"is a folder"});
  }
  expect_error<InvalidArgument>([&] { check_output_path("/", OutputKind::folder, true); }, {"root"});
  expect_error<InvalidArgument>([&] { check_output_path("", OutputKind::folder, true); }, {"empty"});

  // "." and a parent of the working folder, even when marked as an earlier run.
  const fs::path cwd = fs::current_path();
  fs::current_path(real);
  try {
    expect_error<UnsafeOutput>([&] { check_output_path(".", OutputKind::folder, true); },
                               {"is the current working folder", real.string()});
    expect_error<UnsafeOutput>([&] { check_output_path("..", OutputKind::folder, true); }, {"holds the current working folder"});
    expect_error<IOError>([&] { check_output_path(".", OutputKind::folder, false); }, {"already exists"});
  } catch (...) {
    fs::current_path(cwd);
    throw;
  }
  fs::current_path(cwd);
  CHECK(fs::exists(real / "result.txt"));
}

TEST_CASE("OutputStaging: a file output keeps its extension; discard and a changed folder leave everything as it was",
          "[common][output]") {
  ScratchDir dir("staging_files");
  const fs::path file = dir.path / "a.imzML";
  {
    OutputStaging staging;
    const fs::path tmp = staging.add(file, OutputKind::file, ".imzML");
    const fs::path ibd = staging.add(dir.path / "a.ibd", OutputKind::file, ".ibd");
    CHECK(tmp.extension() == ".imzML");
    CHECK(tmp.stem().string() + ".ibd" == ibd.filename().string());  // writers derive the .ibd from the .imzML
    write_text(tmp.string(), "xml");
    write_text(ibd.string(), "binary");
    // Not committed: the destructor removes both.
  }
  CHECK_FALSE(fs::exists(file));
  CHECK(partial_entries(dir.path) == 0);

  const fs::path out = dir.path / "run";
  run_into(out, false, {}, "first");
  OutputStaging staging(true);
  const fs::path tmp = staging.add(out, OutputKind::folder);
  write_text((tmp / "result.txt").string(), "second");
  fs::remove(out / kOutputMarker);  // the user took the folder over in the meantime
  expect_error<UnsafeOutput>([&] { staging.commit(); }, {kOutputMarker});
  CHECK(read_text(out / "result.txt") == "first");
  staging.discard();
  CHECK(partial_entries(dir.path) == 0);
  CHECK(std::string(to_string(parse_output_kind("folder"))) == "folder");
  expect_error<InvalidArgument>([] { parse_output_kind("dir"); }, {"dir"});
}
