#pragma once
/// @file
/// `OutputStaging`: the one way spatialembed writes its outputs (files and folders) —
/// atomically, under temporary names renamed into place only when everything was written,
/// and replacing an existing output only where that cannot lose the user's data.
///
/// Used by `simulate_tissue` (C++) and, through the bindings, by the Python workflow
/// (`spatialembed cluster-ions`) and the report writer, so every command follows one rule:
///
/// - an output that does not exist is written;
/// - an existing one is replaced only with `overwrite`, and even then never when it is an
///   input, a folder that holds an input or the current working folder, a symbolic link, or
///   a folder that is neither empty nor marked by an earlier spatialembed run (it holds the
///   file `kOutputMarker`, which every output folder gets at commit). Those throw
///   `UnsafeOutput` (Python: `spatialembed.UnsafeOutputError`, an `OSError`; CLI exit 2).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spatialembed {

/// The marker file every output folder spatialembed writes holds (a short text saying what
/// wrote it). Its presence is what lets `overwrite` replace a non-empty folder.
inline constexpr const char* kOutputMarker = ".spatialembed-output";

/// What an output path is.
enum class OutputKind {
  file,    ///< a regular file (replaced by an atomic rename)
  folder,  ///< a folder (gets the marker; an old one is moved aside, the new one renamed in, the old removed)
};

/// "file" or "folder".
const char* to_string(OutputKind kind);
/// Parses "file" or "folder"; throws InvalidArgument otherwise.
OutputKind parse_output_kind(const std::string& name);

/// Checks that `path` may be written as an output of `kind`; does nothing when it does not
/// exist. Throws
/// - InvalidArgument when `path` names no file or folder (empty, or the root folder);
/// - IOError when it exists and `overwrite` is false ("already exists; set overwrite …");
/// - UnsafeOutput when `overwrite` is true but replacing it could lose data: it is a symbolic
///   link; it is a file where a folder is wanted or the reverse; it is one of `inputs` (after
///   resolving links and `.`/`..`); it is a folder that holds one of `inputs` or the current
///   working folder; or it is a non-empty folder without `kOutputMarker`. The message names the
///   path, the reason and what to do.
void check_output_path(const std::filesystem::path& path, OutputKind kind, bool overwrite,
                       const std::vector<std::filesystem::path>& inputs = {});

/// Atomic outputs. `add` checks an output (`check_output_path`) and returns the temporary
/// path to write it under, `.<name>.<pid>-<n>.partial<ext>` beside it (hidden; one `<pid>-<n>`
/// per staging, so an .imzML and its .ibd keep matching stems); a folder's temporary folder is
/// created. `commit` checks again, writes `kOutputMarker` into every folder output and renames
/// each temporary onto its final path. Until then nothing final is touched; `discard` (or the
/// destructor) removes the temporaries, so a failed or cancelled run leaves nothing behind and
/// a killed one only hidden `*.partial*` entries.
///
/// Example:
/// @code
/// OutputStaging staging(/*overwrite=*/true, {input_path});
/// const auto tmp = staging.add("results", OutputKind::folder);   // checked here
/// write_my_files(tmp);
/// staging.commit();                                              // results/ now complete
/// @endcode
class OutputStaging {
 public:
  /// `overwrite`: replace existing outputs (where safe); `inputs`: paths no output may be
  /// or contain.
  explicit OutputStaging(bool overwrite = false, std::vector<std::filesystem::path> inputs = {});
  ~OutputStaging();
  OutputStaging(const OutputStaging&) = delete;
  OutputStaging& operator=(const OutputStaging&) = delete;

  /// Registers `final_path` (its parent folders are created), checks it, and returns its
  /// temporary path. `ext` is kept at the end of a file's temporary name (e.g. ".imzML") so
  /// writers that check extensions accept it. Throws as `check_output_path`, IOError when the
  /// parent or the temporary folder cannot be created, InvalidArgument after `commit`.
  std::filesystem::path add(const std::filesystem::path& final_path, OutputKind kind, const std::string& ext = "");
  /// Moves every output into place (see the class comment); throws IOError (or UnsafeOutput
  /// when an output changed since `add`) and then leaves every final path as it was.
  void commit();
  /// Removes the temporaries (nothing when committed). Never throws.
  void discard() noexcept;
  bool committed() const { return committed_; }
  /// The final paths registered, in order.
  std::vector<std::filesystem::path> outputs() const;

 private:
  struct Entry {
    std::filesystem::path temporary, final_path;
    OutputKind kind;
  };
  bool overwrite_;
  std::vector<std::filesystem::path> inputs_;
  std::string token_;
  std::vector<Entry> entries_;
  bool committed_ = false;
};

}  // namespace spatialembed
