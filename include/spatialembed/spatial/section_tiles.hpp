#pragma once
/// @file
/// Tiles of a Section: the H&E crop under each spot, in spot order, from the section's image.
///
/// Positions, the spot diameter and `TileOptions::size` are full-resolution pixels; when the
/// section's image is a downscaled one (Visium `tissue_hires_image.png`, image_scale ≠ 1) they
/// are all multiplied by `Provenance::image_scale` before cutting, so a crop covers the same
/// tissue whichever image is read. `output_size` is in output pixels and is not scaled.

#include <memory>

#include "spatialembed/spatial/section.hpp"
#include "spatialembed/spatial/tiles.hpp"

namespace spatialembed {

/// The spot centres (x, y), the spot diameter and the options in the pixels of the section's
/// image. Throws InvalidArgument when the section has no image.
struct SectionTileGeometry {
  std::vector<double> x, y;  ///< spot centres in image pixels
  double spot_diameter = 0;  ///< in image pixels
  TileOptions options;       ///< `size` in image pixels
};
SectionTileGeometry section_tile_geometry(const Section& section, const TileOptions& options);

/// Every spot's tile, `n_spots × H × W × 3` uint8 in spot order (see `cut_tiles`); the image
/// is decoded once, only the region the spots need. Throws IOError / FormatError for an
/// unreadable image, InvalidArgument for invalid options or a section without an image.
Tiles cut_section_tiles(const Section& section, const TileOptions& options = {});

/// Batches of the section's tiles made on background threads (see `TileLoader`), so that a
/// trainer never waits on decoding.
std::unique_ptr<TileLoader> section_tile_loader(const Section& section, const TileOptions& options = {});

/// Throws FormatError naming the image, its size and the first spot outside it when a spot
/// centre lies outside the section's image (an image smaller than the coordinates imply).
void check_image_covers_spots(const Section& section);

}  // namespace spatialembed
