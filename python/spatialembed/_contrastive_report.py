"""The HTML page of a contrastive training run: loss curves, the evaluation table and
predicted-vs-measured expression maps on the held-out section. One self-contained file (a
Jinja2 template, inline CSS, matplotlib figures embedded as base64 PNGs, no JavaScript)."""
import base64
import html
import io

import numpy as np

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } .facts td:first-child { font-weight: bold; }
</style></head><body>
<h1>{{ title }}</h1>
<table class="facts">
{% for name, value in facts %}<tr><td>{{ name }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>
<h2>Training</h2>
{% if loss_png %}<img alt="loss curves" src="{{ loss_png }}">{% else %}<p>No step log.</p>{% endif %}
{% if rows %}
<h2>Evaluation on {{ holdout }}</h2>
<p>Expression by retrieval (k = {{ k }}, BLEEP) and by ridge regression on the image embeddings, per-gene Pearson r
on the held-out section averaged over gene lists; clustering of the image embeddings; zero-shot = the pretrained
backbone's features.</p>
<table><tr><th>model</th><th>task</th><th>metric</th><th>value</th><th>std</th></tr>
{% for r in rows %}<tr><td>{{ r.model }}</td><td>{{ r.task }}</td><td>{{ r.metric }}</td>
<td class="num">{{ r.value }}</td><td class="num">{{ r.std }}</td></tr>
{% endfor %}</table>
{% endif %}
{% if maps_png %}<h2>Predicted vs measured on {{ holdout }}</h2>
<p>{{ map_genes }}: log-normalised expression (normalize_total 1e4 + log1p); prediction by retrieval with the
trained model.</p>
<img alt="expression maps" src="{{ maps_png }}">{% endif %}
</body></html>
"""


def _png(fig):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def loss_figure(log_csv):
    """Training loss per step, validation loss per epoch, logit_scale and lr from the log CSV."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    log = pd.read_csv(log_csv)
    if log.empty:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].plot(log["step"], log["loss"], lw=1, label="training (batch)")
    val = log.dropna(subset=["validation_loss"])
    if len(val):
        axes[0].plot(val["step"], val["validation_loss"], "o-", label="validation")
    axes[0].set(xlabel="step", ylabel="loss", title="loss")
    axes[0].legend()
    axes[1].plot(log["step"], log["logit_scale"], lw=1)
    axes[1].set(xlabel="step", title="logit_scale (ln s)")
    axes[2].plot(log["step"], log["lr"], lw=1)
    axes[2].set(xlabel="step", title="learning rate")
    return _png(fig)


def maps_figure(section, measured, predicted, genes):
    """Measured and predicted expression of ``genes`` at the spots of ``section``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = section.spots["x"].to_numpy(), section.spots["y"].to_numpy()
    fig, axes = plt.subplots(2, len(genes), figsize=(3.2 * len(genes), 6.4), squeeze=False)
    for j, gene in enumerate(genes):
        m, p = measured[gene].to_numpy(), predicted[gene].to_numpy()
        r = np.corrcoef(m, p)[0, 1] if m.std() > 0 and p.std() > 0 else float("nan")
        for i, (values, what) in enumerate(((m, "measured"), (p, f"predicted (r = {r:.2f})"))):
            ax = axes[i][j]
            ax.scatter(x, y, c=values, s=18, cmap="viridis")
            ax.set_aspect("equal")
            ax.invert_yaxis()
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{gene}: {what}", fontsize=9)
    return _png(fig)


def write_report(path, est, log_csv, metrics, table, holdout, references, genes=None, k=50, n_maps=4):
    """Render the run page to ``path``."""
    import os

    import jinja2
    import pandas as pd

    loss_png = loss_figure(log_csv) if os.path.exists(log_csv) else None
    maps_png, rows, chosen = None, [], []
    if table is not None:
        for r in table.itertuples():
            rows.append({"model": r.model, "task": r.task, "metric": r.metric,
                         "value": "" if pd.isna(r.value) else f"{r.value:.4g}",
                         "std": "" if pd.isna(r.std) else f"{r.std:.3g}"})
    if holdout is not None:
        predicted = est.predict_expression(holdout, references, k=k)
        shared = [g for g in predicted.columns if g in set(holdout.genes)]
        measured = pd.DataFrame(est._expression(holdout, shared), index=holdout.spots.index, columns=shared)
        chosen = [g for g in (genes or []) if g in measured.columns][:n_maps]
        if len(chosen) < n_maps:
            top = measured.mean(axis=0).sort_values(ascending=False, kind="stable").index
            chosen += [g for g in top if g not in chosen][:n_maps - len(chosen)]
        maps_png = maps_figure(holdout, measured, predicted, chosen)
    facts = [("training sections", ", ".join(metrics["sections"])), ("held-out section", metrics["holdout"] or "-"),
             ("training genes", f"{metrics['n_genes']} (seurat_v3 HVG)"),
             ("model", html.escape(est.model_.architecture)),
             ("steps / epochs", f"{metrics['steps']} / {metrics['epochs']}"),
             ("final training loss", f"{metrics['final_loss']:.4f}"),
             ("fit wall time", f"{metrics['fit_seconds']:.1f} s (backbone features {metrics['feature_seconds']:.1f} s, "
                               f"training {metrics['train_seconds']:.1f} s, "
                               f"{metrics['samples_per_second']:.0f} samples/s)")]
    page = jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(
        title="spatialembed train-contrastive", facts=facts, loss_png=loss_png, rows=rows, maps_png=maps_png,
        holdout=metrics["holdout"], k=k, map_genes=", ".join(chosen))
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
