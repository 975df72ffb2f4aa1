"""Spatial transcriptomics: sections (H&E image + spots + counts), readers for the her2st,
STimage-1K4M and 10x Visium layouts, spot tiles, expression normalisation and HVG selection.

Coordinates are full-resolution image pixels, x = column and y = row (her2st ``pixel_x`` /
``pixel_y``, Visium ``pxl_col_in_fullres`` / ``pxl_row_in_fullres``). See docs/spatial.md.
"""
from .readers import read_her2st, read_stimage1k4m, read_visium
from .section import Section

__all__ = ["Section", "read_her2st", "read_stimage1k4m", "read_visium"]
