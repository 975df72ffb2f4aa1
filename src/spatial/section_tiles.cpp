#include "spatialembed/spatial/section_tiles.hpp"

#include <cmath>

#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/image.hpp"

namespace spatialembed {

SectionTileGeometry section_tile_geometry(const Section& section, const TileOptions& options) {
  SPATIALEMBED_CHECK(!section.provenance.image_path.empty(), InvalidArgument,
                     "section '{}' has no image to cut tiles from (provenance.image_path is empty)", section.name);
  const double scale = section.provenance.image_scale;
  SectionTileGeometry g;
  g.x.reserve(section.n_spots());
  g.y.reserve(section.n_spots());
  for (std::size_t i = 0; i < section.n_spots(); ++i) {
    g.x.push_back(section.spots.x[i] * scale);
    g.y.push_back(section.spots.y[i] * scale);
  }
  g.spot_diameter = section.spot_diameter * scale;
  g.options = options;
  g.options.size = std::max<std::int64_t>(1, std::llround(static_cast<double>(options.size) * scale));
  return g;
}

Tiles cut_section_tiles(const Section& section, const TileOptions& options) {
  const SectionTileGeometry g = section_tile_geometry(section, options);
  return cut_tiles(ImageFile(section.provenance.image_path), g.x, g.y, g.spot_diameter, g.options);
}

std::unique_ptr<TileLoader> section_tile_loader(const Section& section, const TileOptions& options) {
  const SectionTileGeometry g = section_tile_geometry(section, options);
  return std::make_unique<TileLoader>(ImageFile(section.provenance.image_path), g.x, g.y, g.spot_diameter, g.options);
}

void check_image_covers_spots(const Section& section) {
  const ImageFile image(section.provenance.image_path);
  const double scale = section.provenance.image_scale;
  const auto width = static_cast<double>(image.width());
  const auto height = static_cast<double>(image.height());
  for (std::size_t i = 0; i < section.n_spots(); ++i) {
    const double x = section.spots.x[i] * scale;
    const double y = section.spots.y[i] * scale;
    SPATIALEMBED_CHECK(x >= 0 && y >= 0 && x < width && y < height, FormatError,
                       "{}: the image is {} × {} pixels (width × height) but spot {} of section '{}' lies at ({}, {}) "
                       "in its pixels{}: the image is smaller than the spot coordinates imply (wrong image or scale "
                       "factor?)",
                       section.provenance.image_path, image.width(), image.height(), section.spots.ids[i],
                       section.name, x, y, scale == 1.0 ? "" : fmt::format(" (image_scale {})", scale));
  }
}

}  // namespace spatialembed
