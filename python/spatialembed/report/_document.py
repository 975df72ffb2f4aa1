"""What the report shows, read from the results: one context (plain dicts, lists, strings) for
the Jinja2 template. Figures come from _figures, the interactive embedding from _interactive."""
import datetime
import math

import numpy as np

from . import _figures as figures
from ._checks import evaluation_value, isotope_pairs

METHOD_NAMES = {"nn": "NN-based (CNN features → UMAP → DBSCAN)",
                "umap_only": "UMAP-only (raw pixels → UMAP → DBSCAN)"}
STAGES = ("preprocess", "embed", "umap", "dbscan", "hdbscan", "total")
HOVER_THUMBNAILS = 3000  # ion images beyond this get no hover thumbnail (the file would grow too large)


def fmt(value):
    """A value as the report prints it."""
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


def method_label(name, clusterer="dbscan"):
    label = METHOD_NAMES.get(name, name)
    return label.replace("→ DBSCAN", "→ HDBSCAN") if clusterer == "hdbscan" else label


def mean_intensity(stack, mask, chunk_bytes=256 << 20):
    """Each image's mean over the measured pixels: the stack's own ``mean_intensity`` when it
    has one (PreparedIonImages: before preprocessing), else read a chunk of images at a time."""
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


class Method:
    """One result, as the figures read it."""

    def __init__(self, name, result):
        self.name = name
        self.result = result
        self.labels = np.asarray(result.labels, np.int64)
        self.mz = np.asarray(result.mz, np.float64)
        self.empty = np.zeros(self.labels.shape, bool) if result.empty is None else np.asarray(result.empty, bool)
        self.members = [np.asarray(m, np.int64) for m in result.members]
        self.n_clusters = len(self.members)
        self.colors = figures.cluster_colors(max(self.n_clusters, 1))
        self.embedding = np.asarray(result.embedding, np.float64).reshape(len(self.labels), -1)
        self.evaluation = result.evaluation
        self.params = dict(result.params or {})
        self.timings = dict(result.timings or {})
        self.noise = (self.labels < 0) & ~self.empty
        self.clusterer = getattr(result, "clusterer", None) or "dbscan"
        self.condensed_tree = getattr(result, "condensed_tree", None)
        self.cluster_nodes = getattr(result, "cluster_nodes", None)
        self.label = method_label(name, self.clusterer)
        self.isotopes = isotope_pairs(result, len(self.labels))

    def value(self, key, default=None):
        return evaluation_value(self.evaluation, key, default)

    def color(self, label):
        return self.colors[label % len(self.colors)] if label >= 0 else figures.NOISE_COLOR

    def cluster_name(self, index):
        if self.labels[index] >= 0:
            return f"cluster {self.labels[index]}"
        return "empty" if self.empty[index] else "noise"

    def pair_status(self, i, j):
        a, b = self.labels[i], self.labels[j]
        if a < 0 or b < 0:
            return "noise"
        return "same" if a == b else "split"


class Document:
    """The template's context for one report."""

    def __init__(self, stack, results, spectrum, title, dataset, comparison, max_clusters, max_members,
                 max_isotope_panels, interactive):
        self.stack = stack
        self.mask = np.asarray(stack.mask, bool)
        self.mz = np.asarray(stack.mz, np.float64)
        self.methods = [Method(name, result) for name, result in results.items()]
        self.spectrum = spectrum
        self.title = "Ion-image clustering report" if title is None else str(title)
        self.dataset = dict(dataset or {})
        self.comparison = comparison
        self.max_clusters, self.max_members, self.max_isotope_panels = max_clusters, max_members, max_isotope_panels
        self.columns = len(self.methods) if len(self.methods) <= 2 else 1
        self.mean_intensity = mean_intensity(stack, self.mask)
        self.interactive = interactive  # plotly.js source text, or None for static figures
        self._heights = None

    def image(self, k):
        """Ion image ``k`` (height, width): a PreparedIonImages gives its preprocessed image."""
        return np.asarray(self.stack.image(k) if hasattr(self.stack, "image") else self.stack.images[k])

    def context(self):
        from .. import __version__

        sections = [("summary", "Summary"), ("comparison", "Comparison"), ("spectrum", "Mean spectrum"),
                    ("isotopes", "Isotope patterns"), ("gallery", "Cluster gallery"), ("embedding", "3-D embedding")]
        return {"title": self.title, "version": __version__,
                "generated": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                "methods": ", ".join(m.label for m in self.methods), "facts": self.facts(),
                "sections": sections, "thumbnail_css": self.thumbnail_css(), "columns": self.columns,
                "summary": self.summary(), "comparison": self.comparison_rows(), "n_methods": len(self.methods),
                "spectrum": self.spectrum_part(), "isotopes": self.isotope_part(), "gallery": self.gallery(),
                "embedding": self.embedding_part(), "plotly_js": self.interactive}

    # ---- header --------------------------------------------------------------------------
    def thumbnail_css(self):
        """Thumbnail boxes with the images' aspect ratio and about the area of a 76 (57) px square."""
        height, width = self.mask.shape
        aspect = min(max(width / max(height, 1), 0.4), 2.5)

        def box(side):  # wide enough for an m/z caption
            return max(round(side * math.sqrt(aspect)), 56), round(side / math.sqrt(aspect))

        (w1, h1), (w2, h2) = box(76), box(57)
        return {"w1": w1, "h1": h1, "w2": w2, "h2": h2}

    def facts(self):
        n, (height, width) = len(self.mz), self.mask.shape
        facts = {str(k): v for k, v in self.dataset.items()}
        lowered = {k.lower() for k in facts}
        auto = {"ion images": n, "image size": f"{width} × {height} pixels", "measured pixels": int(self.mask.sum()),
                "m/z range": (f"{self.mz.min():.4f} – {self.mz.max():.4f}" if n else "—")}
        pixel_size = getattr(self.stack, "pixel_size", None)
        if pixel_size is not None and all(np.isfinite(pixel_size)):
            auto["pixel size"] = f"{pixel_size[0]:g} × {pixel_size[1]:g} µm"
        for key, value in auto.items():
            if key not in lowered:
                facts[key] = value
        return [(k, fmt(v)) for k, v in facts.items()]

    # ---- summary -------------------------------------------------------------------------
    def summary(self):
        rows = []

        def row(label, values, tip=""):
            rows.append({"label": label, "tip": tip, "cells": list(values)})

        ms = self.methods
        row("ion images", [fmt(len(self.mz)) for _ in ms])
        row("empty images (not clustered)", [fmt(int(m.empty.sum())) for m in ms])
        row("clusters", [fmt(m.value("n_clusters", m.n_clusters)) for m in ms])
        row("clustered images", [fmt(int((m.labels >= 0).sum())) for m in ms])
        row("noise fraction", [f"{fmt(m.value('noise_fraction'))} ({int(m.noise.sum())} images)" for m in ms],
            "share of the non-empty images labelled −1 by the clusterer")
        row("silhouette", [fmt(m.value("silhouette")) for m in ms], "in the embedding, over clustered images")
        row("isotope pairs", [fmt(m.value("isotope_pairs")) for m in ms], "pairs of ion images 1.00336/z Da apart")
        row("… found with", [m.isotopes.describe() if m.isotopes else "—" for m in ms],
            "the tolerance and charges the run paired isotopes with")
        row("… both images clustered", [fmt(m.value("isotope_pairs_clustered")) for m in ms])
        row("… in one cluster", [fmt(m.value("isotope_pairs_together")) for m in ms])
        row("… in one cluster (share)", [fmt(m.value("isotope_coclustering")) for m in ms],
            "isotope co-clustering: share of the clustered pairs whose two images share a cluster")
        row("clusterer", [m.clusterer.upper() for m in ms])
        eps = []
        for m in ms:
            if m.clusterer == "hdbscan":
                eps.append("— (HDBSCAN)")
                continue
            text, auto = fmt(m.params.get("eps")), m.params.get("eps_auto")
            if auto is not None:
                text += " (auto, k-distance)" if auto else " (given)"
            eps.append(text)
        row("DBSCAN eps", eps)
        for key in ("min_samples", "hdbscan__min_cluster_size", "hdbscan__min_samples",
                    "hdbscan__cluster_selection_method", "n_neighbors", "min_dist", "n_components", "metric", "backbone",
                    "seed"):
            if any(key in m.params for m in ms):
                row(key, [fmt(m.params.get(key)) for m in ms])
        stages = [s for s in STAGES if any(s in m.timings for m in ms)]
        stages += sorted({s for m in ms for s in m.timings} - set(stages))
        for stage in stages:
            row(f"time: {stage}", [f"{m.timings[stage]:.2f} s" if isinstance(m.timings.get(stage), (int, float))
                                   else "—" for m in ms])
        params = [{"name": m.name, "rows": [(k, fmt(v)) for k, v in m.params.items()]} for m in ms if m.params]
        return {"head": [m.label for m in ms], "rows": rows, "params": params}

    def comparison_rows(self):
        if not self.comparison:
            return None
        rows = []

        def add(prefix, mapping):
            for key, value in mapping.items():
                label = f"{prefix} / {key}" if prefix else str(key)
                if isinstance(value, dict):
                    add(label, value)
                else:
                    rows.append((label, fmt(value)))

        add("", dict(self.comparison))
        return rows

    # ---- spectrum ------------------------------------------------------------------------
    def ion_heights(self):
        """Height of each ion's marker: the mean spectrum's maximum within ±20 ppm of its m/z, or
        the mean ion-image intensity without a spectrum."""
        if self._heights is not None:
            return self._heights
        if self.spectrum is None:
            self._heights = self.mean_intensity.astype(np.float64)
            return self._heights
        smz, sy = self.spectrum
        half = np.maximum(self.mz * 20e-6, 0.002)
        lo = np.searchsorted(smz, self.mz - half, side="left")
        hi = np.searchsorted(smz, self.mz + half, side="right")
        heights = np.interp(self.mz, smz, sy)
        for k in np.flatnonzero(hi > lo):
            heights[k] = max(heights[k], sy[lo[k]:hi[k]].max())
        self._heights = heights
        return heights

    def spectrum_part(self):
        uri = figures.spectrum_figure(self.mz, self.ion_heights(), self.spectrum, self.methods)
        note = ("Markers sit on the mean spectrum's maximum within ±20 ppm of each ion's m/z." if self.spectrum
                is not None else "No mean spectrum was given (e.g. PNG-folder input): markers show each ion "
                                 "image's mean intensity over the measured pixels.")
        return {"note": note, "figure": uri}

    # ---- isotopes ------------------------------------------------------------------------
    def isotope_part(self):
        """The pairs each run found (union over the methods, in m/z order), each method's verdict per
        pair, the panels of the most intense non-overlapping pairs, and the counts the runs report."""
        found = [m for m in self.methods if m.isotopes is not None]
        per_method = []
        for m in self.methods:
            if m.isotopes is None:
                per_method.append({"name": m.name, "how": None})
                continue
            per_method.append({"name": m.name, "how": m.isotopes.describe(), "pairs": fmt(m.value("isotope_pairs")),
                               "clustered": fmt(m.value("isotope_pairs_clustered")),
                               "together": fmt(m.value("isotope_pairs_together"))})
        part = {"methods": per_method, "figure": None, "rows": [], "n_pairs": 0, "shown": []}
        if not found:
            return part
        union = {}
        for m in found:
            for (i, j), z in zip(m.isotopes.index, m.isotopes.charge):
                union.setdefault((int(i), int(j)), int(z))
        keys = sorted(union, key=lambda p: (self.mz[p[0]], self.mz[p[1]]))
        members = [{(int(i), int(j)) for i, j in m.isotopes.index} if m.isotopes is not None else set()
                   for m in self.methods]
        status = [[m.pair_status(i, j) if (i, j) in members[k] else "absent" for k, m in enumerate(self.methods)]
                  for i, j in keys]
        part["n_pairs"] = len(keys)
        part["rows"] = [{"light": f"{self.mz[i]:.4f}", "heavy": f"{self.mz[j]:.4f}", "charge": union[(i, j)],
                         "verdicts": [figures.VERDICTS[s][0] for s in st], "status": st}
                        for (i, j), st in zip(keys, status)]
        n_panels = min(self.max_isotope_panels, len(keys))
        if n_panels == 0:
            return part
        heights = self.ion_heights()
        split = [any(s == "split" for s in st) for st in status]
        by_height = sorted(range(len(keys)), key=lambda p: -heights[keys[p][0]])
        chosen, windows = [], []

        def take(candidates, limit):
            for p in candidates:
                if len(chosen) >= limit:
                    return
                i, j = keys[p]
                width = 1.0 / union[(i, j)]
                window = (self.mz[i] - 0.45 * width, self.mz[j] + 1.45 * width)
                if p in chosen or any(w[0] < window[1] and window[0] < w[1] for w in windows):
                    continue
                chosen.append(p)
                windows.append(window)

        take([p for p in by_height if split[p]], max(1, n_panels // 2))  # show disagreements too
        take(by_height, n_panels)
        chosen.sort(key=lambda p: self.mz[keys[p][0]])
        shown = [(keys[p][0], keys[p][1], union[keys[p]]) for p in chosen]
        part["figure"] = figures.isotope_figure(self.mz, heights, self.spectrum, self.methods, shown,
                                                [status[p] for p in chosen])
        part["shown"] = [f"{self.mz[i]:.4f} → {self.mz[j]:.4f}" + (f" (z = {z})" if z > 1 else "")
                         for i, j, z in shown]
        return part

    # ---- gallery -------------------------------------------------------------------------
    def gallery(self):
        return {"max_members": self.max_members, "methods": [self.method_gallery(m) for m in self.methods]}

    def thumbnail(self, image, caption, css_class="", title="", max_side=128):
        tiny = max(image.shape) < 60
        return {"uri": figures.image_uri(image, self.mask, figures.display_scale(image, self.mask), max_side),
                "caption": caption, "title": title, "css": " ".join(c for c in (css_class, "px" if tiny else "") if c)}

    def method_gallery(self, method):
        means = (np.asarray(method.result.cluster_mean_images) if method.result.cluster_mean_images is not None
                 else np.zeros((0,) + self.mask.shape, np.float32))
        shown = min(method.n_clusters, self.max_clusters)
        clusters = [self.cluster_row(method, f"Cluster {c}", method.color(c), method.members[c],
                                     means[c] if c < len(means) else None) for c in range(shown)]
        more = None
        if method.n_clusters > shown:
            left = sum(len(m) for m in method.members[shown:])
            more = f"{method.n_clusters - shown} more clusters ({left} ion images) not shown (max_clusters={self.max_clusters})."
        noise = np.flatnonzero(method.noise)
        noise_row = None
        if noise.size:
            noise = noise[np.argsort(self.mz[noise], kind="stable")]
            noise_row = self.cluster_row(method, "Noise", figures.NOISE_COLOR, noise, None)
        n_empty = int(method.empty.sum())
        empty = None
        if n_empty:
            empty = ", ".join(f"{v:.4f}" for v in np.sort(self.mz[method.empty])[:20]) + (" …" if n_empty > 20 else "")
        counts = (f"{method.n_clusters} clusters, {int((method.labels >= 0).sum())} clustered ion images, "
                  f"{int(method.noise.sum())} noise, {n_empty} empty.")
        return {"label": method.label, "counts": counts, "clusters": clusters, "more": more, "noise": noise_row,
                "empty": empty}

    def cluster_row(self, method, name, color, members, mean_image):
        members = np.asarray(members, np.int64)
        picked = self.representatives(method, members)
        thumbs = []
        if mean_image is not None:
            thumbs.append(self.thumbnail(np.asarray(mean_image, np.float32), "mean", "mean"))
        for k in picked:
            thumbs.append(self.thumbnail(self.image(k), f"{self.mz[k]:.4f}",
                                         title=f"m/z {self.mz[k]:.4f} ({method.cluster_name(k)})"))
        return {"name": name, "color": color, "n": int(members.size),
                "mz_range": (f"m/z {self.mz[members].min():.4f} – {self.mz[members].max():.4f}" if members.size else ""),
                "thumbs": thumbs, "more": int(members.size - len(picked)),
                "listing": ", ".join(f"{v:.4f}" for v in self.mz[members]) if members.size > len(picked) else None}

    def representatives(self, method, members):
        """Up to max_members members nearest the cluster's centre in the embedding, by m/z."""
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
    def embedding_part(self):
        from ._interactive import embedding_spec, script_json

        wide = self.columns == 1
        out = []
        for index, m in enumerate(self.methods):
            entry = {"label": m.label, "name": m.name, "id": f"embedding-{index}", "static": None, "spec": None,
                     "extra": None, "extra_alt": "", "extra_note": None}
            if self.interactive is not None:
                spec = embedding_spec(m, self.mz)
                entry["spec"] = None if spec is None else script_json(spec)
            entry["static"] = figures.embedding_figure(m, wide)
            if m.clusterer == "hdbscan":
                entry["extra"] = figures.condensed_tree_figure(m, wide)
                entry["extra_alt"] = f"condensed tree of {m.name}"
                if entry["extra"] is None:
                    entry["extra_note"] = "No condensed tree (fewer than two ion images)."
            else:
                curve = np.asarray(m.value("k_distances", []), np.float64)
                eps = m.params.get("eps")
                if curve.size and eps is not None:
                    entry["extra"] = figures.k_distance_figure(curve, eps, m.params.get("eps_auto"), wide)
                    entry["extra_alt"] = f"k-distance curve of {m.name}"
            out.append(entry)
        hover = None
        if self.interactive is not None and any(e["spec"] for e in out):
            n = len(self.mz)
            thumbs = ([self.thumbnail(self.image(k), "", max_side=96)["uri"] for k in range(n)]
                      if n <= HOVER_THUMBNAILS else [])
            hover = script_json({"mz": [f"{v:.4f}" for v in self.mz], "thumbnails": thumbs})
        return {"methods": out, "hover": hover}
