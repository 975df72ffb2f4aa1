#include <algorithm>
#include <cmath>
#include <filesystem>

#include "spatial/delimited_table.hpp"
#include "spatial/reader_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/readers.hpp"

namespace spatialembed {

namespace {

// A spot radius further than this (relative) from the median is reported: STimage-1K4M's
// coordinates have carried wrong radii before.
constexpr double kRadiusTolerance = 0.01;

struct Coordinates {
  Spots spots;
  std::vector<double> radius;
};

Coordinates read_coordinates(const std::string& path) {
  Coordinates out;
  std::size_t col_x = 0, col_y = 0, col_r = 0;
  bool header = true;
  detail::read_delimited(path, ',', [&](const detail::TableRow& row) {
    if (header) {
      const std::vector<std::string> names(row.fields.begin(), row.fields.end());
      col_y = detail::require_column(names, "yaxis", path);
      col_x = detail::require_column(names, "xaxis", path);
      col_r = detail::require_column(names, "r", path);
      header = false;
      return;
    }
    const std::size_t needed = std::max({col_x, col_y, col_r}) + 1;
    SPATIALEMBED_CHECK(row.fields.size() >= needed, FormatError, "{}: row {} has {} fields, expected {}", path,
                       row.number, row.fields.size(), needed);
    out.spots.ids.emplace_back(row.fields[0]);
    out.spots.x.push_back(detail::parse_number(row.fields[col_x], path, row.number, "xaxis"));
    out.spots.y.push_back(detail::parse_number(row.fields[col_y], path, row.number, "yaxis"));
    const double r = detail::parse_number(row.fields[col_r], path, row.number, "r");
    SPATIALEMBED_CHECK(r > 0, FormatError, "{}: row {} (spot {}): the radius r must be > 0 pixels, got {}", path,
                       row.number, row.fields[0], r);
    out.radius.push_back(r);
    out.spots.array_col.push_back(-1);
    out.spots.array_row.push_back(-1);
    out.spots.in_tissue.push_back(1);
  });
  SPATIALEMBED_CHECK(!header, FormatError, "{}: the file is empty", path);
  SPATIALEMBED_CHECK(out.spots.size() > 0, FormatError, "{}: no spots below the header", path);
  return out;
}

double median(std::vector<double> values) {
  auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

}  // namespace

Section read_stimage1k4m(const std::string& root, const std::string& slide, const Stimage1k4mOptions& options) {
  options.validate();
  const std::filesystem::path base(root);
  const std::string spots_path =
      detail::existing_file(base / "coord" / (slide + "_coord.csv"), "STimage-1K4M spot coordinates");
  const std::string counts_path =
      detail::existing_file(base / "gene_exp" / (slide + "_count.csv"), "STimage-1K4M counts");
  const std::string image_path = detail::existing_file(base / "image" / (slide + ".png"), "STimage-1K4M image");

  Section section = detail::new_section(slide, "stimage1k4m", spots_path, counts_path, image_path);
  Coordinates coordinates = read_coordinates(spots_path);
  const double radius = median(coordinates.radius);
  section.spot_diameter = 2 * radius;
  std::size_t off = 0;
  for (const double r : coordinates.radius) off += std::abs(r - radius) > kRadiusTolerance * radius;
  if (off > 0) {
    section.warnings.push_back(fmt::format("{}: {} spot(s) have a radius other than the median {} px; the section uses "
                                           "a diameter of {} px for every spot",
                                           spots_path, off, radius, section.spot_diameter));
  }
  section.spots = std::move(coordinates.spots);

  detail::add_count_table_and_finish(section, ',');
  return section;
}

}  // namespace spatialembed
