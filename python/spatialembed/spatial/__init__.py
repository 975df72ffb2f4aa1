"""Spatial transcriptomics: sections (H&E image + spots + counts), readers for the her2st,
STimage-1K4M and 10x Visium layouts, spot tiles, expression normalisation and HVG selection.

Coordinates are full-resolution image pixels, x = column and y = row (her2st ``pixel_x`` /
``pixel_y``, Visium ``pxl_col_in_fullres`` / ``pxl_row_in_fullres``). See docs/spatial.md.
"""
from ..spatial_expression import filter_genes, log1p, match_genes, normalize_total
from ..spatial_image import cut_tiles, image_info, open_image, read_image_region
from .hvg import highly_variable_genes
from .pairs import pairs_from_sections
from .readers import read_her2st, read_stimage1k4m, read_visium
from .section import Section

__all__ = ["Section", "cut_tiles", "filter_genes", "highly_variable_genes", "image_info", "log1p", "match_genes",
           "normalize_total", "open_image", "pairs_from_sections", "read_her2st", "read_image_region", "read_stimage1k4m", "read_visium"]
