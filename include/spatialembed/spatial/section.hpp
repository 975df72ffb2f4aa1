#pragma once
/// @file
/// A spatial-transcriptomics section: the H&E image, the spots on it and their counts.
///
/// Coordinates are full-resolution image pixels, x = column and y = row, as her2st's
/// `pixel_x`/`pixel_y` and Visium's `pxl_col_in_fullres`/`pxl_row_in_fullres`. When the image
/// that is read is not the full-resolution one (Visium's `tissue_hires_image.png`),
/// `Provenance::image_scale` maps full-resolution pixels to its pixels.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"

namespace spatialembed {

/// The spots of a section, one entry per spot in every vector (structure of arrays).
struct Spots {
  std::vector<std::string> ids;         ///< spot id (her2st `{x}x{y}`, Visium barcode, STimage-1K4M row name)
  std::vector<double> x;                ///< centre column, full-resolution pixels
  std::vector<double> y;                ///< centre row, full-resolution pixels
  std::vector<std::int64_t> array_col;  ///< grid column (her2st `x`, Visium `array_col`); −1 if unknown
  std::vector<std::int64_t> array_row;  ///< grid row (her2st `y`, Visium `array_row`); −1 if unknown
  std::vector<std::uint8_t> in_tissue;  ///< 1 = under tissue (her2st `selected`, Visium `in_tissue`)
  std::vector<std::string> labels;      ///< optional annotation per spot; empty = none

  std::size_t size() const { return ids.size(); }
};

/// Where a section came from and how its image relates to its coordinates.
struct Provenance {
  std::string layout;              ///< "her2st", "stimage1k4m", "visium" or "anndata"
  std::string image_path;          ///< the image read for tiles; empty = none
  std::string counts_path;         ///< counts file
  std::string spots_path;          ///< spot positions file
  std::string scalefactors_path;   ///< Visium scalefactors_json.json; empty otherwise
  double image_scale = 1.0;        ///< image pixels per full-resolution pixel (> 0)
  double tissue_hires_scalef = 0;  ///< Visium scale factor of the hires image; 0 = unknown
  double tissue_lowres_scalef = 0; ///< Visium scale factor of the lowres image; 0 = unknown
};

/// One section: spots paired with their count rows by id, genes, image and provenance.
struct Section {
  std::string name;                     ///< section or slide name (her2st "C2", a Visium folder name)
  Spots spots;                          ///< n_spots entries
  CsrMatrix counts;                     ///< n_spots × n_genes, CSR (float32; raw counts kept)
  bool integer_counts = true;           ///< every stored count is a whole number
  std::vector<std::string> gene_names;  ///< n_genes names (symbols)
  std::vector<std::string> gene_ids;    ///< n_genes ids (Ensembl), or empty when the layout has none
  double spot_diameter = 0;             ///< spot diameter, full-resolution pixels (> 0)
  std::vector<std::string> spots_without_counts;  ///< spot-file ids with no count row (left out)
  std::vector<std::string> counts_without_spots;  ///< count-row ids with no spot position (left out)
  std::vector<std::string> warnings;    ///< what the reader reported (unmatched ids, adjustments)
  Provenance provenance;

  std::size_t n_spots() const { return spots.size(); }
  std::size_t n_genes() const { return gene_names.size(); }

  /// Checks that the parts agree (sizes, CSR structure, finite non-negative counts, distinct
  /// spot ids, diameter > 0, image scale > 0); throws InvalidArgument naming the section, the
  /// field and the value otherwise. Every reader calls it before returning.
  void validate() const;
};

/// Keeps the count rows whose id has a spot, in spot order, and records the unmatched ids on
/// both sides in `section` (and a warning for each side that has any). `row_ids` names the rows
/// of `counts` (spots × genes, CSR). Throws FormatError naming `counts_path` for a repeated
/// row id, and InvalidArgument when no id matches.
void pair_spots_with_counts(Section& section, const std::vector<std::string>& row_ids, CsrMatrix counts,
                            const std::string& counts_path);

/// Centre-to-centre spacing of a square spot grid (legacy ST arrays): the median pixel distance
/// between spots one step apart on the grid (array_col ± 1 in a row, or array_row ± 1 in a
/// column), in full-resolution pixels; 0 when no two spots are grid neighbours.
double median_grid_spacing(const Spots& spots);

}  // namespace spatialembed
