#include "spatial/count_table.hpp"

#include <cmath>

#include "spatial/delimited_table.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed::detail {

CountTable read_count_table(const std::string& path, char delimiter) {
  CountTable table;
  table.counts.indptr.push_back(0);
  read_delimited(path, delimiter, [&](const TableRow& row) {
    const auto& fields = row.fields;
    if (table.genes.empty()) {
      SPATIALEMBED_CHECK(fields.size() >= 2, FormatError,
                         "{}: the header has {} field(s); expected a spot-id column then one column per gene "
                         "(is the delimiter '{}'?)",
                         path, fields.size(), delimiter == '\t' ? "\\t" : std::string(1, delimiter));
      table.genes.assign(fields.begin() + 1, fields.end());
      return;
    }
    SPATIALEMBED_CHECK(fields.size() == table.genes.size() + 1, FormatError,
                       "{}: row {} has {} fields, the header has {} (a spot id and {} genes)", path, row.number,
                       fields.size(), table.genes.size() + 1, table.genes.size());
    table.row_ids.emplace_back(fields[0]);
    for (std::size_t j = 1; j < fields.size(); ++j) {
      const std::string_view text = fields[j];
      if (text == "0") continue;  // the common case in count tables
      const double value = parse_number(text, path, row.number, table.genes[j - 1]);
      SPATIALEMBED_CHECK(value >= 0, InvalidArgument, "{}: row {} (spot {}), gene {}: counts must be ≥ 0, got {}", path,
                         row.number, fields[0], table.genes[j - 1], text);
      if (value == 0) continue;
      if (value != std::floor(value)) table.integer = false;
      table.counts.indices.push_back(static_cast<std::int32_t>(j - 1));
      table.counts.data.push_back(static_cast<float>(value));
    }
    table.counts.indptr.push_back(static_cast<std::int64_t>(table.counts.data.size()));
  });
  SPATIALEMBED_CHECK(!table.genes.empty(), FormatError, "{}: the table is empty", path);
  SPATIALEMBED_CHECK(!table.row_ids.empty(), FormatError, "{}: the table has a header but no rows", path);
  table.counts.rows = table.row_ids.size();
  table.counts.cols = table.genes.size();
  return table;
}

}  // namespace spatialembed::detail
