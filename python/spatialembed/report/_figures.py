"""The report's static figures and thumbnails: matplotlib on standalone Agg figures (pyplot's
global state and the user's backend are left alone), PNGs as data URIs. Every function draws
what the result holds; nothing is computed anew but display choices (envelopes, scales)."""
import base64
import io
import math

import numpy as np

NOISE_COLOR = "#9a9a9a"
EMPTY_COLOR = "#d0d0d0"


def cluster_colors(n):
    """A qualitative palette of ``n`` hex colours (tab10, then tab20 + tab20b + tab20c, cycling)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if n <= 10:
        base = [to_hex(c) for c in colormaps["tab10"].colors]
    else:
        base = [to_hex(c) for name in ("tab20", "tab20b", "tab20c") for c in colormaps[name].colors]
    return [base[i % len(base)] for i in range(n)]


def png_data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_uri(fig, dpi=100):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return png_data_uri(buffer.getvalue())


def display_scale(image, mask):
    """The 99th percentile of an image over the measured pixels (its maximum when that is 0)."""
    values = image[mask] if mask.any() else image.ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    scale = float(np.percentile(values, 99))
    return scale if scale > 0 else float(values.max())


def image_uri(image, mask, scale, max_side=128):
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
    return png_data_uri(buffer.getvalue())


def envelope(mz, y, n_bins):
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


def spectrum_figure(mz, heights, spectrum, methods):
    """Per method: the mean spectrum with each ion's m/z as a stem in its cluster's colour, and
    a strip with the m/z of every ion image in its cluster's row."""
    from matplotlib.figure import Figure

    n_methods = len(methods)
    strip_heights = [min(0.16 * (m.n_clusters + 2) + 0.5, 4.0) for m in methods]
    ratios = []
    for h in strip_heights:
        ratios += [2.3, h]
    fig = Figure(figsize=(13.5, sum(ratios) + 0.5 * n_methods + 0.3), layout="constrained")
    axes = fig.subplots(2 * n_methods, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    lo, hi = float(mz.min()), float(mz.max())
    if spectrum is not None:
        smz, sy = spectrum
        keep = (smz >= lo - 0.05 * (hi - lo + 1)) & (smz <= hi + 0.05 * (hi - lo + 1))
        env_mz, env_y = envelope(smz[keep], sy[keep], 4000) if keep.sum() > 1 else (smz, sy)
    for index, method in enumerate(methods):
        ax, strip = axes[2 * index], axes[2 * index + 1]
        if spectrum is not None:
            ax.plot(env_mz, env_y, color="#555555", lw=0.6, zorder=1)
            ax.set_ylabel("mean intensity")
        else:
            ax.set_ylabel("mean ion-image\nintensity")
        order = np.argsort(method.labels >= 0, kind="stable")  # noise first, clusters on top
        colors = [EMPTY_COLOR if method.empty[k] else method.color(method.labels[k]) for k in order]
        ax.vlines(mz[order], 0, heights[order], colors=colors, lw=1.1, zorder=2)
        clustered = order[method.labels[order] >= 0]
        ax.scatter(mz[clustered], heights[clustered], s=14, c=[method.color(method.labels[k]) for k in clustered],
                   zorder=3, edgecolors="none")
        unclustered = order[method.labels[order] < 0]
        ax.scatter(mz[unclustered], heights[unclustered], s=12, marker="x", c=NOISE_COLOR, zorder=3, linewidths=0.8)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{method.label}: ion m/z coloured by cluster (grey × = noise or empty)", fontsize=10, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        y = np.where(method.labels >= 0, method.labels, -1)
        y = np.where(method.empty, -2, y)
        strip.scatter(mz, y, marker="|", s=60, linewidths=1.4,
                      c=[EMPTY_COLOR if method.empty[k] else method.color(method.labels[k]) for k in range(len(y))])
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
    return figure_uri(fig)


VERDICTS = {"same": ("one cluster", "#1a7f37"), "split": ("split", "#c62828"),
            "noise": ("not both clustered", "#777777"), "absent": ("not a pair of this run", "#777777")}


def isotope_figure(mz, heights, spectrum, methods, shown, status):
    """Zoomed windows around the isotope pairs ``shown`` ((i, j, z) rows), one row per method;
    ``status[p][m]`` is a key of VERDICTS."""
    from matplotlib.figure import Figure

    n_cols = len(shown)
    fig = Figure(figsize=(max(2.3 * n_cols, 5.0), 2.2 * len(methods) + 0.3), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(methods), n_cols, squeeze=False))
    for col, (i, j, z) in enumerate(shown):
        width = 1.0 / z
        lo, hi = mz[i] - 0.45 * width, mz[j] + 1.45 * width
        inside = np.flatnonzero((mz >= lo) & (mz <= hi))
        for row, method in enumerate(methods):
            ax = axes[row, col]
            top = heights[inside].max() if inside.size else 1.0
            if spectrum is not None:
                smz, sy = spectrum
                a, b = np.searchsorted(smz, lo), np.searchsorted(smz, hi, side="right")
                ax.plot(smz[a:b], sy[a:b], color="#555555", lw=0.7)
                top = max(top, sy[a:b].max() if b > a else 0)
            colors = [EMPTY_COLOR if method.empty[k] else method.color(method.labels[k]) for k in inside]
            ax.vlines(mz[inside], 0, heights[inside], colors=colors,
                      linewidths=[2.4 if k in (i, j) else 1.2 for k in inside])
            for k, color in zip(inside, colors):
                label = f"c{method.labels[k]}" if method.labels[k] >= 0 else method.cluster_name(k)
                ax.annotate(label, (mz[k], heights[k]), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7, color=color if method.labels[k] >= 0 else "#666666",
                            fontweight="bold" if k in (i, j) else "normal")
            ax.set_xlim(lo, hi)
            ax.set_ylim(0, top * 1.25 if top > 0 else 1)
            ax.tick_params(labelsize=7)
            ax.yaxis.get_offset_text().set_fontsize(6)
            ax.spines[["top", "right"]].set_visible(False)
            text, color = VERDICTS[status[col][row]]
            ax.set_title(text, fontsize=8, color=color)
            if col == 0:
                ax.set_ylabel(method.name, fontsize=9)
        axes[-1, col].set_xlabel(f"m/z {mz[i]:.4f} → {mz[j]:.4f}" + (f" (z = {z})" if z > 1 else ""), fontsize=8)
    return figure_uri(fig)


def condensed_tree_figure(method, wide):
    """HDBSCAN's condensed tree: each bar a cluster from its birth λ to where it splits or dissolves."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    tree = method.condensed_tree
    if tree is None or len(tree) == 0:
        return None
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
    nodes = method.cluster_nodes if method.cluster_nodes is not None else []
    selected = {int(node): label for label, node in enumerate(nodes)}
    widest = max(count.values()) or 1
    fig = Figure(figsize=(8.0 if wide else 6.6, 2.6))
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
    return figure_uri(fig)


def k_distance_figure(curve, eps, eps_auto, wide):
    """The sorted k-distance curve with the eps used."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0 if wide else 6.6, 2.2))
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.22, top=0.9)
    ax = fig.add_subplot()
    ax.plot(np.arange(curve.size), curve, color="#333333", lw=1.2)
    ax.axhline(eps, color="#d62728", lw=1, ls="--")
    ax.text(0, eps, f" eps {eps:.3g}" + (" (auto)" if eps_auto else ""), color="#d62728", fontsize=8, va="bottom")
    ax.set_xlabel("ion images, sorted", fontsize=8)
    ax.set_ylabel("k-distance", fontsize=8)
    ax.tick_params(labelsize=7)
    return figure_uri(fig)


def embedding_figure(method, wide):
    """Static view of the embedding (two azimuths in 3-D), coloured by cluster; None when there
    is nothing to show. The fallback of the interactive view and its no-JavaScript image."""
    from matplotlib import patheffects
    from matplotlib.figure import Figure
    import mpl_toolkits.mplot3d  # noqa: F401  (registers the 3-d projection)

    points = method.embedding
    finite = np.all(np.isfinite(points), axis=1) if points.size else np.zeros(len(points), bool)
    dims = points.shape[1] if points.ndim == 2 else 0
    if dims < 2 or not finite.any():
        return None
    three = dims >= 3
    views = [(22, -60), (22, 30)] if three else [None]
    width = 11.0 if wide else 6.6
    fig = Figure(figsize=(width, width / len(views) * (1.0 if three else 0.75)))
    if three:
        fig.subplots_adjust(left=0.0, right=1.0, bottom=0.02, top=0.93, wspace=0.0)
    else:
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.95)
    outline = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    n_dims = 3 if three else 2
    noise = np.flatnonzero(finite & (method.labels < 0))
    clustered = np.flatnonzero(finite & (method.labels >= 0))
    colors = [method.color(method.labels[k]) for k in clustered]
    for index, view in enumerate(views):
        ax = fig.add_subplot(1, len(views), index + 1, **({"projection": "3d"} if three else {}))
        extra = {"depthshade": False} if three else {}
        ax.scatter(*(points[noise, d] for d in range(n_dims)), s=8, c=NOISE_COLOR, alpha=0.7, edgecolors="none", **extra)
        ax.scatter(*(points[clustered, d] for d in range(n_dims)), s=22, c=colors, edgecolors="none", alpha=0.9,
                   **extra)
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
    return figure_uri(fig)
