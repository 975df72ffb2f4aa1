"""The interactive 3-D embedding: plotly.js (Debian python3-plotly) inlined into the report, so
the file stays self-contained and opens offline; one figure per method, rotate and zoom with the
mouse, hover shows the ion's m/z, cluster and its thumbnail."""
import json

import numpy as np

from ._figures import NOISE_COLOR


def plotly_js():
    """The plotly.js source the installed plotly package ships, or None without plotly."""
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        return None
    return get_plotlyjs()


def script_json(value):
    """JSON safe inside an HTML <script> element (no "</script>", no HTML-significant characters)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _coordinates(values):
    return [None if not np.isfinite(v) else round(float(v), 5) for v in values]


def embedding_spec(method, mz, height=520):
    """A plotly figure (data, layout, config) of one method's embedding: a trace per cluster (the
    legend toggles them) and one for noise, ``customdata`` = ion-image index, hover = m/z and
    cluster. None when the embedding has fewer than 2 dimensions or no finite point."""
    points = method.embedding
    if points.ndim != 2 or points.shape[1] < 2:
        return None
    finite = np.all(np.isfinite(points), axis=1)
    if not finite.any():
        return None
    three = points.shape[1] >= 3
    groups = [(f"cluster {c}", method.color(c), np.flatnonzero(finite & (method.labels == c)))
              for c in range(method.n_clusters)]
    groups.append(("noise", NOISE_COLOR, np.flatnonzero(finite & (method.labels < 0))))
    data = []
    for name, color, rows in groups:
        if rows.size == 0:
            continue
        trace = {"type": "scatter3d" if three else "scatter", "mode": "markers", "name": name,
                 "x": _coordinates(points[rows, 0]), "y": _coordinates(points[rows, 1]),
                 "customdata": [int(k) for k in rows], "text": [f"{mz[k]:.4f}" for k in rows],
                 "hovertemplate": "m/z %{text}<br>" + name.replace("%", "%%") + "<extra></extra>",
                 "marker": {"size": 3 if name == "noise" else 4.5, "color": color,
                            "opacity": 0.6 if name == "noise" else 0.95}}
        if three:
            trace["z"] = _coordinates(points[rows, 2])
        data.append(trace)
    if method.n_clusters <= 30:  # cluster numbers at the clusters' centres, as in the static views
        centres = [(c, points[rows].mean(axis=0)) for c, (_, _, rows) in enumerate(groups[:-1]) if rows.size]
        if centres:
            label = {"type": "scatter3d" if three else "scatter", "mode": "text", "name": "cluster numbers",
                     "x": [round(float(p[0]), 5) for _, p in centres], "y": [round(float(p[1]), 5) for _, p in centres],
                     "text": [str(c) for c, _ in centres], "hoverinfo": "skip", "showlegend": False,
                     "textfont": {"size": 12, "color": "#111111"}}
            if three:
                label["z"] = [round(float(p[2]), 5) for _, p in centres]
            data.append(label)
    axis = lambda title: {"title": {"text": title}, "showticklabels": False}  # noqa: E731
    layout = {"height": height, "margin": {"l": 0, "r": 0, "t": 10, "b": 0}, "hovermode": "closest",
              "legend": {"itemsizing": "constant", "font": {"size": 11}, "x": 0, "y": 1, "xanchor": "left", "yanchor": "top", "bgcolor": "rgba(255,255,255,0.7)"}, "paper_bgcolor": "#ffffff"}
    if three:
        layout["scene"] = {"xaxis": axis("UMAP 1"), "yaxis": axis("UMAP 2"), "zaxis": axis("UMAP 3"),
                           "aspectmode": "cube"}
    else:
        layout.update(xaxis=axis("UMAP 1"), yaxis=axis("UMAP 2"))
    config = {"displaylogo": False, "responsive": True, "scrollZoom": True,
              "modeBarButtonsToRemove": ["sendDataToCloud"]}
    return {"data": data, "layout": layout, "config": config}
