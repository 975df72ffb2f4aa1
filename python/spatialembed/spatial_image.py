"""Rectangles of large H&E images and tiles centred on spatial-transcriptomics spots.

A thin layer over the C++ core (``spatialembed._core``; see ``docs/spatial_image.md``):
JPEG, PNG, TIFF/BigTIFF and, when built with OpenSlide, whole-slide formats, recognised by
their first bytes (not their file name), decoded only where the rectangles are, without a
decompression-bomb limit and without whole-image copies. Coordinates are full-resolution
pixels, x = column, y = row; pixels are RGB uint8.
"""
import os

import numpy as np

from . import _core
from ._progress import ProgressBar
from ._validation import num_threads

__all__ = ["ImageFile", "cut_tiles", "image_info", "iter_tiles", "open_image", "read_image_region", "tile_origin"]

#: An image file opened for reading rectangles: ``ImageFile(path, format=None)``; ``.info``,
#: ``.read_region(x0, y0, width, height, fill=255)``, ``.read_regions(rects, fill=255, num_threads=0)``.
ImageFile = _core.ImageFile

#: First column (row) of the crop of side ``side`` centred at ``centre``:
#: ``floor(centre - side / 2 + 1 / 2)``, i.e. ``centre - side / 2`` rounded half up.
tile_origin = _core.tile_origin


def open_image(image, format=None):
    """Return ``image`` as an :data:`ImageFile` (opening it if it is a path).

    Parameters
    ----------
    image : str, os.PathLike or ImageFile
        The file; opening reads and checks its header only.
    format : {"jpeg", "png", "tiff", "openslide"}, optional
        Decode as this format instead of the one its first bytes say.

    Raises
    ------
    OSError
        The file cannot be opened.
    ValueError
        Unknown first bytes (the message shows them), a corrupt header, a zero-size image, or
        a whole-slide file in a build without OpenSlide.
    """
    if isinstance(image, _core.ImageFile):
        return image
    return _core.ImageFile(os.fspath(image), format)


def image_info(image, format=None):
    """The header of an image file as a dict.

    Returns
    -------
    dict
        ``path``, ``format`` ("jpeg", "png", "tiff" or "openslide"), ``width`` and ``height``
        (full-resolution pixels) and ``random_access`` (True for tiled TIFF and OpenSlide,
        where a rectangle costs only the tiles it touches).
    """
    info = open_image(image, format).info
    return {"path": info.path, "format": info.format, "width": info.width, "height": info.height,
            "random_access": info.random_access}


def read_image_region(image, x0, y0, width, height, *, fill=255, format=None):
    """Read columns ``[x0, x0 + width)`` and rows ``[y0, y0 + height)`` of an image.

    Only what the rectangle needs is decoded (JPEG: the rows down to its last one, inverse
    DCT only inside it; tiled TIFF: its tiles). Greyscale, palette, alpha (dropped) and 16-bit
    (high byte) images come out as RGB uint8.

    Parameters
    ----------
    image : str, os.PathLike or ImageFile
    x0, y0 : int
        First column and row, full-resolution pixels; may be negative.
    width, height : int
        Size of the rectangle (>= 0); it may reach outside the image.
    fill : int, default=255
        Value (all channels) of pixels outside the image.
    format : str, optional
        See :func:`open_image`.

    Returns
    -------
    numpy.ndarray of shape (height, width, 3), uint8

    Raises
    ------
    OSError, ValueError
        As :func:`open_image`; ValueError also for corrupt or truncated pixel data (naming the
        file) and negative sizes.
    """
    return open_image(image, format).read_region(int(x0), int(y0), int(width), int(height), int(fill))


def _tile_options(n_jobs, options):
    o = _core.TileOptions()
    for name, value in options.items():
        if name in ("progress", "num_threads") or not hasattr(o, name):
            fields = sorted(f for f in dir(o) if not f.startswith("_") and f != "validate")
            raise TypeError(f"unknown tile option {name!r}; valid options: {', '.join(fields)} (and n_jobs)")
        setattr(o, name, value)
    o.num_threads = num_threads(n_jobs)
    return o


def _coordinates(values, name):
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one coordinate per spot), got shape {values.shape}")
    return values


def cut_tiles(image, x, y, *, spot_diameter=None, n_jobs=None, verbose=False, format=None, **options):
    """Cut a square RGB tile centred on every spot.

    Spot i's crop of side ``s`` starts at column ``tile_origin(x[i], s)`` and row
    ``tile_origin(y[i], s)`` (``floor(c - s/2 + 1/2)``); crop pixels outside the image are
    ``fill`` and the spot is listed in ``padded``. Sequential images (JPEG, PNG, stripped
    TIFF) are decoded once for all spots, only the band of rows and columns the crops span;
    tiled TIFF and OpenSlide images read only the tiles under the crops. A crop is resampled,
    when ``output_size`` asks for it, exactly as PIL's ``Image.resize((output_size,
    output_size), filter, reducing_gap=None)`` would.

    Parameters
    ----------
    image : str, os.PathLike or ImageFile
        The H&E image.
    x, y : array-like of shape (n_spots,)
        Spot centres in full-resolution pixels: x = column, y = row (her2st ``pixel_x`` /
        ``pixel_y``, Visium ``pxl_col_in_fullres`` / ``pxl_row_in_fullres``).
    spot_diameter : float, optional
        Spot diameter in full-resolution pixels; needed only with ``diameter_multiple``.
    n_jobs : int, optional
        Threads (None or -1 = all cores). The tiles do not depend on it.
    verbose : bool, default=False
        Show a progress bar over the tiles (tqdm, when installed).
    format : str, optional
        See :func:`open_image`.
    **options
        Fields of ``TileOptions`` (C++ defaults shown): ``size=224`` crop side in pixels;
        ``diameter_multiple=0`` (> 0: crop side = round(multiple × spot_diameter));
        ``output_size=0`` tile side after resampling (0 = no resampling); ``filter="bilinear"``
        ("box", "bilinear", "bicubic", "lanczos"); ``fill=255``; ``batch_size=256`` spots per
        read of random-access images.

    Returns
    -------
    Tiles
        ``pixels`` (n_spots, side, side, 3) uint8 in spot order (a NumPy view that keeps the
        result alive), ``padded`` int array of the spots whose crop crossed the image border,
        ``spots``, ``crop_size`` (full-resolution side), ``n``, ``height``, ``width``.

    Raises
    ------
    OSError, ValueError
        As :func:`open_image`; ValueError for invalid options (naming the field and its range),
        non-finite coordinates, x and y of different lengths, corrupt pixel data.
    TypeError
        An unknown option name.
    """
    opened = open_image(image, format)
    x, y = _coordinates(x, "x"), _coordinates(y, "y")
    opts = _tile_options(n_jobs, options)
    bar = ProgressBar("cutting tiles", "tiles") if verbose else None
    try:
        return _core.cut_tiles(opened, x, y, float(spot_diameter or 0.0), opts, bar)
    finally:
        if bar is not None:
            bar.close()


def iter_tiles(image, x, y, *, spot_diameter=None, n_jobs=None, format=None, **options):
    """Iterate over spot tiles in batches made on background threads (a ``TileLoader``).

    Batch k holds spots ``k * batch_size …`` in order, as :func:`cut_tiles` would return
    them. Random-access images are read batch by batch, ``prefetch`` batches ahead of the
    consumer; sequential images are decoded once in the background and each batch is handed
    out as soon as its tiles are in. ``len()`` is the number of batches.

    Parameters
    ----------
    image, x, y, spot_diameter, n_jobs, format
        As :func:`cut_tiles`.
    **options
        As :func:`cut_tiles`, plus ``batch_size=256`` (tiles per batch) and ``prefetch=2``.

    Yields
    ------
    Tiles
        ``pixels`` (batch, side, side, 3) uint8, ``spots`` (their indices), ``padded``.
    """
    opened = open_image(image, format)
    x, y = _coordinates(x, "x"), _coordinates(y, "y")
    return _core.TileLoader(opened, x, y, float(spot_diameter or 0.0), _tile_options(n_jobs, options))
