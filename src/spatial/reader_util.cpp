#include "spatial/reader_util.hpp"

#include <unordered_map>

#include "spatial/count_table.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/section_tiles.hpp"

namespace spatialembed::detail {

std::string existing_file(const std::filesystem::path& path, const char* what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  SPATIALEMBED_CHECK(std::filesystem::exists(status), IOError, "{} not found: {}", what, path.string());
  SPATIALEMBED_CHECK(std::filesystem::is_regular_file(status), IOError, "{} is not a regular file: {}", what,
                     path.string());
  // Absolute, so that a Section stays usable after the working directory changes.
  return std::filesystem::absolute(path).lexically_normal().string();
}

Section new_section(const std::string& name, const char* layout, const std::string& spots_path,
                    const std::string& counts_path, const std::string& image_path) {
  Section section;
  section.name = name;
  section.provenance.layout = layout;
  section.provenance.spots_path = spots_path;
  section.provenance.counts_path = counts_path;
  section.provenance.image_path = image_path;
  return section;
}

void add_count_table_and_finish(Section& section, char delimiter) {
  const std::string& path = section.provenance.counts_path;
  CountTable table = read_count_table(path, delimiter);
  section.gene_names = std::move(table.genes);
  section.integer_counts = table.integer;
  pair_spots_with_counts(section, table.row_ids, std::move(table.counts), path);
  finish_section(section);
}

void keep_in_tissue(Spots& spots) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < spots.size(); ++i) {
    if (!spots.in_tissue[i]) continue;
    if (kept == i) {  // nothing to move yet (and a self-move would empty the strings)
      ++kept;
      continue;
    }
    spots.ids[kept] = std::move(spots.ids[i]);
    spots.x[kept] = spots.x[i];
    spots.y[kept] = spots.y[i];
    spots.array_col[kept] = spots.array_col[i];
    spots.array_row[kept] = spots.array_row[i];
    spots.in_tissue[kept] = 1;
    if (!spots.labels.empty()) spots.labels[kept] = std::move(spots.labels[i]);
    ++kept;
  }
  spots.ids.resize(kept);
  spots.x.resize(kept);
  spots.y.resize(kept);
  spots.array_col.resize(kept);
  spots.array_row.resize(kept);
  spots.in_tissue.resize(kept);
  if (!spots.labels.empty()) spots.labels.resize(kept);
}

namespace {

// Genes are matched across sections by name, or by id where names repeat, so one of the two
// must identify each column.
void check_distinct_genes(const Section& section) {
  const bool by_id = !section.gene_ids.empty();
  const auto& keys = by_id ? section.gene_ids : section.gene_names;
  std::unordered_map<std::string, std::size_t> first;
  for (std::size_t j = 0; j < keys.size(); ++j) {
    const auto [it, inserted] = first.emplace(keys[j], j);
    SPATIALEMBED_CHECK(inserted, FormatError, "{}: gene {} '{}' occurs twice (columns {} and {}); genes must be distinct",
                       section.provenance.counts_path, by_id ? "id" : "name", keys[j], it->second + 1, j + 1);
  }
}

}  // namespace

void finish_section(Section& section) {
  check_distinct_genes(section);
  section.validate();
  check_image_covers_spots(section);
}

}  // namespace spatialembed::detail
