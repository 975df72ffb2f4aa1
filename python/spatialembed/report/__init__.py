"""A self-contained HTML report of an ion-image clustering run.

:func:`write_report` turns one or two :class:`~spatialembed._result.IonImageClusteringResult`
("nn", "umap_only"; Zhang et al., *Anal Bioanal Chem* 413:2803, 2021) into a single HTML file:
inline CSS, every figure an embedded base64 PNG, the 3-D embedding interactive through plotly.js
carried inline (static matplotlib views when plotly is not installed), no external reference —
it opens offline and can be mailed or archived as one file.

Everything shown comes from the results (labels, members, embedding, evaluation with its isotope
pairs, parameters, timings); the report searches, clusters and scores nothing itself.

The package keeps its parts apart: ``_checks`` (input checks and reading a result),
``_figures`` (matplotlib figures and thumbnails), ``_interactive`` (the plotly figure),
``_document`` (the template's context) and ``templates/report.html.j2`` (the page, Jinja2).
matplotlib, Jinja2 and plotly are imported only when a report is written (``import
spatialembed`` stays light); the figures are drawn on standalone Agg canvases, so pyplot's
global state and the user's backend are left alone.
"""
import os
from pathlib import Path

__all__ = ["write_report"]


def write_report(path, stack, results, *, mean_spectrum=None, title=None, dataset=None, comparison=None,
                 overwrite=False, max_clusters=30, max_members=8, max_isotope_panels=6, interactive=None):
    """Write a self-contained HTML report of an ion-image clustering run.

    The report shows, per method: a summary table (clusters, noise share, silhouette, isotope
    pairs with the tolerance and charges they were found with and their co-clustering, eps,
    timings per stage); the caller's comparison numbers; the mean spectrum with every clustered
    ion's m/z marked in its cluster's colour; zoomed isotope patterns (the pairs the run found)
    coloured by cluster, and a table of every pair with each method's verdict; a gallery of each
    cluster's mean image and member ion images; and the 3-D embedding coloured by cluster,
    interactive (rotate, zoom, hover shows the ion's m/z, cluster and image). With two methods
    their galleries and embeddings are shown side by side.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.html`` file to write (its folder is created when missing).
    stack : IonImageStack or PreparedIonImages
        The clustered ion images: ``images`` (n_images, height, width) float32, ``mask``
        (height, width) bool, ``mz`` (n_images,); or the :class:`PreparedIonImages` the runs
        used (thumbnails are then the preprocessed images, ``image(k)``, and the ion markers
        without a spectrum sit at its ``mean_intensity``). Each image is shown scaled to its
        99th percentile over the measured pixels.
    results : dict of str to IonImageClusteringResult, or one IonImageClusteringResult
        Method name ("nn", "umap_only") → result of a run on ``stack`` (one or two methods;
        more are shown one after the other). Each result's ``mz`` must have ``n_images`` entries
        and ``members`` one list per cluster. The isotope pairs are the evaluation's
        ``isotope_pair_index`` (n_pairs, 2), ``isotope_pair_mz``, ``isotope_pair_charge`` with
        ``isotope_tolerance``, ``isotope_unit``, ``isotope_max_charge`` and ``isotope_spacing``
        (as :class:`IonImageClustering` gives them); a result without them shows no pairs.
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
    interactive : bool, optional
        The 3-D embedding as an interactive plotly figure (plotly.js is inlined: about 8.7 MB
        with Debian's python3-plotly) or as static matplotlib views. Default: interactive when
        plotly is installed; True raises ImportError without it.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    UnsafeOutputError
        (an OSError) ``path`` may not be replaced (a link, a folder; see ``OutputStaging``).
    ValueError
        ``results`` is empty or does not match ``stack``; a malformed ``mean_spectrum``.
    ImportError
        ``interactive=True`` without plotly, or Jinja2 missing.

    Notes
    -----
    The file is written through spatialembed's one output mechanism, ``OutputStaging``
    (C++): under a hidden temporary name beside ``path``, renamed into place when complete, so
    an interrupted run never leaves a half-written report.
    """
    from .._core import OutputStaging
    from ._checks import check_limits, check_results, check_spectrum
    from ._document import Document
    from ._interactive import plotly_js

    path = Path(os.fspath(path))
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    results = check_results(stack, results)
    spectrum = check_spectrum(mean_spectrum)
    limits = check_limits(max_clusters, max_members, max_isotope_panels)
    script = None
    if interactive is None or interactive:
        script = plotly_js()
        if script is None and interactive:
            raise ImportError("interactive=True needs plotly (Debian: apt-get install python3-plotly)")
    document = Document(stack, results, spectrum, title, dataset, comparison, *limits, interactive=script)
    text = render(document.context())
    with OutputStaging(bool(overwrite)) as staging:
        temporary = staging.add(path, "file", ".html")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
        staging.commit()
    return path


def render(context):
    """The report page from its context (templates/report.html.j2, autoescaped)."""
    import html

    import jinja2
    from markupsafe import Markup

    def escape(value):  # as html.escape (quotes as &quot;), values already marked safe as they are
        return value if hasattr(value, "__html__") else Markup(html.escape(str(value), quote=True))

    environment = jinja2.Environment(loader=jinja2.PackageLoader("spatialembed.report", "templates"),
                                     autoescape=True, finalize=escape, undefined=jinja2.StrictUndefined,
                                     keep_trailing_newline=True)
    return environment.get_template("report.html.j2").render(**context)
