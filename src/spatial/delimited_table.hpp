#pragma once
// Streaming reader of delimited text tables (CSV, TSV; plain or gzip-compressed), built on
// libcsv (RFC 4180 quoting) and zlib. Internal to the spatial readers.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace spatialembed::detail {

/// One parsed row: its fields (views valid only during the callback) and its 1-based row
/// number in the file (header = row 1).
struct TableRow {
  const std::vector<std::string_view>& fields;
  std::size_t number;
};

/// Calls `on_row` for every non-empty row of `path`, in order. The file may be gzip-compressed
/// (detected by its magic bytes, not its name). `delimiter` is ',' or '\t'. A UTF-8 byte-order
/// mark and a trailing '\r' are dropped. Throws IOError when the file cannot be opened or read
/// and FormatError (naming the file and the row) for malformed quoting or binary content.
void read_delimited(const std::string& path, char delimiter, const std::function<void(const TableRow&)>& on_row);

/// Parses a whole field as a finite double; throws FormatError naming `path`, the row, the column
/// name and the text otherwise.
double parse_number(std::string_view text, const std::string& path, std::size_t row, std::string_view column);

/// Index of `name` in `header` (exact match), or npos.
std::size_t find_column(const std::vector<std::string>& header, std::string_view name);

/// Like find_column, but throws FormatError naming the file, the missing column and the columns found.
std::size_t require_column(const std::vector<std::string>& header, std::string_view name, const std::string& path);

}  // namespace spatialembed::detail
