#include <cmath>
#include <filesystem>

#include "spatial/delimited_table.hpp"
#include "spatial/reader_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/readers.hpp"

namespace spatialembed {

void Her2stOptions::validate() const {
  SPATIALEMBED_CHECK(std::isfinite(diameter_to_spacing) && diameter_to_spacing > 0 && diameter_to_spacing <= 1,
                     InvalidArgument, "diameter_to_spacing must be in (0, 1], got {}", diameter_to_spacing);
}

namespace {

// The spot file: grid position, pixel position and the tissue flag of every spot.
Spots read_her2st_spots(const std::string& path) {
  Spots spots;
  std::size_t col_x = 0, col_y = 0, col_px = 0, col_py = 0, col_selected = 0;
  bool header = true;
  detail::read_delimited(path, '\t', [&](const detail::TableRow& row) {
    if (header) {
      const std::vector<std::string> names(row.fields.begin(), row.fields.end());
      col_x = detail::require_column(names, "x", path);
      col_y = detail::require_column(names, "y", path);
      col_px = detail::require_column(names, "pixel_x", path);
      col_py = detail::require_column(names, "pixel_y", path);
      col_selected = detail::find_column(names, "selected");
      header = false;
      return;
    }
    const auto field = [&](std::size_t col, const char* name) {
      SPATIALEMBED_CHECK(col < row.fields.size(), FormatError, "{}: row {} has {} fields, no column '{}'", path,
                         row.number, row.fields.size(), name);
      return detail::parse_number(row.fields[col], path, row.number, name);
    };
    const double x = field(col_x, "x");
    const double y = field(col_y, "y");
    SPATIALEMBED_CHECK(x == std::round(x) && y == std::round(y), FormatError,
                       "{}: row {}: the grid position ({}, {}) must be whole numbers", path, row.number, x, y);
    spots.ids.push_back(fmt::format("{}x{}", static_cast<long long>(x), static_cast<long long>(y)));
    spots.array_col.push_back(static_cast<std::int64_t>(x));
    spots.array_row.push_back(static_cast<std::int64_t>(y));
    spots.x.push_back(field(col_px, "pixel_x"));
    spots.y.push_back(field(col_py, "pixel_y"));
    spots.in_tissue.push_back(col_selected == std::string::npos || field(col_selected, "selected") != 0);
  });
  SPATIALEMBED_CHECK(!header, FormatError, "{}: the file is empty", path);
  SPATIALEMBED_CHECK(spots.size() > 0, FormatError, "{}: no spots below the header", path);
  return spots;
}

}  // namespace

Section read_her2st(const std::string& root, const std::string& section_name, const Her2stOptions& options) {
  options.validate();
  const std::filesystem::path base(root);
  const std::string counts_path = detail::existing_file(base / "counts" / (section_name + ".tsv.gz"), "her2st counts");
  const std::string spots_path =
      detail::existing_file(base / "spots" / (section_name + "_selection.tsv"), "her2st spot positions");
  const std::string image_path = detail::existing_file(base / "images" / (section_name + ".jpg"), "her2st image");

  Section section = detail::new_section(section_name, "her2st", spots_path, counts_path, image_path);
  section.spots = read_her2st_spots(spots_path);
  if (options.only_in_tissue) detail::keep_in_tissue(section.spots);
  // The spacing is measured on the whole array, before spots are dropped for lack of counts.
  const double spacing = median_grid_spacing(section.spots);
  SPATIALEMBED_CHECK(spacing > 0, FormatError, "{}: no two of the {} spots are grid neighbours, so the spot spacing (and diameter) is unknown", spots_path,
                     section.spots.size());
  section.spot_diameter = options.diameter_to_spacing * spacing;

  detail::add_count_table_and_finish(section, '\t');
  return section;
}

}  // namespace spatialembed
