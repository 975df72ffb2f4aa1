"""Mass spectrometry imaging input: imzML reading and writing, ion images, spectra processing.

Everything here runs in the C++ core (``spatialembed._core``); arrays come back as NumPy
arrays without copies where the memory allows. Errors: ``OSError`` for files that cannot be
opened or read, ``ValueError`` for malformed files (naming the file and the byte offset or
XML element) and invalid arguments.
"""
import warnings

import numpy as np

from . import _core
from ._options import fields, fill
from ._validation import num_threads, tolerance as parse_tolerance

# The C++ defaults, read once from the bound options structs.
_IMZML = _core.ImzMLOptions()
_MEAN_SPECTRUM = _core.MeanSpectrumOptions()
_PEAKS = _core.PeakPickingOptions()
_ISOTOPES = _core.IsotopePairOptions()
_ION_IMAGES = _core.IonImageOptions()
_WRITER = _core.ImzMLWriterOptions()

__all__ = ["ImzMLReader", "ImzMLWriter", "IonImageStack", "pick_peaks", "isotope_pairs", "peak_half_width_ppm",
           "match_mz"]


class ImzMLReader:
    """An imzML dataset (``.imzML`` XML + ``.ibd`` binary), continuous or processed mode.

    The XML is parsed once into a compact index; spectra are read from the ``.ibd`` on demand
    (never the whole file). Use as a context manager or call :meth:`close`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.imzML`` file.
    ibd_path : str or os.PathLike, optional
        The binary file; default: ``path`` with the extension ``.ibd``.
    check_uuid : bool, default=True
        Compare the UUID in the XML with the first 16 bytes of the ``.ibd``.
    verify_checksum : bool, default=False
        Hash the whole ``.ibd`` at open and compare with the XML's SHA-1 (or MD5).

    Attributes
    ----------
    coordinates : ndarray of shape (n_spectra, 3), int32
        Pixel (x, y, z) of each spectrum, 1-based as in the file.
    mode : {"continuous", "processed"}
    metadata : dict
        uuid, sha1, md5, max_count_x/y, pixel_size_x/y (micrometres, NaN if absent), dtypes.
    stored_tic : ndarray of shape (n_spectra,), float64
        The TIC each spectrum states in the XML (MS:1000285), NaN when absent.

    Examples
    --------
    >>> with ImzMLReader("kidney.imzML") as reader:           # doctest: +SKIP
    ...     mz, intensities = reader.mz(0), reader.intensities(0)
    ...     mean_mz, mean = reader.mean_spectrum()
    """

    def __init__(self, path, ibd_path=None, *, check_uuid=_IMZML.check_uuid, verify_checksum=_IMZML.verify_checksum):
        options = fill(_core.ImzMLOptions(), dict(ibd_path="" if ibd_path is None else str(ibd_path),
                                                  check_uuid=check_uuid, verify_checksum=verify_checksum))
        self._reader = _core.ImzMLReader(str(path), options)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Release the files; the reader cannot be used afterwards."""
        self._reader = None

    @property
    def _r(self):
        if self._reader is None:
            raise ValueError("the ImzMLReader is closed")
        return self._reader

    def __len__(self):
        return len(self._r)

    def __repr__(self):
        if self._reader is None:
            return "ImzMLReader(closed)"
        return f"ImzMLReader({self._r.path!r}, {len(self)} spectra, {self.mode})"

    path = property(lambda self: self._r.path)
    ibd_path = property(lambda self: self._r.ibd_path)
    mode = property(lambda self: self._r.mode)
    metadata = property(lambda self: self._r.metadata)
    coordinates = property(lambda self: self._r.coordinates)
    stored_tic = property(lambda self: self._r.stored_tic)

    @property
    def lengths(self):
        """Number of (m/z, intensity) values of each spectrum, int64."""
        return self._r.lengths

    def mz(self, i):
        """m/z values of spectrum ``i`` (float64)."""
        return self._r.mz(int(i))

    def intensities(self, i):
        """Intensities of spectrum ``i`` (float64, converted from the file's type)."""
        return self._r.intensities(int(i))

    def tic(self, i):
        """Total ion current of spectrum ``i``: the sum of its intensities."""
        return self._r.tic(int(i))

    def mz_range(self):
        """(smallest, largest) m/z over all spectra."""
        return self._r.mz_range()

    def verify_checksum(self):
        """Hash the ``.ibd`` and compare with the XML's SHA-1/MD5; raises ValueError on mismatch."""
        self._r.verify_checksum()

    def mean_spectrum(self, *, aggregate=_MEAN_SPECTRUM.aggregate, bin_ppm=_MEAN_SPECTRUM.bin_ppm,
                      normalization=_MEAN_SPECTRUM.normalization, n_jobs=None):
        """Mean (or max) spectrum over all pixels.

        Continuous mode: on the shared m/z axis. Processed mode: on geometric bins of
        ``bin_ppm`` ppm from the smallest to the largest m/z (every bin returned, empty = 0).

        Parameters
        ----------
        aggregate : {"mean", "max"}
        bin_ppm : float, default=5.0
            Bin width for processed mode, ppm.
        normalization : {"none", "tic", "rms"}
            Normalisation of each pixel's spectrum before aggregation.
        n_jobs : int, optional
            Threads (None or -1 = all cores). The result does not depend on it.

        Returns
        -------
        mz, intensities : ndarray of shape (n_bins,), float64
        """
        options = fill(_core.MeanSpectrumOptions(), dict(aggregate=aggregate, bin_ppm=bin_ppm,
                                                         normalization=normalization, num_threads=num_threads(n_jobs)))
        return self._r.mean_spectrum(options)

    def ion_images(self, mz, *, tol_ppm=None, tol_da=None, aggregate=_ION_IMAGES.aggregate,
                   normalization=_ION_IMAGES.normalization, n_jobs=None):
        """Ion images of every m/z in ``mz`` in one pass; see :meth:`IonImageStack.from_imzml`."""
        return IonImageStack.from_imzml(self, mz, tol_ppm=tol_ppm, tol_da=tol_da, aggregate=aggregate,
                                        normalization=normalization, n_jobs=n_jobs)


class ImzMLWriter:
    """Writes an imzML dataset spectrum by spectrum (the ``.ibd`` is streamed).

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.imzML`` path; the ``.ibd`` goes next to it.
    mode : {"processed", "continuous"}
        Continuous: every spectrum shares the first spectrum's m/z array.
    mz_dtype : {"float64", "float32"}
    intensity_dtype : {"float32", "float64", "int32", "int64"}
    centroid : bool, default=False
    pixel_size : float or (float, float), optional
        Micrometres (x, y).
    uuid : str, optional
        32 hex digits; default random.
    """

    def __init__(self, path, *, mode=_WRITER.mode, mz_dtype=_WRITER.mz_type, intensity_dtype=_WRITER.intensity_type,
                 centroid=_WRITER.centroid, pixel_size=None, uuid=_WRITER.uuid):
        px, py = (np.nan, np.nan) if pixel_size is None else np.broadcast_to(np.asarray(pixel_size, float), (2,))
        options = fill(_core.ImzMLWriterOptions(), dict(
            mode=mode, mz_type=np.dtype(mz_dtype).name, intensity_type=np.dtype(intensity_dtype).name,
            centroid=centroid, pixel_size_x=float(px), pixel_size_y=float(py), uuid=uuid))
        self._writer = _core.ImzMLWriter(str(path), options)

    def add_spectrum(self, coordinate, mz, intensities):
        """Append one spectrum at pixel ``coordinate`` = (x, y) or (x, y, z), 1-based."""
        c = tuple(int(v) for v in coordinate) + (1,) * (3 - len(coordinate))
        self._writer.add_spectrum(c[0], c[1], c[2], np.ascontiguousarray(mz, np.float64),
                                  np.ascontiguousarray(intensities, np.float64))

    def close(self):
        """Write the XML and close both files."""
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()

    def __len__(self):
        return len(self._writer)

    uuid = property(lambda self: self._writer.uuid)


def ion_image_options(tol_ppm=None, tol_da=None, aggregate=_ION_IMAGES.aggregate,
                      normalization=_ION_IMAGES.normalization, n_jobs=None):
    """C++ ``IonImageOptions`` filled by name (tolerance in ppm or Da, at most one given; 10 ppm
    by default); bad values raise ValueError naming the field (C++ ``validate()``)."""
    tolerance, unit = parse_tolerance(tol_ppm, tol_da, default_ppm=_ION_IMAGES.tolerance)
    options = fill(_core.IonImageOptions(), dict(tolerance=tolerance, unit=unit, aggregate=aggregate,
                                                 normalization=normalization, num_threads=num_threads(n_jobs)))
    options.validate()
    return options


def preprocess_options(n_jobs=None, **preprocess):
    """C++ ``PreprocessOptions`` filled by name from any of its fields (``tic_normalize``,
    ``hotspot_quantile``, ``median_filter``, ``scale``, …); the others keep their C++ defaults.
    Bad values raise ValueError naming the field (C++ ``validate()``), unknown names TypeError."""
    options = _core.PreprocessOptions()
    unknown = sorted(set(preprocess) - set(fields(options)) - {"num_threads"})
    if unknown:
        raise TypeError(f"unknown preprocessing option(s) {unknown}; the options are {fields(options)}")
    fill(options, dict(preprocess, num_threads=num_threads(n_jobs)))
    options.validate()
    return options


def png_stack_options(max_image_pixels=None):
    """The C++ ``PngStackOptions``, its defaults kept where None; C++ validates."""
    options = _core.PngStackOptions()
    if max_image_pixels is not None:
        fill(options, {"max_image_pixels": max_image_pixels})
    options.validate()
    return options


class IonImageStack:
    """Ion images of one section: ``images`` (n_images, height, width) float32, ``mask``
    (height, width) bool (pixels measured), ``mz`` (n_images,) float64, ``pixel_size``
    (micrometres, x and y; NaN when unknown).

    Build it with :meth:`from_imzml`, :meth:`from_png_dir` or from NumPy arrays.
    """

    def __init__(self, images, mask=None, mz=None, *, pixel_size=(np.nan, np.nan), origin=(1, 1)):
        images = np.asarray(images)
        if images.ndim != 3:
            raise ValueError(f"images must have shape (n_images, height, width), got {images.shape}")
        self.images = np.ascontiguousarray(images, dtype=np.float32)
        self.mask = (np.ones(images.shape[1:], bool) if mask is None else np.ascontiguousarray(mask, dtype=bool))
        if self.mask.shape != images.shape[1:]:
            raise ValueError(f"mask must have shape {images.shape[1:]}, got {self.mask.shape}")
        self.mz = (np.arange(images.shape[0], dtype=np.float64) if mz is None
                   else np.ascontiguousarray(mz, dtype=np.float64))
        if self.mz.shape != (images.shape[0],):
            raise ValueError(f"mz must have shape ({images.shape[0]},), got {self.mz.shape}")
        self.pixel_size = tuple(float(v) for v in np.broadcast_to(np.asarray(pixel_size, float), (2,)))
        self.origin = tuple(int(v) for v in origin)
        self.warnings = []

    @classmethod
    def _from_core(cls, result):
        images, mask, mz, meta = result
        stack = cls.__new__(cls)
        stack.images, stack.mask, stack.mz = images, mask, mz
        stack.pixel_size = (meta["pixel_size_x"], meta["pixel_size_y"])
        stack.origin = (meta["origin_x"], meta["origin_y"])
        stack.warnings = []
        return stack

    @classmethod
    def from_imzml(cls, path, mz, *, tol_ppm=None, tol_da=None, aggregate=_ION_IMAGES.aggregate,
                   normalization=_ION_IMAGES.normalization, n_jobs=None):
        """Ion images of every m/z in ``mz``, built in one pass over the spectra.

        Pixel (x, y) of image k aggregates the intensities whose m/z lies in
        [mz_k - h, mz_k + h], h = mz_k * tol_ppm * 1e-6 or tol_da. The images cover the
        bounding box of the measured pixels. An m/z outside the data gives an all-zero image
        and a ``UserWarning``.

        Parameters
        ----------
        path : str, os.PathLike or ImzMLReader
        mz : array-like of shape (n_images,)
        tol_ppm, tol_da : float
            Window half-width in ppm or Da (one of them; default 10 ppm).
        aggregate : {"sum", "max"}
        normalization : {"none", "tic", "rms"}
            Per-pixel normalisation of the spectrum before windowing.
        n_jobs : int, optional
            Threads (None or -1 = all cores); the result does not depend on it.
        """
        options = ion_image_options(tol_ppm, tol_da, aggregate, normalization, n_jobs)
        reader = path if isinstance(path, ImzMLReader) else ImzMLReader(path)
        mz = np.ascontiguousarray(np.atleast_1d(np.asarray(mz, dtype=np.float64)))
        result, messages = reader._r.ion_images(mz, options)
        stack = cls._from_core(result)
        for message in messages:
            warnings.warn(message, UserWarning, stacklevel=2)
        stack.warnings = list(messages)
        return stack

    @classmethod
    def from_png_dir(cls, path, *, max_image_pixels=None):
        """Ion images from a folder of PNGs named by m/z (``409.045.png``), 8 or 16 bit,
        alpha at its maximum = measured pixel; values scaled to [0, 1]. Other files are ignored.

        ``max_image_pixels`` (None = the C++ default, 2**27): a PNG whose header states more
        pixels (width × height) raises ``ValueError`` naming the file and its size, before
        anything is decoded; so does a stack needing more memory than the machine has."""
        return cls._from_core(_core.read_png_stack(str(path), png_stack_options(max_image_pixels)))

    def to_png_dir(self, path, *, bit_depth=8):
        """Write one ``<m/z>.png`` per image (grey + alpha); values are clipped to [0, 1]."""
        _core.write_png_stack(self.images, self.mask, self.mz, str(path), int(bit_depth))

    @property
    def n_images(self):
        return self.images.shape[0]

    @property
    def shape(self):
        return self.images.shape

    def __len__(self):
        return self.n_images

    def __repr__(self):
        return (f"IonImageStack({self.n_images} images of {self.images.shape[1]} x {self.images.shape[2]} pixels, "
                f"{int(self.mask.sum())} measured)")

    def pixels(self):
        """The measured pixels as a (n_measured, n_images) float32 matrix (pixel spectra)."""
        return self.images[:, self.mask].T.copy()

    def vectors(self):
        """The ion images as a (n_images, n_measured) float32 matrix (one row per image)."""
        return np.ascontiguousarray(self.images[:, self.mask])

    def preprocess(self, *, n_jobs=None, **preprocess):
        """A preprocessed copy: TIC normalisation of pixels (``tic_normalize``, default False),
        single-pixel spikes clipped to their highest measured neighbour (``remove_spikes``,
        True), hotspot clipping at the quantile over the non-zero measured pixels
        (``hotspot_quantile``, 0.99; ``hotspot_ignore_zeros=False``: over all of them),
        median filter (``median_filter``: odd window side, 0 = off), min-max scaling of each
        image to [0, 1] (``scale``, True). Unmeasured pixels stay 0. Takes any field of the C++
        ``PreprocessOptions`` by name (see :func:`preprocess_options`, docs/msi.md)."""
        images = _core.preprocess(self.images, self.mask, preprocess_options(n_jobs, **preprocess))
        out = IonImageStack(images, self.mask.copy(), self.mz.copy(), pixel_size=self.pixel_size, origin=self.origin)
        return out

    def plot(self, indices=None, *, ncols=6, size=2.0, cmap="viridis", ax=None):
        """A matplotlib grid of ion images (unmeasured pixels blank), titled by m/z.

        Parameters
        ----------
        indices : sequence of int, optional
            Which images (default: the first 24).
        Returns the matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        indices = list(range(min(self.n_images, 24))) if indices is None else list(indices)
        ncols = max(1, min(ncols, len(indices)))
        nrows = max(1, -(-len(indices) // ncols))
        height, width = self.images.shape[1:]
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * height / max(width, 1) + 0.4),
                                 squeeze=False)
        for a in axes.ravel():
            a.axis("off")
        for a, k in zip(axes.ravel(), indices):
            shown = np.where(self.mask, self.images[k], np.nan)
            a.imshow(shown, cmap=cmap, interpolation="nearest")
            a.set_title(f"m/z {self.mz[k]:.4f}", fontsize=8)
        fig.tight_layout()
        return fig


def pick_peaks(mz, intensities, *, snr=_PEAKS.snr, half_window=_PEAKS.half_window, top_n=_PEAKS.top_n):
    """Peaks of a spectrum as R MALDIquant's ``detectPeaks(method="MAD")`` finds them.

    A point is a peak when it is the largest within ``half_window`` points on each side and
    its intensity is at least ``snr`` times the noise (MAD of the spectrum; the MAD of the
    positive values when that is 0). ``top_n`` > 0 keeps the most intense.

    Returns
    -------
    dict with ``mz``, ``intensities``, ``snr`` (float64), ``index`` (int64) in increasing m/z, and ``noise``.
    """
    options = fill(_core.PeakPickingOptions(), dict(snr=snr, half_window=half_window, top_n=top_n))
    mz, y, s, index, noise = _core.pick_peaks(np.ascontiguousarray(mz, np.float64),
                                              np.ascontiguousarray(intensities, np.float64), options)
    return {"mz": mz, "intensities": y, "snr": s, "index": index, "noise": noise}


def isotope_pairs(mz, *, tol_ppm=None, tol_da=None, max_charge=_ISOTOPES.max_charge, spacing=_ISOTOPES.spacing):
    """Pairs of m/z one isotope apart: |mz[j] - mz[i] - spacing/z| within the tolerance.

    Returns an (n_pairs, 2) int64 array of (lighter, heavier) indices into ``mz`` and the
    charge of each pair (int64). Used to judge ion-image clustering: isotopes of one
    molecule should share a cluster.
    """
    tolerance, unit = parse_tolerance(tol_ppm, tol_da, default_ppm=_ISOTOPES.tolerance)
    options = fill(_core.IsotopePairOptions(), dict(tolerance=tolerance, unit=unit, max_charge=max_charge,
                                                    spacing=spacing))
    light, heavy, charge, _ = _core.isotope_pairs(np.ascontiguousarray(mz, np.float64), options)
    return np.stack([light, heavy], axis=1), charge


def peak_half_width_ppm(mz, intensities, index):
    """Median half width at half maximum of the peaks at ``index`` of a spectrum, in ppm.

    Each side's half-maximum point is interpolated linearly between the last point above half
    the peak's height and the first one at or below it. A side that reaches a valley (the
    spectrum rising again: a neighbouring peak, or a baseline above half the height) before
    falling to half ends there. Used as the automatic m/z tolerance: an ion image then
    integrates each peak over its FWHM. Runs in C++ (``msi/peak_width.hpp``).

    Parameters
    ----------
    mz, intensities : array-like of shape (n,), float64
        The spectrum, m/z increasing; finite.
    index : array-like of int
        Peak positions in the spectrum (e.g. ``pick_peaks(...)["index"]``).

    Returns
    -------
    float
        The median HWHM in ppm; NaN when no peak has a positive height.

    Raises
    ------
    ValueError
        Arrays of different lengths, an index outside the spectrum, a non-finite value.
    """
    return _core.peak_half_width_ppm(np.ascontiguousarray(mz, np.float64),
                                     np.ascontiguousarray(intensities, np.float64),
                                     np.ascontiguousarray(np.asarray(index).reshape(-1), np.int64))


def match_mz(mz, reference_mz, *, tolerance=None, unit=None):
    """For each of ``mz``, the index of the nearest ``reference_mz`` within the tolerance, else −1.

    Ties in distance go to the smaller reference m/z, equal reference values to the lowest
    index. Runs in C++ (``msi/mz_matching.hpp``).

    Parameters
    ----------
    mz : array-like of shape (n,), float64
    reference_mz : array-like of shape (m,), float64 (may be empty)
    tolerance : float, optional
        Largest accepted distance, in ``unit``; default: ``MzMatchOptions`` (10).
    unit : {"ppm", "da"}, optional
        ppm of each ``mz`` value (not of the reference) or Da; default ``MzMatchOptions`` ("ppm").

    Returns
    -------
    ndarray of shape (n,), int64

    Raises
    ------
    ValueError
        A tolerance that is not finite and > 0, an unknown unit, a non-finite m/z.
    """
    options = _core.MzMatchOptions()
    if tolerance is not None:
        options.tolerance = float(tolerance)
    if unit is not None:
        options.unit = str(unit)
    return _core.match_mz(np.ascontiguousarray(np.asarray(mz, np.float64).reshape(-1)),
                          np.ascontiguousarray(np.asarray(reference_mz, np.float64).reshape(-1)), options)
