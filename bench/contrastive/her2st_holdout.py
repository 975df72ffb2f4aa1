"""her2st hold-out run of the contrastive trainer: train on B4, C2, C3, C4, C5, predict the expression of C6 from its H&E tiles by retrieval
(BLEEP's protocol, k = 50), score per-gene Pearson r averaged over C6's top-50 most expressed
(HEG) and top-50 most variable (HVG) genes among the genes shared by all six sections.

Pairs come from ``pairs_from_sections``: tiles = one spot diameter around each spot centre
(``Section.tiles(diameter_multiple=1, output_size=224)``), expression = normalize_total (1e4)
+ log1p at the genes shared by all six sections. Training genes: the 1000 highly variable genes
of the training sections (``highly_variable_genes``, seurat_v3, genes matched by name). Zero-shot baseline: the same retrieval with the frozen
ImageNet ResNet-50 features (query tiles against reference tiles).

    .venv/bin/python bench/contrastive/her2st_holdout.py [--data ../shared/data] [--epochs 30]
"""
import argparse
import os
import time
from pathlib import Path

import warnings

import numpy as np

from spatialembed import highly_variable_genes, read_her2st
from spatialembed.contrastive import ContrastiveTrainer, pearson_per_gene, predict_expression
from spatialembed.spatial import pairs_from_sections

SECTIONS = ["B4", "C2", "C3", "C4", "C5", "C6"]


def score(pred, truth, heg, hvg):
    r = pearson_per_gene(pred, truth)
    return np.nanmean(r[heg]), np.nanmean(r[hvg])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get(
        "SPATIALEMBED_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data")))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    root = Path(args.data) / "st" / "her2st"

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched spot ids
        sections = [read_her2st(root, name) for name in SECTIONS]
    genes = list(highly_variable_genes(sections, n_top_genes=10).index)  # the genes all six share
    T, X, group = pairs_from_sections(sections, genes, diameter_multiple=1.0, output_size=224, n_jobs=args.n_jobs)
    print(f"read + tiles: {time.perf_counter() - t0:.1f} s, {len(genes)} shared genes, "
          f"spots {np.bincount(group).tolist()}, tiles {T.shape[1]} px")

    train = group < len(SECTIONS) - 1
    X_all, T_all = X[train], T[train]
    hvg_table = highly_variable_genes(sections[:-1], n_top_genes=1000, flavor="seurat_v3")
    hvg_train = np.flatnonzero(hvg_table.loc[genes, "highly_variable"].to_numpy())
    truth = X[~train]
    tiles = {"C6": T[~train]}
    heg = np.argsort(-truth.mean(axis=0), kind="stable")[:50]
    hvg = np.argsort(-truth.var(axis=0), kind="stable")[:50]

    # The frozen ResNet-50 features, once (what the trainer's cache computes).
    t0 = time.perf_counter()
    probe = ContrastiveTrainer(gene_encoder="linear", latent_dim=8, batch_size=4, epochs=1, n_jobs=args.n_jobs)
    probe.fit(T_all[:8], X_all[:8, :8])
    F_train = probe.model_.image_features(T_all)
    F_query = probe.model_.image_features(tiles["C6"])
    feature_s = time.perf_counter() - t0
    print(f"ResNet-50 features of {len(T_all) + len(F_query)} tiles: {feature_s:.1f} s")

    zero = predict_expression(F_query, F_train, X_all, k=50)
    print("| model | HEG-50 r | HVG-50 r | train s |")
    print("|---|---:|---:|---:|")
    print("| zero-shot ResNet-50 (image-image retrieval) | %.3f | %.3f | - |" % score(zero, truth, heg, hvg))
    for loss, encoder in [("clip", "projection_head"), ("bleep", "projection_head"), ("clip", "linear")]:
        est = ContrastiveTrainer(backbone="features", loss=loss, gene_encoder=encoder, epochs=args.epochs,
                                 n_jobs=args.n_jobs)
        t0 = time.perf_counter()
        est.fit(F_train, X_all[:, hvg_train])
        train_s = time.perf_counter() - t0
        query = est.encode_images(F_query, normalize=False)
        reference = est.encode_genes(X_all[:, hvg_train], normalize=False)
        pred = predict_expression(query, reference, X_all, k=50)
        h, v = score(pred, truth, heg, hvg)
        print(f"| {loss} + {encoder} ({args.epochs} epochs) | {h:.3f} | {v:.3f} | {train_s:.1f} |")


if __name__ == "__main__":
    main()
