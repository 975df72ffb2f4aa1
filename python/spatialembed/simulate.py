"""Simulated MSI tissue sections with ground truth, for testing ion-image clustering.

A section of tissue regions, nodules, thin layers and gradients; molecules with isotope
envelopes whose ion images follow one known spatial pattern each; Gaussian TOF peaks with
"shoulder pairs" (two species inside one peak with different patterns); noise and hotspots.
Written as imzML (processed centroid or continuous profile) or a PNG folder, with the truth
as ``<stem>_truth.json``. The generator runs in the C++ core; see ``docs/simulate.md``.
"""
import json
import numbers
from pathlib import Path

import numpy as np

from . import _core
from ._progress import ProgressBar
from ._validation import num_threads

__all__ = ["simulate_tissue", "load_truth"]

_MODES = ("processed", "continuous", "png")


def simulate_tissue(path, *, width=64, height=64, n_molecules=40, n_ion_images=None, n_regions=5, n_nodules=3,
                    n_layers=2, n_gradients=1, nodule_radius=2.5, isotopes=(2, 4), isotope_spacing=1.00336,
                    mz_range=(400.0, 1000.0), resolving_power=20000.0, min_peak_separation=3.0, n_shoulder_pairs=2,
                    shoulder_offset=0.5, points_per_fwhm=5.0, peak_window=1.5, intensity_scale=1000.0, noise=0.05,
                    detection_limit=0.15, hotspot_fraction=1e-4, tissue_mask=True, pixel_size=10.0, mode="processed", random_state=0,
                    overwrite=False, n_jobs=None, verbose=False):
    """Simulate an MSI tissue section with known ion-image groups and write it to ``path``.

    Every molecule gets one spatial pattern — a tissue region (Voronoi lobe, ellipse or band,
    with a smooth texture), a region plus one nodule, a nodule only (a disc a few pixels
    across that only a few ions share: the local structure global methods miss, Zhang et al.,
    Anal Bioanal Chem 413:2803, 2021), a thin layer (line or ring, 1–2 px) or a gradient —
    and 2–4 isotope peaks 1.00336 Da apart with decaying (Poisson, 13C) abundances, all of
    which share the pattern. The pattern id of an ion image is its truth cluster.

    Parameters
    ----------
    path : str or os.PathLike
        ``mode="processed"`` / ``"continuous"``: the ``.imzML`` file (the ``.ibd`` goes next to
        it). ``mode="png"``: the folder of ``<m/z>.png`` files. The truth goes to
        ``<stem>_truth.json`` next to it (stem = path less ``.imzML``, or the folder).
    width, height : int, default=64
        Pixels, 8 … 65535.
    n_molecules : int, default=40
        Molecules; each gives 2–4 ion images (``isotopes``).
    n_ion_images : int, optional
        Make exactly this many ion images instead (overrides ``n_molecules``).
    n_regions, n_nodules, n_layers, n_gradients : int, default=5, 3, 2, 1
        Spatial structures. Regions: the first two and every third are Voronoi lobes that
        partition the tissue, the others ellipses and bands painted over them.
    nodule_radius : float, default=2.5
        Mean nodule radius in pixels (each drawn in [0.6, 1.2] × this).
    isotopes : (int, int), default=(2, 4)
        Smallest and largest number of isotope peaks per molecule (1 … 8).
    isotope_spacing : float, default=1.00336
        Da between isotope peaks.
    mz_range : (float, float), default=(400, 1000)
        Smallest monoisotopic m/z and largest peak m/z.
    resolving_power : float, default=20000
        R = m/Δm, Δm the FWHM of the Gaussian TOF peak.
    min_peak_separation : float, default=3
        FWHMs between peaks of different molecules (shoulder pairs aside). A range too
        crowded for the peaks raises ``ValueError``.
    n_shoulder_pairs : int, default=2
        Pairs of molecules ``shoulder_offset`` FWHM apart with different patterns, so the
        apex and the shoulder of one TOF peak differ spatially.
    shoulder_offset : float, default=0.5
        FWHMs between the two species of a shoulder pair (0.05 … 1).
    points_per_fwhm, peak_window : float, default=5, 1.5
        Continuous mode: the shared m/z axis samples ±``peak_window`` FWHM around each peak
        with this many points per FWHM, plus each peak's exact m/z.
    intensity_scale : float, default=1000
        Molecule intensities at pattern level 1 are log-uniform in [0.05, 1] × this.
    noise : float, default=0.05
        Noise sd relative to pattern level 1: multiplicative and additive, clipped at 0.
    detection_limit : float, default=0.15
        Values below this × the ion's level-1 intensity read 0 (not detected, as after a
        peak picker's SNR cut), so centroid spectra hold mostly the ions whose pattern covers
        the pixel. 0 keeps every positive value.
    hotspot_fraction : float, default=1e-4
        Fraction of (ion, pixel) values replaced by a hotspot of 20–100 × the ion's level.
    tissue_mask : bool, default=True
        Pixels outside a wobbly tissue outline are not measured (no spectrum, transparent
        in PNGs).
    pixel_size : float, default=10
        Micrometres, written to the imzML.
    mode : {"processed", "continuous", "png"}, default="processed"
        imzML centroid (per pixel the ions present, zeros omitted), imzML profile (one shared
        m/z axis), or 16-bit PNGs (each image scaled by its maximum, ``png_max``).
    random_state : int, default=0
        Seed; the same seed gives byte-identical files whatever ``n_jobs`` is.
    overwrite : bool, default=False
        Replace existing outputs; otherwise an existing output raises ``OSError`` naming it.
    n_jobs : int, optional
        Threads (None or -1 = all cores).
    verbose : bool, default=False
        Show a progress bar (tqdm) over spectra or ion images.

    Returns
    -------
    truth : dict
        Per ion image, sorted by m/z (arrays of shape (n_ions,)): ``mz`` float64, ``molecule``,
        ``isotope``, ``pattern`` (the truth cluster), ``shoulder`` (the other ion of its
        shoulder pair, -1 if none) int32, ``kind`` list of str ("region", "region_nodule",
        "nodule", "layer", "gradient"), ``abundance`` float64 (intensity at pattern level 1),
        ``png_max`` float64 (PNG mode: the intensity 65535 stands for; else None).
        Per pattern: ``patterns`` list of dicts (id, kind, region, nodule, layer, gradient,
        n_pixels, n_ions) and ``pattern_maps`` float32 of shape (n_patterns, height, width),
        noise-free (None when it would exceed 2**24 values). Per molecule: ``molecule_mz``,
        ``molecule_pattern``, ``molecule_shoulder``. Layout: ``mask`` bool (height, width),
        ``region_labels``, ``nodule_labels``, ``layer_labels`` int32 (height, width), -1 = none.
        Files: ``path`` and ``truth_path``.

    Raises
    ------
    ValueError
        Invalid parameters (naming the parameter and its allowed range), a path without
        ``.imzML`` in imzML modes, an m/z range too crowded for the peaks.
    OSError
        An output exists and ``overwrite`` is False, or cannot be written.

    Examples
    --------
    >>> truth = simulate_tissue("sim.imzML", random_state=1)           # doctest: +SKIP
    >>> stack = IonImageStack.from_imzml("sim.imzML", truth["mz"], tol_ppm=2)  # doctest: +SKIP
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not isinstance(random_state, numbers.Integral):
        raise ValueError(f"random_state must be an integer, got {random_state!r}")
    o = _core.SimulatedTissueOptions()
    o.width, o.height = _count(width, "width"), _count(height, "height")
    o.n_molecules = _count(n_molecules, "n_molecules")
    o.n_ion_images = 0 if n_ion_images is None else _count(n_ion_images, "n_ion_images")
    o.n_regions, o.n_nodules = _count(n_regions, "n_regions"), _count(n_nodules, "n_nodules")
    o.n_layers, o.n_gradients = _count(n_layers, "n_layers"), _count(n_gradients, "n_gradients")
    o.min_isotopes, o.max_isotopes = (_count(v, "isotopes") for v in _pair(isotopes, "isotopes"))
    o.mz_min, o.mz_max = (float(v) for v in _pair(mz_range, "mz_range"))
    o.n_shoulder_pairs = _count(n_shoulder_pairs, "n_shoulder_pairs")
    for name, value in [("nodule_radius", nodule_radius), ("isotope_spacing", isotope_spacing),
                        ("resolving_power", resolving_power), ("min_peak_separation", min_peak_separation),
                        ("shoulder_offset", shoulder_offset), ("points_per_fwhm", points_per_fwhm),
                        ("peak_window", peak_window), ("intensity_scale", intensity_scale), ("noise", noise),
                        ("detection_limit", detection_limit),
                        ("hotspot_fraction", hotspot_fraction), ("pixel_size", pixel_size)]:
        setattr(o, name, float(value))
    o.tissue_mask = bool(tissue_mask)
    o.output = mode
    o.seed = int(random_state) % 2**64
    o.num_threads = num_threads(n_jobs)
    o.overwrite = bool(overwrite)
    o.validate()  # the C++ message names the field

    bar = ProgressBar("simulate", "ion images" if mode == "png" else "spectra") if verbose else None
    try:
        truth = _core.simulate_tissue(str(path), o, bar)
    finally:
        if bar is not None:
            bar.close()
    truth["path"] = str(path)
    truth["truth_path"] = str(_truth_path(path, mode))
    return truth


def load_truth(path):
    """Read a ``<stem>_truth.json`` written by :func:`simulate_tissue`.

    Returns a dict with the per-ion arrays (``mz``, ``molecule``, ``isotope``, ``pattern``,
    ``shoulder``, ``abundance``, ``png_max`` when present) as NumPy arrays, ``kind`` as a list,
    ``patterns`` (list of dicts), ``molecules``, ``options`` and ``output`` as stored.
    Pattern maps are not stored; :func:`simulate_tissue` with the same options recomputes them.

    Raises
    ------
    ValueError
        ``path`` is not a truth file (e.g. the ``.imzML``, ``.ibd`` or the PNG folder itself:
        the message names the truth file next to it).
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in (".imzml", ".ibd"):
        truth = _truth_path(path if path.is_dir() else path.with_suffix(""), "png")
        raise ValueError(f"{path}: the simulated section, not its truth file; load_truth reads {truth}, "
                         "which simulate_tissue writes next to it")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a simulated-tissue truth file (not JSON: {e})") from None
    if not isinstance(data, dict) or data.get("format") != "spatialembed.simulated_tissue":
        raise ValueError(f"{path}: not a spatialembed simulated-tissue truth file")
    ions = data["ions"]
    truth = {"mz": np.asarray(ions["mz"], np.float64), "kind": list(ions["kind"]),
             "abundance": np.asarray(ions["abundance"], np.float64)}
    for name in ("molecule", "isotope", "pattern", "shoulder"):
        truth[name] = np.asarray(ions[name], np.int32)
    truth["png_max"] = np.asarray(ions["png_max"], np.float64) if "png_max" in ions else None
    for name in ("patterns", "molecules", "options", "output"):
        truth[name] = data[name]
    return truth


def _truth_path(path, mode):
    path = Path(path)
    return path.parent / (path.name + "_truth.json" if mode == "png" else path.stem + "_truth.json")


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _pair(value, name):
    values = tuple(value) if np.ndim(value) == 1 else ()
    if len(values) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    return values
