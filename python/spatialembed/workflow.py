"""The ion-image clustering workflow end to end: an imzML file or PNG folder in; both
pipelines, their comparison and a report out (what ``spatialembed cluster-ions`` runs).

Each step is a public function so that notebooks can run, inspect or replace any of them:
:func:`load_ion_images` → :meth:`IonImageClustering.prepare` (:func:`prepare_ion_images`, once) →
:class:`IonImageClustering` per method on the prepared images → :func:`compare_clusterings`
→ :func:`write_outputs`.
"""
import codecs
import csv
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from . import __version__, _core
from ._options import fields
from .msi import ImzMLReader, IonImageStack, match_mz, peak_half_width_ppm, pick_peaks

__all__ = ["load_ion_images", "prepare_ion_images", "read_mz_list", "read_reference_grouping", "compare_clusterings", "cluster_ions",
           "write_outputs", "peak_half_width_ppm"]


_MAX_LIST_BYTES = 64 << 20  # an m/z list larger than this is not one


def _read_text(path, what):
    """The text of a small text file: UTF-8 (a byte-order mark is dropped) or UTF-16 with a
    byte-order mark; anything else raises ValueError naming the file and the offending byte."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not {what}")
    size = path.stat().st_size  # OSError (naming the file) when missing or unreadable
    if size > _MAX_LIST_BYTES:
        raise ValueError(f"{path}: {size} bytes is too large for {what} (at most {_MAX_LIST_BYTES >> 20} MiB)")
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: starts with a UTF-16 byte-order mark but is not valid UTF-16 text "
                             f"(byte offset {error.start})") from None
    if b"\x00" in data:
        raise ValueError(f"{path}: is not a text file (a NUL byte at byte offset {data.index(0)}; UTF-16 without a "
                         f"byte-order mark, or binary data); give {what} as plain text (UTF-8)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: is not UTF-8 text (byte 0x{data[error.start]:02x} at byte offset {error.start}); "
                         f"save {what} as plain text in UTF-8") from None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_mz_list(path):
    """m/z values from a text or CSV file: the first field of each line (fields separated by
    a tab, ``;``, ``,`` or spaces, in that order of precedence); blank lines, lines starting
    with ``#`` and header lines (with letters, before the first value) are skipped.

    The file is UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark
    (as spreadsheet programs save "Unicode text").

    Raises
    ------
    OSError
        The file cannot be read, or is a folder.
    ValueError
        Not text (binary, or neither UTF-8 nor UTF-16 with a byte-order mark); a line (other
        than a header) that does not start with a number, e.g. a decimal comma; several
        numbers on the only line (a list written across instead of one m/z per line); no
        value; a value that is not finite and > 0. The message names the file and the line.
    """
    text = _read_text(path, "an m/z list")
    values, rows = [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        separator = next((s for s in ("\t", ";", ",") if s in line), None)
        fields = [f.strip() for f in (line.split(separator) if separator else line.split())]
        try:
            values.append(float(fields[0]))
        except ValueError:
            if not values and any(c.isalpha() for c in fields[0]):
                continue  # a header line
            hint = ""
            if re.fullmatch(r"[+-]?\d+,\d+", fields[0]):
                hint = " (a decimal comma? write m/z with a decimal point, e.g. 500.1)"
            raise ValueError(f"{path}, line {number}: expected an m/z value, got {fields[0]!r}{hint}") from None
        rows.append((number, fields, separator))
    if not values:
        raise ValueError(f"{path}: lists no m/z value")
    number, fields, separator = rows[0]
    if len(rows) == 1 and len(fields) > 1 and all(_is_number(f) for f in fields):
        name = {"\t": "tabs", ";": "';'", ",": "','", None: "spaces"}[separator]
        shown = ", ".join(fields[:4]) + (", …" if len(fields) > 4 else "")
        raise ValueError(f"{path}, line {number}: {len(fields)} numbers separated by {name} ({shown}) on the only "
                         f"line; give one m/z per line (of a table, the first column is read)")
    mz = np.asarray(values)
    bad = ~np.isfinite(mz) | (mz <= 0)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"{path}, line {rows[k][0]}: m/z values must be finite and > 0, got {rows[k][1][0]!r}")
    return mz


def load_ion_images(path, *, mz_list=None, top_n=100, snr=3.0, half_window=20, bin_ppm=5.0, tolerance=None,
                    tolerance_unit="ppm", normalization="none", n_jobs=None, log=None, prepare=None,
                    max_image_pixels=None):
    """Ion images of an imzML file (continuous or processed) or a PNG folder.

    imzML: the mean spectrum over all pixels (processed data on ``bin_ppm`` bins), then the
    ion images of ``mz_list`` or of the ``top_n`` most intense peaks of the mean spectrum
    (:func:`pick_peaks` with ``snr`` and ``half_window``), each summing the intensities within
    ``tolerance`` of its m/z. PNG folder: every ``<m/z>.png`` (or those within ``tolerance``
    of ``mz_list``).

    Parameters
    ----------
    path : str or os.PathLike
        An ``.imzML`` file or a folder of PNG ion images.
    mz_list : array-like of float, optional
        m/z to image; values outside the data's m/z range are dropped with a warning line.
    top_n : int, default=100
    snr : float, default=3.0
    half_window : int, default=20
        Peak picking on the mean spectrum, in points of the spectrum.
    bin_ppm : float, default=5.0
        Bin width of the mean spectrum of processed (centroid) data.
    tolerance : float, default=None
        Half-width of each ion image's m/z window in ``tolerance_unit``; None = half the
        median FWHM of the picked peaks in the mean spectrum (imzML), 10 ppm for ``mz_list``
        without peaks to measure, or for PNG folders.
    tolerance_unit : {"ppm", "da"}
    normalization : {"none", "tic", "rms"}
        Per-pixel spectrum normalisation before the ion images are cut.
    n_jobs : int, optional
    log : callable, optional
        Receives one line per step (the CLI prints them).
    prepare : dict, optional
        Preprocessing options (any field of the C++ ``PreprocessOptions`` but ``num_threads``):
        return the images prepared for clustering (:class:`PreparedIonImages`), cut or decoded
        in C++ straight into the prepared buffer — the only copy of the images there is.
    max_image_pixels : int, optional
        PNG folder: the largest image read (width × height, checked from each PNG's header
        before decoding); None = the C++ default, 2**27.

    Returns
    -------
    stack : IonImageStack, or PreparedIonImages with ``prepare``
    mean_spectrum : tuple (mz, intensities) of ndarray, or None for a PNG folder
    facts : dict
        What was read and chosen (input, mode, pixels, m/z selection, tolerance).

    Raises
    ------
    OSError
        ``path`` does not exist or cannot be read.
    ValueError
        A corrupt file, an imzML with no spectra, no m/z inside the data, no peak found.
    """
    log = log or (lambda line: None)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_png_folder(path, mz_list, tolerance, tolerance_unit, log, prepare, n_jobs, max_image_pixels)
    with ImzMLReader(path) as reader:
        if len(reader) == 0:
            raise ValueError(f"{path}: the imzML file holds no spectra")
        facts = {"input": str(path), "format": "imzML", "mode": reader.mode, "spectra": len(reader)}
        start = time.perf_counter()
        mean_mz, mean = reader.mean_spectrum(bin_ppm=bin_ppm, n_jobs=n_jobs)
        lo, hi = reader.mz_range()
        log(f"mean spectrum: {len(mean_mz)} points, m/z {lo:.2f}-{hi:.2f} ({time.perf_counter() - start:.1f} s)")
        peaks = pick_peaks(mean_mz, mean, snr=snr, half_window=half_window, top_n=top_n)
        if mz_list is None:
            mz = peaks["mz"]
            if len(mz) == 0:
                raise ValueError(f"{path}: no peak in the mean spectrum at snr {snr}; lower --snr or give --mz-list")
            facts["mz_selection"] = f"top {top_n} peaks of the mean spectrum (snr >= {snr}, half window {half_window})"
        else:
            mz = _inside(np.asarray(mz_list, dtype=np.float64), lo, hi, path, log)
            facts["mz_selection"] = f"{len(mz)} m/z from a list"
        if tolerance is None:
            tolerance, tolerance_unit = max(peak_half_width_ppm(mean_mz, mean, peaks["index"]), 1.0), "ppm"
            if not np.isfinite(tolerance):
                tolerance = 10.0
            facts["tolerance_auto"] = True
        start = time.perf_counter()
        kw = {"tol_da": tolerance} if tolerance_unit == "da" else {"tol_ppm": tolerance}
        if prepare is None:
            stack = IonImageStack.from_imzml(reader, mz, normalization=normalization, n_jobs=n_jobs, **kw)
        else:
            from .pipeline import PreparedIonImages
            stack = PreparedIonImages.from_imzml(reader, mz, normalization=normalization, n_jobs=n_jobs, **kw,
                                                 **prepare)
        log(f"ion images: {len(stack)} of {stack.shape[1]} x {stack.shape[2]} pixels "
            f"(tolerance {tolerance:.4g} {tolerance_unit}, {time.perf_counter() - start:.1f} s)")
    facts.update(tolerance=float(tolerance), tolerance_unit=tolerance_unit, normalization=normalization)
    return stack, (mean_mz, mean), _with_size(facts, stack)


def _with_size(facts, stack):
    n, height, width = stack.shape
    return dict(facts, pixels=int(stack.mask.sum()), ion_images=n, height=height, width=width)


def _inside(mz, lo, hi, path, log):
    outside = (mz < lo) | (mz > hi)
    if outside.all():
        raise ValueError(f"{path}: every m/z of the list ({mz.min():.4f}-{mz.max():.4f}) lies outside the data's "
                         f"m/z range {lo:.4f}-{hi:.4f}")
    if outside.any():
        log(f"warning: {outside.sum()} m/z outside the data's range {lo:.4f}-{hi:.4f} left out: "
            + ", ".join(f"{v:.4f}" for v in mz[outside][:10]) + (" …" if outside.sum() > 10 else ""))
    return mz[~outside]


def _load_png_folder(path, mz_list, tolerance, tolerance_unit, log, prepare, n_jobs, max_image_pixels):
    from .pipeline import PreparedIonImages
    facts = {"input": str(path), "format": "PNG folder"}
    start = time.perf_counter()
    if mz_list is None and prepare is not None:  # decoded in C++ straight into the prepared buffer
        stack = PreparedIonImages.from_png_dir(path, n_jobs=n_jobs, max_image_pixels=max_image_pixels, **prepare)
    else:
        stack = IonImageStack.from_png_dir(path, max_image_pixels=max_image_pixels)
        if mz_list is not None:
            keep = match_mz(stack.mz, mz_list, tolerance=10.0 if tolerance is None else tolerance,
                            unit=tolerance_unit) >= 0
            if not keep.any():
                raise ValueError(f"{path}: no image's m/z matches the m/z list")
            stack = IonImageStack(stack.images[keep], stack.mask, stack.mz[keep])
            facts["mz_selection"] = f"{keep.sum()} images matching an m/z list"
        if prepare is not None:
            stack = PreparedIonImages(stack, n_jobs=n_jobs, **prepare)
    n, height, width = stack.shape
    log(f"ion images: {n} PNGs of {height} x {width} pixels ({time.perf_counter() - start:.1f} s)")
    return stack, None, _with_size(facts, stack)


def read_reference_grouping(path, mz, *, tolerance=10.0, tolerance_unit="ppm"):
    """A grouping of the ion images to compare with: labels per m/z (−1 = not in the reference).

    Reads a simulated-tissue truth file (``*_truth.json`` of :func:`simulate_tissue`: the
    truth pattern of each ion) or a GRINE communities file (``grine_communities.json``:
    ``c_nodes[].nodes[].name`` = m/z). Ion images are matched to the reference by m/z.

    Returns
    -------
    labels : ndarray of shape (len(mz),), int64
    name : str
        "truth" or "GRINE".
    """
    try:
        data = json.loads(_read_text(path, "a reference grouping (JSON)"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    mz = np.asarray(mz, np.float64)
    if isinstance(data, dict) and data.get("format") == "spatialembed.simulated_tissue":
        ref_mz = np.asarray(data["ions"]["mz"], np.float64)
        ref_label = np.asarray(data["ions"]["pattern"], np.int64)
        name = "truth"
    elif isinstance(data, dict) and "c_nodes" in data:
        pairs = [(float(node["name"]), c) for c, community in enumerate(data["c_nodes"]) for node in community["nodes"]]
        ref_mz = np.array([p[0] for p in pairs])
        ref_label = np.array([p[1] for p in pairs], np.int64)
        name = "GRINE"
    else:
        raise ValueError(f"{path}: neither a simulated-tissue truth file nor a GRINE communities file")
    index = match_mz(mz, ref_mz, tolerance=tolerance, unit=tolerance_unit)
    return np.where(index >= 0, ref_label[np.maximum(index, 0)], -1), name


def compare_clusterings(results, reference=None):
    """Agreement between the methods' clusterings (and with a reference grouping).

    ARI and NMI over the ion images both clusterings consider (non-empty; noise kept as a
    label of its own, −1), as :func:`sklearn.metrics.adjusted_rand_score` and
    :func:`~sklearn.metrics.normalized_mutual_info_score` compute them.

    Parameters
    ----------
    results : dict of str to IonImageClusteringResult
    reference : tuple (labels, name), optional
        From :func:`read_reference_grouping`; images absent from it (−1) are left out.

    Returns
    -------
    dict of str to float, e.g. ``{"ARI nn vs umap_only": 0.41, "NMI nn vs truth": 0.93}``
    """
    from .metrics import adjusted_rand_score, normalized_mutual_info_score
    out = {}
    names = list(results)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            keep = ~results[a].empty & ~results[b].empty
            out[f"ARI {a} vs {b}"] = adjusted_rand_score(results[a].labels[keep], results[b].labels[keep])
            out[f"NMI {a} vs {b}"] = normalized_mutual_info_score(results[a].labels[keep], results[b].labels[keep])
    if reference is not None:
        labels, ref_name = reference
        for a in names:
            keep = ~results[a].empty & (labels >= 0)
            out[f"ARI {a} vs {ref_name}"] = adjusted_rand_score(labels[keep], results[a].labels[keep])
            out[f"NMI {a} vs {ref_name}"] = normalized_mutual_info_score(labels[keep], results[a].labels[keep])
    return {k: float(v) for k, v in out.items()}


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return repr(value)


def write_outputs(folder, stack, results, *, mean_spectrum=None, facts=None, comparison=None, report=True):
    """Writes a run's files into ``folder`` (which must exist and be empty):

    - ``clusters.csv``: per ion image its m/z, whether it was empty, and per method its
      cluster label (−1 = noise/empty) and 3-D coordinates (and, for HDBSCAN, its membership
      probability);
    - ``condensed_tree_<method>.csv``: HDBSCAN's condensed tree (parent, child, lambda_val,
      child_size; point nodes index the non-empty images in input order);
    - ``embedding.npy``: (n_images, 3) float32 of the first method (``embedding_<method>.npy``
      for each further one);
    - ``features.npy``: (n_images, 2048) float32 CNN features (method nn);
    - ``params.json``: input facts, every parameter, chosen eps, timings, evaluation, comparison;
    - ``report.html`` (when ``report``): the self-contained report.

    ``stack`` (IonImageStack or PreparedIonImages) is only used by the report.
    """
    folder = Path(folder)
    names = list(results)
    first = results[names[0]]
    with open(folder / "clusters.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["mz", "empty"]
        for name in names:
            header += [f"label_{name}"] + [f"{name}_{axis}" for axis in "xyz"[:results[name].embedding.shape[1]]]
            if getattr(results[name], "probabilities", None) is not None:
                header.append(f"probability_{name}")
        writer.writerow(header)
        for k, mz in enumerate(first.mz):
            row = [repr(float(mz)), int(first.empty[k])]
            for name in names:
                row += [int(results[name].labels[k])] + [f"{v:.6g}" for v in results[name].embedding[k]]
                if getattr(results[name], "probabilities", None) is not None:
                    row.append(f"{results[name].probabilities[k]:.6g}")
            writer.writerow(row)
    for name in names:
        tree = getattr(results[name], "condensed_tree", None)
        if tree is not None:
            with open(folder / f"condensed_tree_{name}.csv", "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(tree.dtype.names)
                writer.writerows((int(p), int(c), repr(float(l)), int(s)) for p, c, l, s in tree.tolist())
    for i, name in enumerate(names):
        np.save(folder / ("embedding.npy" if i == 0 else f"embedding_{name}.npy"), results[name].embedding)
        if results[name].features is not None:
            np.save(folder / "features.npy", results[name].features)
    params = {"spatialembed": __version__, "input": facts or {}, "comparison": comparison or {},
              "methods": {name: {"params": r.params, "timings": r.timings,
                                 "evaluation": {k: v for k, v in r.evaluation.items() if k != "k_distances"}}
                          for name, r in results.items()}}
    with open(folder / "params.json", "w", encoding="utf-8") as f:
        json.dump(_json_ready(params), f, indent=2)
    if report:
        from .report import write_report
        title = f"Ion-image clustering: {Path((facts or {}).get('input', 'ion images')).name}"
        shown = {k: v for k, v in (facts or {}).items() if k not in ("pixels", "ion_images", "height", "width")}
        write_report(folder / "report.html", stack, results, mean_spectrum=mean_spectrum, title=title,
                     dataset=shown, comparison=comparison)  # the report adds size and counts itself


def prepare_ion_images(input, clustering_options=None, *, load_options=None, log=None):
    """:func:`load_ion_images` with ``prepare`` set from the preprocessing options of
    ``clustering_options``: the images are cut (imzML) or decoded (PNG folder) in C++ straight
    into the prepared buffer, so peak memory ≈ n_images × height × width × 4 bytes, the stack
    itself. (A PNG folder with an m/z list is loaded, filtered and copied once.)

    Returns
    -------
    prepared : PreparedIonImages
    mean_spectrum : tuple (mz, intensities) or None
    facts : dict
    """
    options = clustering_options or {}
    prepare = {k: options[k] for k in fields(_core.PreprocessOptions) if k != "num_threads" and k in options}
    load_options = dict(load_options or {})
    load_options.setdefault("n_jobs", options.get("n_jobs"))
    return load_ion_images(input, log=log, prepare=prepare, **load_options)


def default_isotope_tolerance(facts):
    """The tolerance for pairing isotopes among the ion images: 10 ppm for imzML data (where
    isotopes are resolved at all), 0.02 Da for PNG folders, whose file names carry m/z
    rounded to a few decimals and often picked from binned spectra (the shared bladder and
    glioblastoma stacks' isotopes lie 0.01–0.02 Da off the 1.00336 spacing)."""
    if facts.get("format") == "PNG folder":
        return {"isotope_tolerance": 0.02, "isotope_unit": "da"}
    return {"isotope_tolerance": 10.0, "isotope_unit": "ppm"}


def cluster_ions(input, out, *, methods=("nn", "umap_only"), overwrite=False, reference=None, report=True,
                 load_options=None, clustering_options=None, log=None):
    """Runs the whole workflow and writes its files into the folder ``out``.

    The files are written into a temporary folder beside ``out`` and moved into place only
    when everything succeeded, so an interrupted or failed run leaves no half-written result.
    The folder gets a marker file (``.spatialembed-output``) that lets a later ``overwrite``
    replace it; ``overwrite`` never replaces anything else (see Raises).

    Parameters
    ----------
    input : str or os.PathLike
        imzML file or PNG folder (see :func:`load_ion_images`).
    out : str or os.PathLike
        Output folder; must not exist unless ``overwrite`` (it is then replaced, when safe).
    methods : sequence of {"nn", "umap_only"}
    reference : str or os.PathLike, optional
        A truth or GRINE file to compare with (:func:`read_reference_grouping`).
    load_options : dict, optional
        Keyword arguments of :func:`load_ion_images`.
    clustering_options : dict, optional
        Keyword arguments of :class:`IonImageClustering` (for every method).
    log : callable, optional
        Receives progress lines.

    Returns
    -------
    dict with ``results`` (method → IonImageClusteringResult), ``comparison``, ``facts``, ``out``.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``overwrite`` is False.
    UnsafeOutputError
        (an OSError) ``overwrite`` is True but ``out`` may not be replaced: it is the input or
        the reference, a folder that holds one of them or the working folder, a symbolic
        link, not a folder, or a non-empty folder without the marker of an earlier
        spatialembed run. Checked before any work.
    OSError, ValueError
        As the steps raise them; nothing is left in ``out``.
    """
    from ._core import OutputStaging, check_output_path
    from .pipeline import IonImageClustering
    log = log or (lambda line: None)
    out = Path(out)
    inputs = [os.fspath(input)] + ([os.fspath(reference)] if reference is not None else [])
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"{out}: the output folder exists; choose another or pass --overwrite")
    check_output_path(out, "folder", overwrite, inputs)  # before the long work: UnsafeOutputError says why not
    clustering_options = dict(clustering_options or {})
    prepared, spectrum, facts = prepare_ion_images(input, clustering_options, load_options=load_options, log=log)
    if clustering_options.get("isotope_tolerance") is None:
        clustering_options.update(default_isotope_tolerance(facts))
    results = {}
    for method in methods:  # every method reads the one prepared copy of the images
        start = time.perf_counter()
        model = IonImageClustering(method, **clustering_options).fit(prepared)
        results[method] = model.result_
        e, p = model.result_.evaluation, model.result_.params
        how = (f"HDBSCAN min_cluster_size {p.get('hdbscan__min_cluster_size')}" if model.result_.clusterer == "hdbscan"
               else f"eps {p['eps']:.3g}{' (auto)' if p['eps_auto'] else ''}")
        log(f"{method}: {e['n_clusters']} clusters, noise {e['noise_fraction']:.0%}, {how} "
            f"({time.perf_counter() - start:.1f} s)")
    ref = None
    if reference is not None:
        ref = read_reference_grouping(reference, prepared.mz, tolerance=facts.get("tolerance", 10.0),
                                      tolerance_unit=facts.get("tolerance_unit", "ppm"))
        facts["reference"] = f"{ref[1]}: {reference} ({int((ref[0] >= 0).sum())} ion images matched)"
    comparison = compare_clusterings(results, ref)
    # The one output mechanism of spatialembed (C++ OutputStaging, as `simulate` uses): written into a
    # hidden temporary folder beside `out`, marked, and renamed into place only when complete.
    with OutputStaging(overwrite, inputs) as staging:
        folder = staging.add(out, "folder")
        write_outputs(folder, prepared, results, mean_spectrum=spectrum, facts=facts, comparison=comparison,
                      report=report)
        staging.commit()
    log(f"wrote {out}")
    return {"results": results, "comparison": comparison, "facts": facts, "out": out}
