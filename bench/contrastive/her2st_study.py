"""her2st study of the contrastive trainer through the Section API (docs/results.md,
"Contrastive training on her2st"): the C6 hold-out (train on B4, C2, C3, C4, C5) and
leave-one-section-out over all six sections; zero-shot ResNet-50 vs trained configurations;
mean Pearson r over the held-out section's top-50 HEG and HVG (seurat_v3), by retrieval
(BLEEP, k = 50, every shared gene) and by ridge regression on the image embeddings.

The frozen ResNet-50 features of every section are computed once and kept in
``--feature-cache`` (default /tmp/spatialembed_feature_cache), so each fit costs only its
training steps.

    .venv/bin/python bench/contrastive/her2st_study.py [--data ../shared/data] [--configs default,bleep]
        [--folds C6 | --folds all] [--out study.csv]
"""
import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from spatialembed import ContrastiveTrainer, read_her2st

SECTIONS = ["B4", "C2", "C3", "C4", "C5", "C6"]
CONFIGS = {
    "default": {},  # clip, projection heads, 1000 HEG, batch 256, 30 epochs, lr 1e-3
    "default-seed1": dict(random_state=1),
    "default-seed2": dict(random_state=2),
    "hvg2000": dict(training_genes="hvg"),  # the default before 2026-12-07: seurat_v3 HVGs
    "bleep": dict(loss="bleep"),
    "stimage1k4m": dict(gene_encoder="linear", latent_dim=32, lr=5e-5, betas=(0.9, 0.98), eps=1e-6,
                        weight_decay=0.2, epochs=15),  # its recipe at batch 256 (1024 > the pairs here)
    "linear32": dict(gene_encoder="linear", latent_dim=32, weight_decay=0.2),
    "epochs60": dict(epochs=60),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get(
        "SPATIALEMBED_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data")))
    parser.add_argument("--configs", default="default", help="comma-separated names of CONFIGS, or 'all'")
    parser.add_argument("--folds", default="all", help="'all' (leave-one-section-out) or held-out section names")
    parser.add_argument("--feature-cache", default="/tmp/spatialembed_feature_cache")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="CSV of every row")
    args = parser.parse_args()
    root = Path(args.data) / "st" / "her2st"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sections = {name: read_her2st(root, name) for name in SECTIONS}
    folds = SECTIONS if args.folds == "all" else args.folds.split(",")
    configs = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    rows = []
    for held in folds:
        train = [sections[n] for n in SECTIONS if n != held]
        query = sections[held]
        zero = ContrastiveTrainer(feature_cache=args.feature_cache, n_jobs=args.n_jobs)
        t0 = time.perf_counter()
        table = zero.evaluate(query, train)
        for r in table.itertuples():
            rows.append(dict(fold=held, config="zero-shot", task=r.task, metric=r.metric, value=r.value,
                             fit_s=np.nan, train_s=np.nan, samples_s=np.nan))
        print(f"[{held}] zero-shot evaluated in {time.perf_counter() - t0:.1f} s", flush=True)
        for name in configs:
            est = ContrastiveTrainer(**CONFIGS[name], feature_cache=args.feature_cache, n_jobs=args.n_jobs)
            est.fit(train)
            table = est.evaluate(query, train, zero_shot=False)
            for r in table.itertuples():
                rows.append(dict(fold=held, config=name, task=r.task, metric=r.metric, value=r.value,
                                 fit_s=est.fit_seconds_, train_s=est.result_.train_seconds,
                                 samples_s=est.result_.samples_per_second))
            v = table.set_index(["task", "metric"])["value"]
            print(f"[{held}] {name}: retrieval HEG {v['retrieval', 'HEG-50 r']:.3f} HVG {v['retrieval', 'HVG-50 r']:.3f}"
                  f" | ridge HEG {v['ridge', 'HEG-50 r']:.3f} HVG {v['ridge', 'HVG-50 r']:.3f}"
                  f" | fit {est.fit_seconds_:.1f} s, train {est.result_.train_seconds:.1f} s", flush=True)
        if args.out:
            pd.DataFrame(rows).to_csv(args.out, index=False)
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, index=False)
    r = frame[frame.metric.isin(["HEG-50 r", "HVG-50 r"])]
    summary = r.pivot_table(index=["config", "task"], columns=["metric", "fold"], values="value")
    print(summary.round(3).to_string())
    mean = r.groupby(["config", "task", "metric"])["value"].mean().unstack("metric")
    print(mean.round(3).to_string())


if __name__ == "__main__":
    main()
