#pragma once
/// @file
/// Readers of the spatial-transcriptomics layouts users have: her2st, STimage-1K4M and
/// 10x Visium Space Ranger output. Each pairs spot positions with count rows *by id* and
/// reports the unmatched ones (`Section::spots_without_counts`, `counts_without_spots` and a
/// warning) instead of dropping them silently. Images are not decoded here: the Section keeps
/// the path, checked for existence, and its size is checked against the spot positions.

#include <string>

#include "spatialembed/spatial/section.hpp"

namespace spatialembed {

/// Options of `read_her2st`.
struct Her2stOptions {
  /// Spot diameter ÷ centre-to-centre spacing: legacy ST arrays have 100 µm spots 200 µm apart,
  /// so 0.5; the diameter in pixels is this × the median spot spacing. In (0, 1].
  double diameter_to_spacing = 0.5;
  bool only_in_tissue = false;  ///< keep only spots whose `selected` flag is 1

  void validate() const;
};

/// Reads section `section` of the her2st layout (Andersson et al. 2021) under `root`:
/// `counts/<section>.tsv.gz` (spots × genes, raw UMI counts, first column the spot id `XxY`),
/// `spots/<section>_selection.tsv` (`x y new_x new_y pixel_x pixel_y selected`) and
/// `images/<section>.jpg`. Spot ids are `{x}x{y}` from the spot file's grid columns; positions
/// are `pixel_x`/`pixel_y`. Throws IOError for a missing file, FormatError (file, row, column)
/// for malformed content, InvalidArgument for counts that are negative or not finite.
Section read_her2st(const std::string& root, const std::string& section, const Her2stOptions& options = {});

/// Options of `read_stimage1k4m`.
struct Stimage1k4mOptions {
  void validate() const {}
};

/// Reads slide `slide` of the STimage-1K4M layout (Chen et al. 2024) under `root`:
/// `coord/<slide>_coord.csv` (header `,yaxis,xaxis,r`: spot id, row, column and spot radius in
/// pixels), `gene_exp/<slide>_count.csv` (spots × genes, first column the spot id) and
/// `image/<slide>.png` (which may hold JPEG, TIFF or PNG bytes). The spot diameter is 2 × the
/// median radius; spots whose radius differs from it by more than 1 % are reported.
Section read_stimage1k4m(const std::string& root, const std::string& slide, const Stimage1k4mOptions& options = {});

/// Options of `read_visium`.
struct VisiumOptions {
  /// Full-resolution image (the microscope image given to Space Ranger). Empty: use
  /// `spatial/tissue_hires_image.png`, with coordinates scaled by `tissue_hires_scalef`.
  std::string image;
  bool only_in_tissue = true;   ///< keep only spots flagged in_tissue (as the filtered matrix does)
  std::string matrix = "filtered_feature_bc_matrix.h5";  ///< count matrix file in the folder
  std::string feature_type = "Gene Expression";  ///< features of this type are kept; empty = all

  void validate() const;
};

/// Reads a 10x Visium Space Ranger output folder: the HDF5 count matrix (`matrix/data, indices,
/// indptr, shape, barcodes, features/name, features/id`; CSC genes × barcodes),
/// `spatial/tissue_positions.csv` (Space Ranger ≥ 2.0, with a header) or
/// `spatial/tissue_positions_list.csv` (1.x, no header), and `spatial/scalefactors_json.json`
/// (`spot_diameter_fullres`, `tissue_hires_scalef`, `tissue_lowres_scalef`).
/// Throws IOError for missing files and FormatError for an HDF5 file without the 10x groups.
Section read_visium(const std::string& folder, const VisiumOptions& options = {});

}  // namespace spatialembed
