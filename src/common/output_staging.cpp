#include "spatialembed/common/output_staging.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "spatialembed/common/error.hpp"
#include "spatialembed/version.hpp"

namespace spatialembed {

namespace fs = std::filesystem;

const char* to_string(OutputKind kind) { return kind == OutputKind::file ? "file" : "folder"; }

OutputKind parse_output_kind(const std::string& name) {
  if (name == "file") return OutputKind::file;
  if (name == "folder") return OutputKind::folder;
  throw InvalidArgument(fmt::format("output kind must be \"file\" or \"folder\", got \"{}\"", name));
}

namespace {

// Absolute and lexically normal, without a trailing separator ("out/" and "." name folders).
fs::path normal_absolute(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;
  p = p.lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

// Links and `..` resolved as far as the path exists.
fs::path resolved(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(normal_absolute(path), ec);
  if (ec) return normal_absolute(path);
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

// True when `outer` is `inner` or one of its ancestors (both resolved).
bool contains(const fs::path& outer, const fs::path& inner) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

// "a, b, c and 4 more", sorted.
std::string some_entries(const fs::path& folder, bool& empty, bool& marked) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == kOutputMarker && entry.is_regular_file()) marked = true;
    names.push_back(name);
  }
  SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot list the folder: {}", folder.string(), ec.message());
  empty = names.empty();
  std::sort(names.begin(), names.end());
  std::string listed;
  for (std::size_t k = 0; k < std::min<std::size_t>(names.size(), 3); ++k) listed += (k ? ", " : "") + names[k];
  if (names.size() > 3) listed += fmt::format(" and {} more", names.size() - 3);
  return listed;
}

std::string shown(const fs::path& given, const fs::path& real) {
  return given.string() == real.string() ? given.string() : fmt::format("{} ({})", given.string(), real.string());
}

void write_marker(const fs::path& folder, const fs::path& final_path) {
  const fs::path marker = folder / kOutputMarker;
  std::FILE* f = std::fopen(marker.c_str(), "wb");
  SPATIALEMBED_CHECK(f != nullptr, IOError, "{}: cannot write: {}", marker.string(), std::strerror(errno));
  char when[32] = "";
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  if (::gmtime_r(&now, &utc)) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  const std::string text = fmt::format(
      "spatialembed {} output folder {}, written {}.\n"
      "overwrite (--overwrite) replaces a non-empty folder only when it holds this file;\n"
      "delete this file to keep spatialembed from ever replacing the folder.\n",
      version(), final_path.filename().string(), when);
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  SPATIALEMBED_CHECK(written && closed, IOError, "{}: write failed: {}", marker.string(), std::strerror(errno));
}

std::atomic<unsigned> staging_counter{0};

}  // namespace

void check_output_path(const fs::path& path, OutputKind kind, bool overwrite, const std::vector<fs::path>& inputs) {
  SPATIALEMBED_CHECK(!path.empty(), InvalidArgument, "the output path is empty; give an output {}", to_string(kind));
  const fs::path target = normal_absolute(path);
  SPATIALEMBED_CHECK(target.has_relative_path(), InvalidArgument, "{}: names the root folder; give an output {} inside it",
                     path.string(), to_string(kind));
  std::error_code ec;
  const auto status = fs::symlink_status(target, ec);
  if (!fs::exists(status)) return;
  const std::string name = shown(path, target);
  SPATIALEMBED_CHECK(overwrite, IOError, "{}: already exists; set overwrite to replace it", name);

  if (fs::is_symlink(status)) {
    const fs::path to = fs::read_symlink(target, ec);
    throw UnsafeOutput(fmt::format("{}: is a symbolic link (to {}); overwrite does not replace links: give the {} it "
                                   "points to, or remove the link",
                                   name, to.string(), to_string(kind)));
  }
  if (kind == OutputKind::folder) {
    SPATIALEMBED_CHECK(fs::is_directory(status), UnsafeOutput,
                       "{}: exists and is not a folder; not replacing it with the output folder", name);
  } else {
    SPATIALEMBED_CHECK(!fs::is_directory(status), UnsafeOutput,
                       "{}: is a folder; not replacing it with the output file", name);
    SPATIALEMBED_CHECK(fs::is_regular_file(status), UnsafeOutput,
                       "{}: exists and is not a regular file; not replacing it", name);
  }
  const fs::path real = resolved(target);
  for (const auto& input : inputs) {
    const fs::path in = resolved(input);
    SPATIALEMBED_CHECK(in != real, UnsafeOutput,
                       "{}: is the input {}; overwrite never replaces an input: choose another output {}", name,
                       input.string(), to_string(kind));
    SPATIALEMBED_CHECK(kind == OutputKind::file || !contains(real, in), UnsafeOutput,
                       "{}: holds the input {}; overwrite never replaces a folder that holds an input: choose another "
                       "output folder",
                       name, input.string());
  }
  if (kind == OutputKind::file) return;
  const fs::path cwd = resolved(fs::current_path(ec));
  SPATIALEMBED_CHECK(ec || !contains(real, cwd), UnsafeOutput,
                     "{}: {} the current working folder {}; overwrite does not replace it: choose another output "
                     "folder",
                     name, real == cwd ? "is" : "holds", cwd.string());
  bool empty = false, marked = false;
  const std::string listed = some_entries(target, empty, marked);
  SPATIALEMBED_CHECK(empty || marked, UnsafeOutput,
                     "{}: holds {} but no {} file, so it is not the output folder of an earlier spatialembed run; "
                     "overwrite replaces only such folders or empty ones: choose another output folder, or empty "
                     "it yourself",
                     name, listed, kOutputMarker);
}

OutputStaging::OutputStaging(bool overwrite, std::vector<fs::path> inputs)
    : overwrite_(overwrite), inputs_(std::move(inputs)), token_(fmt::format("{}-{}", ::getpid(), staging_counter++)) {}

OutputStaging::~OutputStaging() { discard(); }

fs::path OutputStaging::add(const fs::path& final_path, OutputKind kind, const std::string& ext) {
  SPATIALEMBED_CHECK(!committed_, InvalidArgument, "{}: cannot add an output to a committed staging",
                     final_path.string());
  check_output_path(final_path, kind, overwrite_, inputs_);
  const fs::path target = normal_absolute(final_path);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot create the folder: {}", target.parent_path().string(), ec.message());
  const std::string name = target.filename().string();
  const bool keep_ext = !ext.empty() && name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  const std::string base = keep_ext ? name.substr(0, name.size() - ext.size()) : name;
  const fs::path temporary = target.parent_path() / fmt::format(".{}.{}.partial{}", base, token_, keep_ext ? ext : "");
  if (kind == OutputKind::folder) {
    const bool created = fs::create_directory(temporary, ec);
    SPATIALEMBED_CHECK(created && !ec, IOError, "{}: cannot create the temporary folder: {}", temporary.string(),
                       ec ? ec.message() : "it exists");
  }
  entries_.push_back({temporary, final_path, kind});
  return temporary;
}

void OutputStaging::commit() {
  if (committed_) return;
  for (const auto& e : entries_) check_output_path(e.final_path, e.kind, overwrite_, inputs_);  // changed since add?
  for (const auto& e : entries_) {
    if (e.kind == OutputKind::folder) write_marker(e.temporary, normal_absolute(e.final_path));
  }
  std::vector<fs::path> aside;  // old folders moved out of the way, removed once all is in place
  for (const auto& e : entries_) {
    const fs::path target = normal_absolute(e.final_path);
    std::error_code ec;
    fs::path old;
    if (e.kind == OutputKind::folder && fs::exists(fs::symlink_status(target, ec))) {
      old = target.parent_path() / fmt::format(".{}.{}.old", target.filename().string(), token_);
      fs::rename(target, old, ec);
      SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot move the old folder aside to {}: {}", e.final_path.string(),
                         old.string(), ec.message());
    }
    fs::rename(e.temporary, target, ec);
    if (ec) {
      std::error_code ignored;
      if (!old.empty()) fs::rename(old, target, ignored);  // put the old folder back
      throw IOError(fmt::format("{}: cannot rename {} onto it: {}", e.final_path.string(), e.temporary.string(),
                                ec.message()));
    }
    if (!old.empty()) aside.push_back(old);
  }
  committed_ = true;
  for (const auto& old : aside) {
    std::error_code ec;
    fs::remove_all(old, ec);
  }
}

void OutputStaging::discard() noexcept {
  if (committed_) return;
  for (const auto& e : entries_) {
    std::error_code ec;
    fs::remove_all(e.temporary, ec);
  }
  entries_.clear();
}

std::vector<fs::path> OutputStaging::outputs() const {
  std::vector<fs::path> out;
  for (const auto& e : entries_) out.push_back(e.final_path);
  return out;
}

}  // namespace spatialembed
