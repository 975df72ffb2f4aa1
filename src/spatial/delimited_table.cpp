#include "spatial/delimited_table.hpp"

#include <csv.h>
#include <zlib.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>

#include "spatialembed/common/error.hpp"

namespace spatialembed::detail {

namespace {

// What libcsv's C callbacks write into: the fields of the current row, copied once into one
// buffer so that the string_views stay valid until the row is handed over.
struct RowCollector {
  const std::string& path;
  const std::function<void(const TableRow&)>& on_row;
  std::string buffer;
  std::vector<std::size_t> ends;
  std::vector<std::string_view> fields;
  std::size_t row = 0;
  bool first_field = true;
};

void on_field(void* data, std::size_t size, void* collector_ptr) {
  auto& c = *static_cast<RowCollector*>(collector_ptr);
  std::string_view text(static_cast<const char*>(data), data ? size : 0);
  if (c.first_field && c.ends.empty() && c.row == 0 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  c.first_field = false;
  if (text.find('\0') != std::string_view::npos) {
    detail::raise<FormatError>("{}: row {} holds a NUL byte: this is not a text table (binary or UTF-16 data?)",
                               c.path, c.row + 1);
  }
  c.buffer.append(text);
  c.ends.push_back(c.buffer.size());
}

void on_row_end(int, void* collector_ptr) {
  auto& c = *static_cast<RowCollector*>(collector_ptr);
  ++c.row;
  c.first_field = false;
  // A blank line arrives as a row without fields; skip it.
  if (c.ends.empty()) return;
  c.fields.clear();
  std::size_t begin = 0;
  for (const std::size_t end : c.ends) {
    c.fields.emplace_back(c.buffer.data() + begin, end - begin);
    begin = end;
  }
  c.on_row(TableRow{c.fields, c.row});
  c.buffer.clear();
  c.ends.clear();
}

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};

}  // namespace

void read_delimited(const std::string& path, char delimiter, const std::function<void(const TableRow&)>& on_row) {
  // gzopen reads plain files transparently, so one path serves .tsv and .tsv.gz alike.
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
  if (!file) detail::raise<IOError>("cannot open {}", path);
  {
    std::FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe) detail::raise<IOError>("cannot open {}", path);
    const int c = std::fgetc(probe);
    const bool is_directory = c == EOF && std::ferror(probe);
    std::fclose(probe);
    if (is_directory) detail::raise<IOError>("{} is not a readable file (a directory?)", path);
  }
  gzbuffer(file.get(), 1 << 18);

  csv_parser parser;
  if (csv_init(&parser, CSV_APPEND_NULL) != 0) detail::raise<Error>("libcsv could not be initialised");
  std::unique_ptr<csv_parser, void (*)(csv_parser*)> guard(&parser, csv_free);
  csv_set_delim(&parser, static_cast<unsigned char>(delimiter));

  RowCollector collector{path, on_row, {}, {}, {}, 0, true};
  std::vector<char> chunk(1 << 18);
  for (;;) {
    const int got = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file.get(), &code);
      detail::raise<FormatError>("{}: cannot decompress ({}) after row {}", path, message, collector.row);
    }
    if (got == 0) break;
    if (csv_parse(&parser, chunk.data(), static_cast<std::size_t>(got), on_field, on_row_end, &collector) !=
        static_cast<std::size_t>(got)) {
      detail::raise<FormatError>("{}: malformed text near row {}: {}", path, collector.row + 1,
                                 csv_strerror(csv_error(&parser)));
    }
  }
  csv_fini(&parser, on_field, on_row_end, &collector);
}

double parse_number(std::string_view text, const std::string& path, std::size_t row, std::string_view column) {
  std::string_view trimmed = text;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '"')) trimmed.remove_prefix(1);
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\r' || trimmed.back() == '"')) {
    trimmed.remove_suffix(1);
  }
  if (!trimmed.empty() && trimmed.front() == '+') trimmed.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  SPATIALEMBED_CHECK(!trimmed.empty() && error == std::errc() && end == trimmed.data() + trimmed.size() &&
                         std::isfinite(value),
                     FormatError, "{}: row {}, column '{}': expected a finite number, got '{}'", path, row, column,
                     text);
  return value;
}

std::size_t find_column(const std::vector<std::string>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  return std::string::npos;
}

std::size_t require_column(const std::vector<std::string>& header, std::string_view name, const std::string& path) {
  const std::size_t i = find_column(header, name);
  if (i == std::string::npos) {
    std::string found;
    for (const auto& h : header) found += (found.empty() ? "'" : ", '") + h + "'";
    detail::raise<FormatError>("{}: no column '{}' in the header (found {})", path, name, found);
  }
  return i;
}

}  // namespace spatialembed::detail
