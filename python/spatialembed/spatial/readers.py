"""Readers of the spatial-transcriptomics layouts; each returns a :class:`Section`."""
import os
import warnings

from .. import _core
from .section import Section


def _options(struct, values):
    """The bound options struct ``struct`` with ``values`` set by name (C++ validates them)."""
    options = struct()
    for name, value in values.items():
        if not hasattr(options, name):
            raise TypeError(f"{struct.__name__} has no option {name!r}")
        setattr(options, name, value)
    return options


def _section(cpp):
    for message in cpp.warnings:
        warnings.warn(message, UserWarning, stacklevel=3)
    return Section(cpp)


def read_her2st(root, section, **options):
    """Read one section of the her2st layout (Andersson et al. 2021).

    Parameters
    ----------
    root : str or path
        Folder holding ``counts/<section>.tsv.gz`` (spots x genes, raw UMI counts, first
        column the spot id ``XxY``), ``spots/<section>_selection.tsv`` (``x y new_x new_y
        pixel_x pixel_y selected``) and ``images/<section>.jpg``.
    section : str
        Section name, e.g. ``"C2"``.
    **options
        Fields of :class:`spatialembed._core.Her2stOptions`: ``diameter_to_spacing``
        (default 0.5: legacy ST spots are 100 µm across, 200 µm apart; the spot diameter in
        pixels is this times the median grid spacing), ``only_in_tissue`` (default False).

    Returns
    -------
    Section
        Spots paired with count rows by id (``XxY``); unmatched ids on either side are left
        out, listed in ``spots_without_counts`` / ``counts_without_spots`` and warned about.

    Raises
    ------
    OSError
        A file is missing.
    ValueError
        Malformed content (naming the file, row and column), negative or non-finite counts,
        duplicated genes, no spot id matching a count row, or an invalid option.
    """
    cpp = _core.read_her2st(os.fspath(root), str(section), _options(_core.Her2stOptions, options))
    return _section(cpp)


def read_stimage1k4m(root, slide, **options):
    """Read one slide of the STimage-1K4M layout (Chen et al. 2024).

    Parameters
    ----------
    root : str or path
        Folder holding ``coord/<slide>_coord.csv`` (header ``,yaxis,xaxis,r``: spot id, row,
        column and spot radius in pixels), ``gene_exp/<slide>_count.csv`` (spots x genes,
        first column the spot id) and ``image/<slide>.png`` (which may hold JPEG, TIFF or PNG
        bytes: images are decoded by content).
    slide : str
        Slide name.

    Returns
    -------
    Section
        Spot diameter = 2 x the median radius (spots with another radius are warned about).

    Raises
    ------
    OSError, ValueError
        As :func:`read_her2st`.
    """
    cpp = _core.read_stimage1k4m(os.fspath(root), str(slide), _options(_core.Stimage1k4mOptions, options))
    return _section(cpp)


def read_visium(folder, image=None, **options):
    """Read a 10x Visium Space Ranger output folder.

    Parameters
    ----------
    folder : str or path
        Holds ``filtered_feature_bc_matrix.h5`` and ``spatial/`` with
        ``tissue_positions.csv`` (Space Ranger >= 2.0) or ``tissue_positions_list.csv``
        (1.x), ``scalefactors_json.json`` and ``tissue_hires_image.png``.
    image : str or path, optional
        The full-resolution image given to Space Ranger. Without it tiles are cut from
        ``tissue_hires_image.png``, with coordinates and sizes scaled by
        ``tissue_hires_scalef`` (coordinates stay in full-resolution pixels).
    **options
        Fields of :class:`spatialembed._core.VisiumOptions`: ``only_in_tissue`` (default
        True), ``matrix`` (default ``"filtered_feature_bc_matrix.h5"``), ``feature_type``
        (default ``"Gene Expression"``).

    Returns
    -------
    Section
        Genes carry names and Ensembl ids (names may repeat; ids identify them).

    Raises
    ------
    OSError
        A file is missing.
    ValueError
        An HDF5 file without the 10x groups, malformed positions or scale factors.
    """
    if image is not None:
        options["image"] = os.fspath(image)
    cpp = _core.read_visium(os.fspath(folder), _options(_core.VisiumOptions, options))
    return _section(cpp)
