"""End-to-end contrastive training benchmark: her2st sections on disk → tiles under the spots →
frozen ResNet-50 → one epoch of the CLIP heads, spatialembed against an STimage-1K4M-style
Python pipeline (pandas tables, PIL crops in a torch DataLoader, the same network in PyTorch).

Both sides do the same work, each in a fresh process with the same threads:
- read the spot tables and counts of the training sections, log-normalise the counts and
  keep the 1000 highly expressed genes (the trainer's default training genes);
- cut the tile of one spot diameter (0.5 × the median grid spacing) under each spot and
  resample it to 224²;
- run the frozen ImageNet ResNet-50 (the real npm weights; Keras "caffe" input) on every tile;
- train BLEEP's projection heads with the clip loss for one epoch (batch 256, AdamW).

spatialembed: ``read_her2st`` + ``ContrastiveTrainer(epochs=1).fit(sections)`` (its defaults).
Python: pandas ``read_csv``, ``PIL.Image.crop`` + ``resize(BILINEAR)`` in a ``Dataset``,
``DataLoader(batch_size=256, shuffle=True, num_workers=W)``, tests/python/keras_reference.py's
ResNet-50 under ``torch.no_grad()``, the heads of bench_contrastive.py.

    .venv/bin/python bench/contrastive/bench_end_to_end.py [--sections B4,C2,C3,C4,C5] [--workers 0,2]
"""
import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[2] / "tests" / "python"))
import harness  # noqa: E402

BATCH, GENES, SIDE = 256, 1000, 224


def ours(root, names, n_jobs):
    import warnings

    from spatialembed import ContrastiveTrainer, read_her2st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spots without a count row are reported, not errors
        sections = [read_her2st(root, n) for n in names]
    est = ContrastiveTrainer(epochs=1, batch_size=BATCH, n_top_genes=GENES, n_jobs=n_jobs).fit(sections)
    return dict(pairs=est.result_.train_pairs, steps=est.result_.steps, final_loss=est.result_.final_loss)


def read_section_pandas(root, name):
    """Spot table joined with the counts by id, the spot diameter in pixels."""
    import pandas as pd

    spots = pd.read_csv(root / "spots" / f"{name}_selection.tsv", sep="\t")
    spots.index = spots["x"].astype(str) + "x" + spots["y"].astype(str)
    counts = pd.read_csv(root / "counts" / f"{name}.tsv.gz", sep="\t", index_col=0)
    spots = spots.loc[spots.index.intersection(counts.index)]
    right = spots.set_index(["x", "y"])[["pixel_x", "pixel_y"]]
    shifted = right.copy()
    shifted.index = pd.MultiIndex.from_arrays([right.index.get_level_values(0) - 1, right.index.get_level_values(1)])
    step = (right - shifted.reindex(right.index)).dropna()
    diameter = 0.5 * float(np.median(np.hypot(step["pixel_x"], step["pixel_y"])))
    return spots, counts.loc[spots.index], diameter


def python_pipeline(root, names, n_jobs, workers):
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    import keras_reference as kr
    from bench_contrastive import clip_step, python_heads
    from spatialembed.nn import default_weights_path  # the same weight files, read by the reference

    torch.set_num_threads(n_jobs)
    Image.MAX_IMAGE_PIXELS = None  # the her2st images are above PIL's bomb limit
    tables = [read_section_pandas(root, n) for n in names]
    shared = sorted(set.intersection(*(set(c.columns) for _, c, _ in tables)))
    logs = []
    for _, counts, _ in tables:
        x = counts[shared].to_numpy(np.float32)
        logs.append(np.log1p(x / np.maximum(x.sum(axis=1, keepdims=True), 1) * 1e4))
    expression = np.concatenate(logs)
    top = np.sort(np.argsort(-expression.mean(axis=0), kind="stable")[:GENES])
    expression = np.ascontiguousarray(expression[:, top])
    items = [(i, float(px), float(py), d) for i, (spots, _, d) in enumerate(tables)
             for px, py in zip(spots["pixel_x"], spots["pixel_y"])]

    class Tiles(Dataset):
        def __init__(self):
            self.images = {}

        def __len__(self):
            return len(items)

        def __getitem__(self, j):
            i, px, py, d = items[j]
            if i not in self.images:  # decoded once per worker
                self.images[i] = Image.open(root / "images" / f"{names[i]}.jpg").convert("RGB")
            r = d / 2
            tile = self.images[i].crop((round(px - r), round(py - r), round(px + r), round(py + r)))
            rgb = np.asarray(tile.resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float32) / 255.0
            return kr.caffe_input(rgb[None])[0], torch.from_numpy(expression[j])

    weights, eps = kr.read_tfjs(default_weights_path("resnet50"))
    net = kr.ResNet50(weights, eps)
    o = dict(gene_encoder="projection_head", latent_dim=256, dropout=0.1, lr=1e-3, weight_decay=1e-3)
    img, gene, logit_scale, opt = python_heads(2048, GENES, o)
    torch.manual_seed(0)
    loader = DataLoader(Tiles(), batch_size=BATCH, shuffle=True, num_workers=workers)  # every tile, as the trainer
    steps, loss = 0, float("nan")
    for x, y in loader:
        with torch.no_grad():
            features = net.features(x)
        loss = clip_step(img, gene, logit_scale, opt, features, y, o["lr"])
        steps += 1
    return dict(pairs=len(items), steps=steps, final_loss=loss)


def child(spec):
    t0 = time.perf_counter()
    root = Path(spec["root"])
    if spec["lib"] == "spatialembed":
        out = ours(root, spec["sections"], spec["n_jobs"])
    else:
        out = python_pipeline(root, spec["sections"], spec["n_jobs"], spec["workers"])
    wall = time.perf_counter() - t0
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    out.update(wall_s=wall, cpu_s=sum(u.ru_utime + u.ru_stime for u in usage), peak_mb=harness.peak_rss_mb())
    Path(spec["out"] + ".json").write_text(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("SPATIALEMBED_DATA",
                                                         str(HERE.parents[3] / "shared" / "data")))
    parser.add_argument("--sections", default="B4,C2,C3,C4,C5")
    parser.add_argument("--workers", default="0,2", help="DataLoader num_workers values to run")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    import tempfile

    root = str(Path(args.data) / "st" / "her2st")
    names = args.sections.split(",")
    print(harness.machine_info())
    print(f"her2st {', '.join(names)}: tiles → frozen ResNet-50 → one epoch of the clip heads (batch {BATCH}, "
          f"{GENES} genes), {args.n_jobs} threads, each run in a fresh process")
    runs = [("spatialembed", dict(lib="spatialembed"))]
    runs += [(f"PIL + DataLoader, {w} workers", dict(lib="python", workers=int(w))) for w in args.workers.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, spec in runs:
            spec.update(root=root, sections=names, n_jobs=args.n_jobs, out=str(Path(tmp) / spec["lib"]))
            results[label] = harness.run_child(__file__, spec, args.n_jobs)
    ref = results["spatialembed"]
    print("| pipeline | pairs | steps | wall s | CPU s | peak MB | wall ratio to spatialembed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        if r is None:
            continue
        print(f"| {label} | {r['pairs']} | {r['steps']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mb']:.0f} | "
              f"{harness.fmt(harness.ratio(r['wall_s'], ref and ref['wall_s']), '.2f')} |")


if __name__ == "__main__":
    main()
