"""A self-contained HTML report of an ion-image clustering run.

:func:`write_report` turns one or two :class:`~spatialembed._result.IonImageClusteringResult`
("nn", "umap_only"; Zhang et al., *Anal Bioanal Chem* 413:2803, 2021) into a single HTML file:
inline CSS, every figure an embedded base64 PNG, no JavaScript and no external reference, so
it opens offline and can be mailed or archived as one file. :func:`render_screenshot` renders
such a file to a PNG with headless Chromium (for tests and thumbnails).

matplotlib is imported only when a report is written (``import spatialembed`` stays light), and
the figures are drawn on standalone Agg canvases: pyplot's global state and the user's backend
are left alone.
"""
import base64
import datetime
import html
import io
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["write_report", "render_screenshot"]

ISOTOPE_SPACING = 1.00336  # Da, 13C - 12C
_METHOD_NAMES = {"nn": "NN-based (CNN features → UMAP → DBSCAN)",
                 "umap_only": "UMAP-only (raw pixels → UMAP → DBSCAN)"}
_STAGES = ("preprocess", "embed", "umap", "dbscan", "hdbscan", "total")
_NOISE_COLOR = "#9a9a9a"
_EMPTY_COLOR = "#d0d0d0"


# --------------------------------------------------------------------------------------------
# public API

def write_report(path, stack, results, *, mean_spectrum=None, title=None, dataset=None, comparison=None,
                 overwrite=False, max_clusters=30, max_members=8, max_isotope_panels=6, isotope_tol_ppm=None,
                 isotope_tol_da=None):
    """Write a self-contained HTML report of an ion-image clustering run.

    The report shows, per method: a summary table (clusters, noise share, silhouette, isotope
    co-clustering, eps, timings per stage); the caller's comparison numbers; the mean spectrum
    with every clustered ion's m/z marked in its cluster's colour; zoomed isotope patterns
    (pairs 1.00336 Da apart) coloured by cluster; a gallery of each cluster's mean image and
    member ion images; and the 3-D embedding coloured by cluster. With two methods their
    galleries and embeddings are shown side by side.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.html`` file to write. Its folder must exist.
    stack : IonImageStack or PreparedIonImages
        The clustered ion images: ``images`` (n_images, height, width) float32, ``mask``
        (height, width) bool, ``mz`` (n_images,); or the :class:`PreparedIonImages` the runs
        used (thumbnails are then the preprocessed images, ``image(k)``, and the ion markers
        without a spectrum sit at its ``mean_intensity``). Each member image is shown scaled to
        its 99th percentile over the measured pixels. Only the shown images are read: memory
        stays O(n_images + thumbnails) whatever the stack's size.
    results : dict of str to IonImageClusteringResult, or one IonImageClusteringResult
        Method name ("nn", "umap_only") → result of a run on ``stack`` (one or two methods;
        more are shown one after the other). Each result's ``mz`` must have ``n_images`` entries.
    mean_spectrum : (mz, intensities) pair of 1-D arrays, optional
        The dataset's mean spectrum (absent for PNG-folder input; the ion markers are then
        drawn at each ion image's mean intensity).
    title : str, optional
        Page title; default "Ion-image clustering report".
    dataset : dict, optional
        Facts shown at the top (input path, pixels, mode, …); image size, measured pixels,
        number of ion images and m/z range are added when not given.
    comparison : dict, optional
        Numbers comparing the methods (e.g. ``{"ARI nn vs umap_only": 0.41}``) and optionally
        scores against a ground truth; nested dicts are shown as "group / key".
    overwrite : bool, default=False
        Replace an existing file at ``path``.
    max_clusters : int, default=30
        Clusters shown in each gallery (the others are counted in a note).
    max_members : int, default=8
        Member ion images shown per cluster: those nearest the cluster's centre in the
        embedding, in increasing m/z.
    max_isotope_panels : int, default=6
        Isotope pairs shown zoomed.
    isotope_tol_ppm, isotope_tol_da : float, optional
        Tolerance for finding isotope pairs by m/z spacing (1.00336 Da), in ppm or Da (one of
        them). Default: ``params["isotope_tolerance"]`` in ``params["isotope_unit"]`` of the
        first result; else the first of 10 ppm, 0.01, 0.02, 0.05 Da that finds as many pairs as
        ``evaluation["isotope_pairs"]`` counts (10 ppm when none does). Index pairs given in
        ``evaluation["isotope_pairs"]`` (an (n_pairs, 2) int array) are used as they are.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        ``results`` is empty or does not match ``stack``; a malformed ``mean_spectrum``.

    Notes
    -----
    The file is written to a temporary file in the same folder and moved into place when
    complete, so an interrupted run never leaves a half-written report.
    """
    path = Path(os.fspath(path))
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    results = _check_results(stack, results)
    spectrum = _check_spectrum(mean_spectrum)
    if int(max_clusters) < 1 or int(max_members) < 0 or int(max_isotope_panels) < 0:
        raise ValueError(f"max_clusters must be >= 1 and max_members, max_isotope_panels >= 0, got "
                         f"{max_clusters}, {max_members}, {max_isotope_panels}")
    document = _Report(stack, results, spectrum, title, dataset, comparison, int(max_clusters), int(max_members),
                       int(max_isotope_panels), isotope_tol_ppm, isotope_tol_da).html()
    _atomic_write(path, document)
    return path


def render_screenshot(html_path, png_path, *, width=1400, height=2000, timeout=120, executable=None):
    """Render an HTML file to a PNG of ``width`` × ``height`` pixels with headless Chromium.

    Runs ``chromium --headless --no-sandbox --disable-gpu --screenshot=… --window-size=…``
    with a throw-away profile. Only the top ``height`` pixels of the page are captured.

    Parameters
    ----------
    html_path : str or os.PathLike
        The page to render.
    png_path : str or os.PathLike
        The screenshot to write (replaced if it exists).
    width, height : int
        Viewport size in CSS pixels (= screenshot size; the device scale factor is 1).
    timeout : float, default=120
        Seconds before Chromium is stopped.
    executable : str, optional
        The browser binary; default ``chromium`` or ``chromium-browser`` on PATH.

    Returns
    -------
    pathlib.Path
        ``png_path``.

    Raises
    ------
    FileNotFoundError
        ``html_path`` does not exist.
    RuntimeError
        Chromium is not installed (Debian: ``apt-get install chromium``), fails, times out,
        or writes no screenshot.
    """
    html_path, png_path = Path(os.fspath(html_path)).resolve(), Path(os.fspath(png_path)).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"{html_path} not found")
    if int(width) < 1 or int(height) < 1:
        raise ValueError(f"width and height must be >= 1, got {width} x {height}")
    binary = executable or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary or (executable and not shutil.which(executable)):
        raise RuntimeError(f"Chromium not found ({executable or 'chromium, chromium-browser'} not on PATH); "
                           "install it with `apt-get install chromium`")
    if png_path.exists():
        png_path.unlink()
    with tempfile.TemporaryDirectory(prefix="spatialembed-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                   "--force-device-scale-factor=1", f"--user-data-dir={profile}",
                   f"--window-size={int(width)},{int(height)}", f"--screenshot={png_path}", html_path.as_uri()]
        try:
            run = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=timeout, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium did not finish rendering {html_path} within {timeout} s") from None
        except OSError as error:
            raise RuntimeError(f"could not run Chromium ({binary}): {error}") from None
    if run.returncode != 0 or not png_path.is_file() or png_path.stat().st_size == 0:
        tail = (run.stderr or b"").decode(errors="replace").strip().splitlines()[-8:]
        raise RuntimeError(f"Chromium failed to render {html_path} (exit status {run.returncode}, "
                           f"screenshot {'missing' if not png_path.is_file() else 'empty'}): " + " | ".join(tail))
    return png_path


# --------------------------------------------------------------------------------------------
# input checks and file handling

def _check_results(stack, results):
    for attribute in ("images", "mask", "mz"):
        if not hasattr(stack, attribute):
            raise ValueError(f"stack must be an IonImageStack (images, mask, mz), got {type(stack).__name__}")
    if hasattr(results, "labels") and hasattr(results, "method"):
        results = {results.method: results}
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of method name -> IonImageClusteringResult")
    n_images = len(np.asarray(stack.mz))
    for name, result in results.items():
        labels = np.asarray(result.labels)
        if labels.shape != (n_images,) or np.asarray(result.mz).shape != (n_images,):
            raise ValueError(f"results[{name!r}] has {labels.shape[0] if labels.ndim else 0} labels and "
                             f"{np.size(result.mz)} m/z values, but the stack has {n_images} ion images")
        if np.asarray(result.embedding).shape[0] != n_images:
            raise ValueError(f"results[{name!r}].embedding has {np.asarray(result.embedding).shape[0]} rows, "
                             f"expected {n_images}")
    return {str(name): result for name, result in results.items()}


def _check_spectrum(mean_spectrum):
    if mean_spectrum is None:
        return None
    try:
        mz, intensities = mean_spectrum
    except (TypeError, ValueError):
        raise ValueError("mean_spectrum must be a pair (mz, intensities)") from None
    mz, intensities = np.asarray(mz, np.float64).ravel(), np.asarray(intensities, np.float64).ravel()
    if mz.shape != intensities.shape or mz.size < 2:
        raise ValueError(f"mean_spectrum: mz and intensities must be 1-D of one length >= 2, got "
                         f"{np.shape(mean_spectrum[0])} and {np.shape(mean_spectrum[1])}")
    order = np.argsort(mz, kind="stable")
    intensities = np.nan_to_num(intensities[order], nan=0.0, posinf=0.0, neginf=0.0)
    return mz[order], intensities


def _atomic_write(path, text):
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------------------------
# small helpers

def _e(value):
    return html.escape(str(value), quote=True)


def _fmt(value):
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u2009")
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"
    if isinstance(value, np.ndarray):
        return f"array {value.shape}" if value.size > 8 else str(value.tolist())
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"{type(value).__name__} of {len(value)}"
    return str(value)


def _method_label(name, clusterer="dbscan"):
    label = _METHOD_NAMES.get(name, name)
    return label.replace("→ DBSCAN", "→ HDBSCAN") if clusterer == "hdbscan" else label


def _cluster_colors(n):
    """A qualitative palette of ``n`` hex colours (tab10, then tab20 + tab20b + tab20c, cycling)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if n <= 10:
        base = [to_hex(c) for c in colormaps["tab10"].colors]
    else:
        base = [to_hex(c) for name in ("tab20", "tab20b", "tab20c") for c in colormaps[name].colors]
    return [base[i % len(base)] for i in range(n)]


def _png_data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure_uri(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return _png_data_uri(buffer.getvalue())


def _image_uri(image, mask, scale, max_side=128):
    """An ion image as a palette PNG (viridis, 0 … ``scale``, unmeasured pixels transparent),
    block-averaged over the measured pixels down to at most ``max_side`` pixels a side."""
    from matplotlib import colormaps
    from PIL import Image

    values = np.where(mask, np.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0), 0.0).astype(np.float32)
    weight = mask.astype(np.float32)
    factor = max(1, math.ceil(max(values.shape) / max_side))
    if factor > 1:  # mean of the measured pixels in each factor x factor block
        height, width = (math.ceil(n / factor) * factor for n in values.shape)
        padding = ((0, height - values.shape[0]), (0, width - values.shape[1]))
        blocks = lambda a: np.pad(a, padding).reshape(height // factor, factor, width // factor, factor).sum((1, 3))  # noqa: E731
        values, weight = blocks(values), blocks(weight)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(weight > 0, values / weight, 0.0)
        weight = weight / (factor * factor)
    shown = np.clip(values / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(values)
    index = np.round(shown * 254).astype(np.uint8)
    index[weight < 0.5] = 255  # transparent
    palette = colormaps["viridis"](np.linspace(0, 1, 255), bytes=True)[:, :3]
    palette = np.vstack([palette, [[255, 255, 255]]]).astype(np.uint8)
    picture = Image.fromarray(index, "P")
    picture.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", transparency=255, optimize=False)
    return _png_data_uri(buffer.getvalue())


def _mean_intensity(stack, mask, chunk_bytes=256 << 20):
    """Each image's mean over the measured pixels: the stack's own ``mean_intensity`` when it
    has one (PreparedIonImages: before preprocessing), else computed a chunk of images at a time
    (``images[:, mask]`` at once would copy the whole stack)."""
    given = getattr(stack, "mean_intensity", None)
    if given is not None:
        return np.nan_to_num(np.asarray(given, np.float64))
    images = stack.images
    n = images.shape[0]
    pixels = mask if mask.any() else np.ones(mask.shape, bool)
    out = np.zeros(n, np.float64)
    step = max(1, chunk_bytes // max(1, images[0].nbytes)) if n else 1
    with np.errstate(all="ignore"):
        for start in range(0, n, step):
            block = np.asarray(images[start:start + step])[:, pixels]
            out[start:start + step] = block.mean(axis=1, dtype=np.float64) if block.size else 0.0
    return np.nan_to_num(out)


def _display_scale(image, mask):
    values = image[mask] if mask.any() else image.ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    scale = float(np.percentile(values, 99))
    return scale if scale > 0 else float(values.max())


# --------------------------------------------------------------------------------------------
# the report

class _Method:
    """One result with what the figures need precomputed."""

    def __init__(self, name, result):
        self.name = name
        self.result = result
        self.labels = np.asarray(result.labels, np.int64)
        self.mz = np.asarray(result.mz, np.float64)
        self.empty = (np.zeros(self.labels.shape, bool) if result.empty is None
                      else np.asarray(result.empty, bool))
        members = [np.asarray(m, np.int64) for m in (result.members or [])]
        n_clusters = max(len(members), int(self.labels.max()) + 1 if self.labels.size else 0)
        if len(members) < n_clusters:  # members missing or short: rebuild from the labels
            members = [np.flatnonzero(self.labels == c) for c in range(n_clusters)]
            members = [m[np.argsort(self.mz[m], kind="stable")] for m in members]
        self.members = members
        self.n_clusters = n_clusters
        self.colors = _cluster_colors(max(n_clusters, 1))
        embedding = np.asarray(result.embedding, np.float64)
        self.embedding = embedding.reshape(len(self.labels), -1)
        self.evaluation = dict(result.evaluation or {})
        self.params = dict(result.params or {})
        self.timings = dict(result.timings or {})
        self.noise = (self.labels < 0) & ~self.empty
        self.clusterer = getattr(result, "clusterer", None) or "dbscan"
        self.condensed_tree = getattr(result, "condensed_tree", None)
        self.cluster_nodes = getattr(result, "cluster_nodes", None)
        self.label = _method_label(name, self.clusterer)

    def color(self, label):
        return self.colors[label % len(self.colors)] if label >= 0 else _NOISE_COLOR

    def cluster_name(self, index):
        if self.labels[index] >= 0:
            return f"cluster {self.labels[index]}"
        return "empty" if self.empty[index] else "noise"


class _Report:
    def __init__(self, stack, results, spectrum, title, dataset, comparison, max_clusters, max_members,
                 max_isotope_panels, isotope_tol_ppm, isotope_tol_da):
        self.stack = stack
        self.mask = np.asarray(stack.mask, bool)
        self.mz = np.asarray(stack.mz, np.float64)
        self.methods = [_Method(name, result) for name, result in results.items()]
        self.spectrum = spectrum
        self.title = "Ion-image clustering report" if title is None else str(title)
        self.dataset = dict(dataset or {})
        self.comparison = comparison
        self.max_clusters = max_clusters
        self.max_members = max_members
        self.max_isotope_panels = max_isotope_panels
        if isotope_tol_ppm is not None and isotope_tol_da is not None:
            raise ValueError("give isotope_tol_ppm or isotope_tol_da, not both")
        params = self.methods[0].params
        if isotope_tol_ppm is None and isotope_tol_da is None and params.get("isotope_tolerance") is not None:
            # IonImageClustering's own parameters
            tolerance = float(params["isotope_tolerance"])
            isotope_tol_ppm, isotope_tol_da = ((None, tolerance) if str(params.get("isotope_unit", "ppm")).lower() == "da"
                                               else (tolerance, None))
        self.isotope_tolerance = (None if isotope_tol_ppm is None and isotope_tol_da is None else
                                  (float(isotope_tol_ppm), "ppm") if isotope_tol_ppm is not None else
                                  (float(isotope_tol_da), "Da"))
        self.columns = len(self.methods) if len(self.methods) <= 2 else 1
        self.mean_intensity = _mean_intensity(stack, self.mask)

    def image(self, k):
        """Ion image ``k`` (height, width): a PreparedIonImages gives its preprocessed image."""
        return np.asarray(self.stack.image(k) if hasattr(self.stack, "image") else self.stack.images[k])

    # ---- document ------------------------------------------------------------------------
    def html(self):
        from . import __version__

        sections = [("summary", "Summary", self.summary_section()),
                    ("comparison", "Comparison", self.comparison_section()),
                    ("spectrum", "Mean spectrum", self.spectrum_section()),
                    ("isotopes", "Isotope patterns", self.isotope_section()),
                    ("gallery", "Cluster gallery", self.gallery_section()),
                    ("embedding", "3-D embedding", self.embedding_section())]
        nav = " · ".join(f'<a href="#{key}">{_e(name)}</a>' for key, name, _ in sections)
        body = "\n".join(f'<section id="{key}">\n<h2>{_e(name)}</h2>\n{content}\n</section>'
                         for key, name, content in sections)
        generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        methods = ", ".join(m.label for m in self.methods)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spatialembed {_e(__version__)}">
<title>{_e(self.title)}</title>
<style>{_CSS}{self.thumbnail_css()}</style>
</head>
<body>
<header>
<h1>{_e(self.title)}</h1>
<p class="meta">Generated {_e(generated)} by spatialembed {_e(__version__)} · methods: {_e(methods)}</p>
{self.dataset_table()}
<nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer>Ion images → ImageNet CNN features → UMAP → DBSCAN ("nn") and UMAP on raw ion-image pixels → DBSCAN
("umap_only"), after Zhang et al., <i>Anal Bioanal Chem</i> 413:2803 (2021). This file is self-contained.</footer>
</body>
</html>
"""

    def thumbnail_css(self):
        """Thumbnail boxes with the images' aspect ratio and about the area of a 76 (57) px square."""
        height, width = self.mask.shape
        aspect = min(max(width / max(height, 1), 0.4), 2.5)

        def box(side):  # wide enough for an m/z caption
            return max(round(side * math.sqrt(aspect)), 56), round(side / math.sqrt(aspect))

        (w1, h1), (w2, h2) = box(76), box(57)
        return (f".thumbs figure, .thumbs img {{ width:{w1}px; }}\n"
                f".thumbs img, .thumbs .more {{ height:{h1}px; }}\n"
                f".columns .thumbs figure, .columns .thumbs img {{ width:{w2}px; }}\n"
                f".columns .thumbs img, .columns .thumbs .more {{ height:{h2}px; }}\n")

    def dataset_table(self):
        n, (height, width) = len(self.mz), self.mask.shape
        facts = {str(k): v for k, v in self.dataset.items()}
        lowered = {k.lower() for k in facts}
        auto = {"ion images": n, "image size": f"{width} × {height} pixels",
                "measured pixels": int(self.mask.sum()),
                "m/z range": (f"{self.mz.min():.4f} – {self.mz.max():.4f}" if n else "—")}
        pixel_size = getattr(self.stack, "pixel_size", None)
        if pixel_size is not None and all(np.isfinite(pixel_size)):
            auto["pixel size"] = f"{pixel_size[0]:g} × {pixel_size[1]:g} µm"
        for key, value in auto.items():
            if key not in lowered:
                facts[key] = value
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in facts.items())
        return f'<table class="facts">{rows}</table>'

    # ---- summary -------------------------------------------------------------------------
    def summary_section(self):
        rows = []

        def row(label, values, tip=""):
            title = f' title="{_e(tip)}"' if tip else ""
            rows.append(f"<tr><th{title}>{_e(label)}</th>" + "".join(f"<td>{_e(v)}</td>" for v in values) + "</tr>")

        def evaluation(method, key, fallback=None):
            value = method.evaluation.get(key, fallback)
            if isinstance(value, np.ndarray) and value.ndim == 2:
                return len(value)
            return value

        n = len(self.mz)
        row("ion images", [_fmt(n) for _ in self.methods])
        row("empty images (not clustered)", [_fmt(int(m.empty.sum())) for m in self.methods])
        row("clusters", [_fmt(int(evaluation(m, "n_clusters", m.n_clusters))) for m in self.methods])
        row("clustered images", [_fmt(int((m.labels >= 0).sum())) for m in self.methods])
        noise = []
        for m in self.methods:
            share = evaluation(m, "noise_fraction")
            if share is None:
                nonempty = int((~m.empty).sum())
                share = m.noise.sum() / nonempty if nonempty else float("nan")
            noise.append(f"{_fmt(float(share))} ({int(m.noise.sum())} images)")
        row("noise fraction", noise, "share of the non-empty images labelled −1 by the clusterer")
        row("silhouette", [_fmt(float(evaluation(m, "silhouette", float("nan")))) for m in self.methods],
            "in the embedding, over clustered images")
        row("isotope pairs", [_fmt(evaluation(m, "isotope_pairs")) for m in self.methods],
            "pairs of ion images 1.00336 Da apart")
        row("… both images clustered", [_fmt(evaluation(m, "isotope_pairs_clustered")) for m in self.methods])
        row("… in one cluster (share)", [_fmt(evaluation(m, "isotope_coclustering")) for m in self.methods],
            "isotope co-clustering: share of the clustered pairs whose two images share a cluster")
        row("clusterer", [m.clusterer.upper() for m in self.methods])
        eps = []
        for m in self.methods:
            if m.clusterer == "hdbscan":
                eps.append("— (HDBSCAN)")
                continue
            value = m.params.get("eps")
            auto = m.params.get("eps_auto")
            text = _fmt(value)
            if auto is not None:
                text += " (auto, k-distance)" if auto else " (given)"
            eps.append(text)
        row("DBSCAN eps", eps)
        for key in ("min_samples", "hdbscan__min_cluster_size", "hdbscan__min_samples",
                    "hdbscan__cluster_selection_method", "n_neighbors", "min_dist", "n_components", "metric", "backbone",
                    "seed"):
            if any(key in m.params for m in self.methods):
                row(key, [_fmt(m.params.get(key)) for m in self.methods])
        stages = [s for s in _STAGES if any(s in m.timings for m in self.methods)]
        stages += sorted({s for m in self.methods for s in m.timings} - set(stages))
        for stage in stages:
            row(f"time: {stage}", [f"{m.timings[stage]:.2f} s" if isinstance(m.timings.get(stage), (int, float))
                                   else "—" for m in self.methods])
        head = "<tr><th></th>" + "".join(f'<th scope="col">{_e(m.label)}</th>'
                                         for m in self.methods) + "</tr>"
        params = "".join(
            f"<details><summary>All parameters: {_e(m.name)}</summary><table class='params'>"
            + "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in m.params.items())
            + "</table></details>" for m in self.methods if m.params)
        return f'<table class="summary">{head}{"".join(rows)}</table>{params}'

    # ---- comparison ----------------------------------------------------------------------
    def comparison_section(self):
        if not self.comparison:
            text = ("No comparison numbers were given." if len(self.methods) > 1
                    else "One method only: nothing to compare.")
            return f'<p class="note">{_e(text)}</p>'
        rows = []

        def add(prefix, mapping):
            for key, value in mapping.items():
                label = f"{prefix} / {key}" if prefix else str(key)
                if isinstance(value, dict):
                    add(label, value)
                else:
                    rows.append(f"<tr><th>{_e(label)}</th><td>{_e(_fmt(value))}</td></tr>")

        add("", dict(self.comparison))
        return f'<table class="comparison">{"".join(rows)}</table>'

    # ---- spectrum ------------------------------------------------------------------------
    def ion_heights(self):
        """Height of each ion's marker: the mean spectrum's maximum near its m/z, or the mean
        ion-image intensity without a spectrum."""
        if self.spectrum is None:
            return self.mean_intensity.astype(np.float64)
        smz, sy = self.spectrum
        half = np.maximum(self.mz * 20e-6, 0.002)
        lo = np.searchsorted(smz, self.mz - half, side="left")
        hi = np.searchsorted(smz, self.mz + half, side="right")
        heights = np.interp(self.mz, smz, sy)
        for k in np.flatnonzero(hi > lo):
            heights[k] = max(heights[k], sy[lo[k]:hi[k]].max())
        return heights

    def spectrum_section(self):
        from matplotlib.figure import Figure

        heights = self.ion_heights()
        n_methods = len(self.methods)
        strip_heights = [min(0.16 * (m.n_clusters + 2) + 0.5, 4.0) for m in self.methods]
        spectrum_height = 2.3
        ratios = []
        for h in strip_heights:
            ratios += [spectrum_height, h]
        fig = Figure(figsize=(13.5, sum(ratios) + 0.5 * n_methods + 0.3), layout="constrained")
        axes = fig.subplots(2 * n_methods, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        lo, hi = float(self.mz.min()), float(self.mz.max())
        if self.spectrum is not None:
            smz, sy = self.spectrum
            keep = (smz >= lo - 0.05 * (hi - lo + 1)) & (smz <= hi + 0.05 * (hi - lo + 1))
            env_mz, env_y = _envelope(smz[keep], sy[keep], 4000) if keep.sum() > 1 else (smz, sy)
        for index, method in enumerate(self.methods):
            ax, strip = axes[2 * index], axes[2 * index + 1]
            if self.spectrum is not None:
                ax.plot(env_mz, env_y, color="#555555", lw=0.6, zorder=1)
                ax.set_ylabel("mean intensity")
            else:
                ax.set_ylabel("mean ion-image\nintensity")
            order = np.argsort(method.labels >= 0, kind="stable")  # noise first, clusters on top
            colors = [_EMPTY_COLOR if method.empty[k] else method.color(method.labels[k]) for k in order]
            ax.vlines(self.mz[order], 0, heights[order], colors=colors, lw=1.1, zorder=2)
            clustered = order[method.labels[order] >= 0]
            ax.scatter(self.mz[clustered], heights[clustered], s=14,
                       c=[method.color(method.labels[k]) for k in clustered], zorder=3, edgecolors="none")
            unclustered = order[method.labels[order] < 0]
            ax.scatter(self.mz[unclustered], heights[unclustered], s=12, marker="x", c=_NOISE_COLOR, zorder=3,
                       linewidths=0.8)
            ax.set_ylim(bottom=0)
            ax.set_title(f"{method.label}: ion m/z coloured by cluster (grey × = noise or empty)",
                         fontsize=10, loc="left")
            ax.spines[["top", "right"]].set_visible(False)
            # strip: m/z of the members of each cluster
            y = np.where(method.labels >= 0, method.labels, -1)
            y = np.where(method.empty, -2, y)
            strip.scatter(self.mz, y, marker="|", s=60, linewidths=1.4,
                          c=[_EMPTY_COLOR if method.empty[k] else method.color(method.labels[k])
                             for k in range(len(y))])
            strip.set_ylim(method.n_clusters - 0.5, -2.5)
            ticks = [-2, -1] + list(range(method.n_clusters))
            names = ["empty", "noise"] + [str(c) for c in range(method.n_clusters)]
            step = max(1, math.ceil(len(ticks) / 18))
            strip.set_yticks(ticks[::step], names[::step], fontsize=7)
            strip.set_ylabel("cluster", fontsize=8)
            strip.grid(axis="y", color="#eeeeee", lw=0.6)
            strip.spines[["top", "right"]].set_visible(False)
        axes[-1].set_xlabel("m/z")
        pad = 0.02 * (hi - lo) + 0.5
        axes[-1].set_xlim(lo - pad, hi + pad)
        note = ("Markers sit on the mean spectrum's maximum within ±20 ppm of each ion's m/z." if self.spectrum
                is not None else "No mean spectrum was given (e.g. PNG-folder input): markers show each ion "
                                 "image's mean intensity over the measured pixels.")
        return (f'<p class="note">{_e(note)} Under each spectrum, the m/z of every ion image in the row of '
                f'its cluster.</p><img class="figure" alt="mean spectrum with clustered ions" '
                f'src="{_figure_uri(fig)}">')

    # ---- isotopes ------------------------------------------------------------------------
    def isotope_pairs(self):
        for method in self.methods:
            given = method.evaluation.get("isotope_pairs")
            if isinstance(given, (np.ndarray, list, tuple)):
                pairs = np.asarray(given)
                if (pairs.ndim == 2 and pairs.shape[1] == 2 and np.issubdtype(pairs.dtype, np.integer)
                        and (pairs.size == 0 or (pairs.min() >= 0 and pairs.max() < len(self.mz)))):
                    return pairs.astype(np.int64), "as given in the evaluation"
        from .msi import isotope_pairs

        def find(tolerance):
            value, unit = tolerance
            pairs, _ = (isotope_pairs(self.mz, tol_ppm=value, spacing=ISOTOPE_SPACING) if unit == "ppm"
                        else isotope_pairs(self.mz, tol_da=value, spacing=ISOTOPE_SPACING))
            return np.asarray(pairs, np.int64).reshape(-1, 2)

        tolerance = self.isotope_tolerance
        if tolerance is None:
            counts = {m.evaluation.get("isotope_pairs") for m in self.methods}
            counts = {int(c) for c in counts if isinstance(c, (int, np.integer)) and not isinstance(c, bool)}
            tolerance = (10.0, "ppm")
            if len(counts) == 1:  # match the evaluation's count of pairs
                expected = counts.pop()
                for candidate in ((10.0, "ppm"), (0.01, "Da"), (0.02, "Da"), (0.05, "Da")):
                    if len(find(candidate)) == expected:
                        tolerance = candidate
                        break
        pairs = find(tolerance)
        return pairs, f"m/z spacing {ISOTOPE_SPACING} Da ± {tolerance[0]:g} {tolerance[1]}"

    def isotope_section(self):
        from matplotlib.figure import Figure

        pairs, how = self.isotope_pairs()
        if len(pairs) == 0:
            return f'<p class="note">No isotope pairs found ({_e(how)}).</p>'
        heights = self.ion_heights()
        status = np.array([[_pair_status(m, i, j) for m in self.methods] for i, j in pairs])
        split = np.any(status == "split", axis=1)
        by_height = np.argsort(-heights[pairs[:, 0]], kind="stable")
        chosen, windows = [], []

        def take(candidates, limit):
            for p in candidates:
                if len(chosen) >= limit:
                    return
                i, j = pairs[p]
                window = (self.mz[i] - 0.45, self.mz[j] + 1.45)
                if p in chosen or any(w[0] < window[1] and window[0] < w[1] for w in windows):
                    continue
                chosen.append(p)
                windows.append(window)

        n_panels = min(self.max_isotope_panels, len(pairs))
        if n_panels == 0:
            return f'<p class="note">{len(pairs)} isotope pairs ({_e(how)}); none shown.</p>'
        take([p for p in by_height if split[p]], max(1, n_panels // 2))  # show disagreements too
        take(by_height, n_panels)
        chosen.sort(key=lambda p: self.mz[pairs[p, 0]])
        n_cols = len(chosen)
        fig = Figure(figsize=(max(2.3 * n_cols, 5.0), 2.2 * len(self.methods) + 0.3), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(self.methods), n_cols, squeeze=False))
        for col, p in enumerate(chosen):
            i, j = pairs[p]
            lo, hi = self.mz[i] - 0.45, self.mz[j] + 1.45
            inside = np.flatnonzero((self.mz >= lo) & (self.mz <= hi))
            for row, method in enumerate(self.methods):
                ax = axes[row, col]
                top = heights[inside].max() if inside.size else 1.0
                if self.spectrum is not None:
                    smz, sy = self.spectrum
                    a, b = np.searchsorted(smz, lo), np.searchsorted(smz, hi, side="right")
                    ax.plot(smz[a:b], sy[a:b], color="#555555", lw=0.7)
                    top = max(top, sy[a:b].max() if b > a else 0)
                colors = [_EMPTY_COLOR if method.empty[k] else method.color(method.labels[k]) for k in inside]
                ax.vlines(self.mz[inside], 0, heights[inside], colors=colors,
                          linewidths=[2.4 if k in (i, j) else 1.2 for k in inside])
                for k, color in zip(inside, colors):
                    label = f"c{method.labels[k]}" if method.labels[k] >= 0 else method.cluster_name(k)
                    ax.annotate(label, (self.mz[k], heights[k]), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize=7, color=color if method.labels[k] >= 0
                                else "#666666", fontweight="bold" if k in (i, j) else "normal")
                ax.set_xlim(lo, hi)
                ax.set_ylim(0, top * 1.25 if top > 0 else 1)
                ax.tick_params(labelsize=7)
                ax.yaxis.get_offset_text().set_fontsize(6)
                ax.spines[["top", "right"]].set_visible(False)
                verdict = status[p, row]
                verdict_text = {"same": "one cluster", "split": "split", "noise": "not both clustered"}[verdict]
                verdict_color = {"same": "#1a7f37", "split": "#c62828", "noise": "#777777"}[verdict]
                ax.set_title(verdict_text, fontsize=8, color=verdict_color)
                if col == 0:
                    ax.set_ylabel(method.name, fontsize=9)
            axes[-1, col].set_xlabel(f"m/z {self.mz[i]:.4f} → {self.mz[j]:.4f}", fontsize=8)
        counts = []
        for index, method in enumerate(self.methods):
            same = int((status[:, index] == "same").sum())
            both = int((status[:, index] != "noise").sum())
            counts.append(f"{_e(method.name)}: {same} of {both} pairs with both images clustered share a cluster")
        return (f'<p class="note">{len(pairs)} isotope pairs ({_e(how)}); {"; ".join(counts)}. '
                f'Shown: the {n_cols} most intense non-overlapping pairs (pairs some method splits first), '
                f'one row per method, the pair drawn bold, every ion nearby labelled with its cluster.</p>'
                f'<img class="figure" alt="isotope patterns" src="{_figure_uri(fig)}">')

    # ---- gallery -------------------------------------------------------------------------
    def gallery_section(self):
        columns = [self.method_gallery(m) for m in self.methods]
        note = (f"Each row: a cluster's mean image (preprocessed members) and up to {self.max_members} member ion "
                "images nearest the cluster's centre in the embedding, labelled by m/z, in increasing m/z. Each image is scaled to "
                "its 99th percentile over the measured pixels (viridis; unmeasured pixels transparent).")
        return f'<p class="note">{_e(note)}</p>' + self.side_by_side(columns)

    def side_by_side(self, columns):
        if self.columns == 1:
            return "\n".join(f'<div class="column">{c}</div>' for c in columns)
        return (f'<div class="columns" style="grid-template-columns: repeat({self.columns}, minmax(0, 1fr))">'
                + "".join(f'<div class="column">{c}</div>' for c in columns) + "</div>")

    def thumbnail(self, image, caption, css_class="", title=""):
        scale = _display_scale(image, self.mask)
        tiny = max(image.shape) < 60
        classes = " ".join(c for c in (css_class, "px" if tiny else "") if c)
        tip = f' title="{_e(title)}"' if title else ""
        return (f'<figure class="{classes}"{tip}><img alt="{_e(caption)}" src="{_image_uri(image, self.mask, scale)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")

    def method_gallery(self, method):
        parts = [f"<h3>{_e(method.label)}</h3>"]
        n_noise, n_empty = int(method.noise.sum()), int(method.empty.sum())
        parts.append(f'<p class="counts">{method.n_clusters} clusters, {int((method.labels >= 0).sum())} clustered '
                     f"ion images, {n_noise} noise, {n_empty} empty.</p>")
        means = np.asarray(method.result.cluster_mean_images) if method.result.cluster_mean_images is not None \
            else np.zeros((0,) + self.mask.shape, np.float32)
        shown = min(method.n_clusters, self.max_clusters)
        for c in range(shown):
            members = method.members[c]
            parts.append(self.cluster_row(method, f"Cluster {c}", method.color(c), members,
                                          means[c] if c < len(means) else None))
        if method.n_clusters > shown:
            left = sum(len(m) for m in method.members[shown:])
            parts.append(f'<p class="note">{method.n_clusters - shown} more clusters ({left} ion images) not shown '
                         f"(max_clusters={self.max_clusters}).</p>")
        noise = np.flatnonzero(method.noise)
        if noise.size:
            noise = noise[np.argsort(self.mz[noise], kind="stable")]
            parts.append(self.cluster_row(method, "Noise", _NOISE_COLOR, noise, None))
        if n_empty:
            empty_mz = ", ".join(f"{v:.4f}" for v in np.sort(self.mz[method.empty])[:20])
            more = " …" if n_empty > 20 else ""
            parts.append(f'<p class="counts">Empty (all-zero, not clustered): m/z {_e(empty_mz + more)}</p>')
        return "\n".join(parts)

    def cluster_row(self, method, name, color, members, mean_image):
        members = np.asarray(members, np.int64)
        picked = self.representatives(method, members)
        mz_range = (f"m/z {self.mz[members].min():.4f} – {self.mz[members].max():.4f}" if members.size else "")
        head = (f'<div class="chead"><span class="swatch" style="background:{_e(color)}"></span>'
                f"<b>{_e(name)}</b> · {members.size} ion image{'s' if members.size != 1 else ''} · {_e(mz_range)}</div>")
        thumbs = []
        if mean_image is not None:
            thumbs.append(self.thumbnail(np.asarray(mean_image, np.float32), "mean", "mean"))
        for k in picked:
            thumbs.append(self.thumbnail(self.image(k), f"{self.mz[k]:.4f}",
                                         title=f"m/z {self.mz[k]:.4f} ({method.cluster_name(k)})"))
        if members.size > len(picked):
            thumbs.append(f'<div class="more">+{members.size - len(picked)} more</div>')
        listing = ", ".join(f"{v:.4f}" for v in self.mz[members])
        details = (f"<details><summary>all m/z</summary><p class='mzlist'>{_e(listing)}</p></details>"
                   if members.size > len(picked) else "")
        return (f'<div class="cluster" style="border-left-color:{_e(color)}">{head}'
                f'<div class="thumbs">{"".join(thumbs)}</div>{details}</div>')

    def representatives(self, method, members):
        if members.size <= self.max_members:
            return members[np.argsort(self.mz[members], kind="stable")]
        points = method.embedding[members]
        finite = np.all(np.isfinite(points), axis=1)
        if finite.sum() >= self.max_members:
            centre = points[finite].mean(axis=0)
            distance = np.where(finite, np.linalg.norm(np.nan_to_num(points) - centre, axis=1), np.inf)
            picked = members[np.argsort(distance, kind="stable")[:self.max_members]]
        else:
            picked = members[np.linspace(0, members.size - 1, self.max_members).round().astype(int)]
        return picked[np.argsort(self.mz[picked], kind="stable")]

    # ---- embedding -----------------------------------------------------------------------
    def embedding_section(self):
        columns = [self.embedding_figure(m) + (self.condensed_tree_figure(m) if m.clusterer == "hdbscan"
                                               else self.k_distance_figure(m)) for m in self.methods]
        note = ("UMAP coordinates of each ion image, coloured by cluster (number at the cluster's centre); noise grey. "
                "Below, for DBSCAN: the sorted k-distance curve (k = min_samples) in that space with the eps used — "
                "points under the line are core points; when the curve has no clear knee, try another eps. "
                "For HDBSCAN: the condensed cluster tree — each bar a cluster, from the density λ = 1/distance at "
                "which it appears (top) to where it splits or dissolves, its width the number of ion images; the "
                "selected clusters coloured and numbered.")
        return f'<p class="note">{_e(note)}</p>' + self.side_by_side(columns)

    def condensed_tree_figure(self, method):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        tree = method.condensed_tree
        if tree is None or len(tree) == 0:
            return '<p class="note">No condensed tree (fewer than two ion images).</p>'
        parent, child = np.asarray(tree["parent"]), np.asarray(tree["child"])
        lam, size = np.asarray(tree["lambda_val"], np.float64), np.asarray(tree["child_size"])
        root = int(parent.min())
        finite = lam[np.isfinite(lam)]
        top = float(finite.max()) * 1.05 if finite.size else 1.0
        lam = np.where(np.isfinite(lam), lam, top)
        is_cluster = child >= root
        children = {}
        birth, count = {root: 0.0}, {root: int(size[parent == root].sum())}
        for p, c, l, n in zip(parent[is_cluster], child[is_cluster], lam[is_cluster], size[is_cluster]):
            children.setdefault(int(p), []).append(int(c))
            birth[int(c)], count[int(c)] = float(l), int(n)
        death = {c: float(lam[parent == c].max()) if (parent == c).any() else birth[c] for c in birth}
        x, order = {}, []

        def place(c):  # leaves left to right in depth-first order; a parent over its children's middle
            kids = children.get(c, [])
            if not kids:
                x[c] = float(len(order))
                order.append(c)
                return
            for k in kids:
                place(k)
            x[c] = float(np.mean([x[k] for k in kids]))

        place(root)
        selected = {int(node): label for label, node in enumerate(method.cluster_nodes if method.cluster_nodes is not None else [])}
        widest = max(count.values()) or 1
        fig = Figure(figsize=(6.6 if self.columns > 1 else 8.0, 2.6))
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.08, top=0.92)
        ax = fig.add_subplot()
        for c in birth:
            w = 0.15 + 0.7 * count[c] / widest
            color = method.color(selected[c]) if c in selected else "#b0b0b0"
            ax.add_patch(Rectangle((x[c] - w / 2, birth[c]), w, max(death[c] - birth[c], top * 0.002), color=color,
                                   alpha=0.9 if c in selected else 0.6, lw=0))
            if c in selected:
                ax.text(x[c], death[c], str(selected[c]), ha="center", va="top", fontsize=7)
            kids = children.get(c, [])
            if kids:
                ax.plot([min(x[k] for k in kids), max(x[k] for k in kids)], [death[c], death[c]], color="#555555", lw=0.8)
        ax.set_xlim(-1, max(len(order), 1))
        ax.set_ylim(top, 0)
        ax.set_xticks([])
        ax.set_ylabel("λ = 1 / distance", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title("condensed tree", fontsize=8)
        return f'<img class="figure" alt="condensed tree of {_e(method.name)}" src="{_figure_uri(fig)}">'

    def k_distance_figure(self, method):
        from matplotlib.figure import Figure

        curve = np.asarray(method.evaluation.get("k_distances", []), np.float64)
        eps = method.params.get("eps")
        if curve.size == 0 or eps is None:
            return ""
        fig = Figure(figsize=(6.6 if self.columns > 1 else 8.0, 2.2))
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.22, top=0.9)
        ax = fig.add_subplot()
        ax.plot(np.arange(curve.size), curve, color="#333333", lw=1.2)
        ax.axhline(eps, color="#d62728", lw=1, ls="--")
        ax.text(0, eps, f" eps {eps:.3g}" + (" (auto)" if method.params.get("eps_auto") else ""), color="#d62728",
                fontsize=8, va="bottom")
        ax.set_xlabel("ion images, sorted", fontsize=8)
        ax.set_ylabel("k-distance", fontsize=8)
        ax.tick_params(labelsize=7)
        return f'<img class="figure" alt="k-distance curve of {_e(method.name)}" src="{_figure_uri(fig)}">'

    def embedding_figure(self, method):
        from matplotlib.figure import Figure
        import mpl_toolkits.mplot3d  # noqa: F401  (registers the 3-d projection)

        points = method.embedding
        finite = np.all(np.isfinite(points), axis=1) if points.size else np.zeros(len(points), bool)
        dims = points.shape[1] if points.ndim == 2 else 0
        title = f"<h3>{_e(method.label)}</h3>"
        if dims < 2 or not finite.any():
            return title + '<p class="note">No embedding to show.</p>'
        three = dims >= 3
        views = [(22, -60), (22, 30)] if three else [None]
        width = 6.6 if self.columns > 1 else 11.0
        fig = Figure(figsize=(width, width / len(views) * (1.0 if three else 0.75)))
        if three:
            fig.subplots_adjust(left=0.0, right=1.0, bottom=0.02, top=0.93, wspace=0.0)
        else:
            fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.95)
        from matplotlib import patheffects

        outline = [patheffects.withStroke(linewidth=2.2, foreground="white")]
        n_dims = 3 if three else 2
        noise = np.flatnonzero(finite & (method.labels < 0))
        clustered = np.flatnonzero(finite & (method.labels >= 0))
        colors = [method.color(method.labels[k]) for k in clustered]
        for index, view in enumerate(views):
            ax = fig.add_subplot(1, len(views), index + 1, **({"projection": "3d"} if three else {}))
            extra = {"depthshade": False} if three else {}
            ax.scatter(*(points[noise, d] for d in range(n_dims)), s=8, c=_NOISE_COLOR, alpha=0.7,
                       edgecolors="none", **extra)
            ax.scatter(*(points[clustered, d] for d in range(n_dims)), s=22, c=colors, edgecolors="none",
                       alpha=0.9, **extra)
            if method.n_clusters <= 30:
                for c in range(method.n_clusters):
                    rows = np.flatnonzero(finite & (method.labels == c))
                    if rows.size:
                        centre = [float(points[rows, d].mean()) for d in range(n_dims)]
                        ax.text(*centre, str(c), fontsize=7, fontweight="bold", color="#111111", ha="center",
                                va="center", path_effects=outline, zorder=10)
            if three:
                ax.view_init(elev=view[0], azim=view[1])
                ax.set_box_aspect(None, zoom=1.08)
                ax.set_xticklabels([])
                ax.set_yticklabels([])
                ax.set_zticklabels([])
                for axis, name in ((ax.xaxis, "UMAP 1"), (ax.yaxis, "UMAP 2"), (ax.zaxis, "UMAP 3")):
                    axis.set_label_text(name, fontsize=8)
                    axis.labelpad = -12 if axis is not ax.zaxis else -8
                ax.set_title(f"view from azimuth {view[1]}°", fontsize=8, pad=0)
            else:
                ax.set_xlabel("UMAP 1")
                ax.set_ylabel("UMAP 2")
                ax.tick_params(labelsize=7)
        return title + f'<img class="figure" alt="embedding of {_e(method.name)}" src="{_figure_uri(fig)}">'


def _pair_status(method, i, j):
    a, b = method.labels[i], method.labels[j]
    if a < 0 or b < 0:
        return "noise"
    return "same" if a == b else "split"


def _envelope(mz, y, n_bins):
    """Max of ``y`` in ``n_bins`` equal m/z bins (peaks kept) when the spectrum is longer."""
    if mz.size <= 2 * n_bins:
        return mz, y
    edges = np.linspace(mz[0], mz[-1], n_bins + 1)
    starts = np.searchsorted(mz, edges[:-1], side="left")
    nonempty = starts < np.append(starts[1:], mz.size)
    starts = starts[nonempty]
    peaks = np.maximum.reduceat(y, starts)
    centres = 0.5 * (edges[:-1] + edges[1:])[nonempty]
    return centres, peaks


_CSS = """
:root { --fg:#1d1d1f; --muted:#666; --line:#e3e3e3; --bg:#fff; --panel:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
header, main, footer { max-width:1400px; margin:0 auto; padding:0 24px; }
header { padding-top:18px; border-bottom:1px solid var(--line); }
h1 { font-size:24px; margin:0 0 4px; }
h2 { font-size:19px; margin:26px 0 8px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:15px; margin:10px 0 6px; }
.meta, .note, .counts { color:var(--muted); margin:4px 0 10px; }
nav { margin:10px 0 12px; }
nav a { color:#0b57d0; text-decoration:none; }
table { border-collapse:collapse; margin:6px 0 10px; }
th, td { padding:3px 12px 3px 0; text-align:left; vertical-align:top; border-bottom:1px solid var(--line); }
th { font-weight:600; }
table.facts th { color:var(--muted); font-weight:500; }
table.summary td, table.comparison td { font-variant-numeric: tabular-nums; min-width:120px; }
table.summary tr:first-child th { border-bottom:2px solid #bbb; }
details { margin:4px 0; color:var(--muted); }
summary { cursor:pointer; }
img.figure { max-width:100%; height:auto; display:block; margin:6px 0; }
.columns { display:grid; gap:24px; align-items:start; }
.column { min-width:0; }
.cluster { border-left:5px solid #999; background:var(--panel); padding:6px 8px 6px 10px; margin:0 0 8px;
           border-radius:3px; }
.chead { margin-bottom:4px; }
.swatch { display:inline-block; width:11px; height:11px; border-radius:2px; margin-right:6px; vertical-align:-1px; }
.thumbs { display:flex; flex-wrap:wrap; gap:6px; align-items:flex-start; }
.thumbs figure { margin:0; text-align:center; }
.thumbs img { object-fit:contain; display:block;
              background:repeating-conic-gradient(#e9e9e9 0% 25%, #fafafa 0% 50%) 50% / 10px 10px; }
.thumbs figure.px img { image-rendering:pixelated; }
.thumbs figure.mean img { outline:2px solid #333; outline-offset:-2px; }
.thumbs figcaption { font-size:10px; color:#444; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.thumbs .more { display:flex; padding:0 5px; min-width:36px; align-items:center; justify-content:center;
                color:var(--muted); font-size:11px; white-space:nowrap; border:1px dashed #bbb; }
.mzlist { font-size:11px; color:#444; margin:2px 0; word-break:break-word; }
footer { color:var(--muted); font-size:12px; padding:20px 24px 30px; border-top:1px solid var(--line);
         margin-top:30px; }
"""
