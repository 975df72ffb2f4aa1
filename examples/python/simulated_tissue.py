"""A simulated MSI tissue section with ground truth, written as imzML and read back.

Simulates regions, nodules, thin layers and a gradient with molecules whose isotope peaks
share one spatial pattern each (`spatialembed.simulate_tissue`), writes a processed
(centroid) imzML with its `_truth.json`, extracts every ion image at the truth m/z and
draws each truth pattern next to one of its ion images. How well ion images of one pattern
agree (and ions of different patterns do not) is what an ion-image clustering is scored on.

    python examples/python/simulated_tissue.py --out results/simulated
"""
import argparse
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402

import spatialembed  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/simulated"), help="folder for data and figures")
    parser.add_argument("--size", type=int, default=160, help="width in pixels (height = 3/4 of it)")
    parser.add_argument("--quick", action="store_true", help="a small section")
    args = parser.parse_args()
    width = 64 if args.quick else args.size
    height = width * 3 // 4

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "simulated.imzML"
    start = time.perf_counter()
    truth = spatialembed.simulate_tissue(path, width=width, height=height, n_molecules=60, n_nodules=4, n_layers=3,
                                         n_shoulder_pairs=3, random_state=1, overwrite=True)
    n_ions, n_patterns = len(truth["mz"]), len(truth["patterns"])
    print(f"{n_ions} ion images of {len(truth['molecule_mz'])} molecules in {n_patterns} patterns, "
          f"{int(truth['mask'].sum())} pixels: {time.perf_counter() - start:.2f} s -> {path}")
    for kind in ("region", "region_nodule", "nodule", "layer", "gradient"):
        print(f"  {kind:14s} {sum(k == kind for k in truth['kind']):4d} ion images")

    stack = spatialembed.IonImageStack.from_imzml(path, truth["mz"], tol_ppm=1)
    x0, y0 = stack.origin
    h, w = stack.images.shape[1:]
    maps = truth["pattern_maps"][:, y0 - 1:y0 - 1 + h, x0 - 1:x0 - 1 + w]
    vectors = stack.images[:, stack.mask]
    # Hotspots (single pixels at 20-100x) dominate Pearson correlations; ranks (Spearman) are
    # robust to them.
    same = truth["pattern"][:, None] == truth["pattern"][None, :]
    off = ~np.eye(n_ions, dtype=bool)
    for name, v in (("Pearson", vectors), ("Spearman", scipy.stats.rankdata(vectors, axis=1))):
        c = np.corrcoef(v)
        print(f"mean {name} r between ion images: same pattern {c[same & off].mean():.2f}, "
              f"different patterns {c[~same].mean():.2f}")
    # Display: each image up to its 99.9th percentile, so a hotspot does not blacken the rest.
    top = np.quantile(vectors, 0.999, axis=1)
    top = np.where(top > 0, top, vectors.max(axis=1))
    shown = np.zeros_like(stack.images)
    shown[:, stack.mask] = np.minimum(vectors, top[:, None])

    fig, axes = plt.subplots(2, n_patterns, figsize=(1.6 * n_patterns, 3.6), squeeze=False)
    for i in range(n_patterns):
        k = int(np.flatnonzero(truth["pattern"] == i)[0])
        axes[0, i].imshow(np.where(stack.mask, maps[i], np.nan), interpolation="nearest")
        axes[0, i].set_title(f"{i}: {truth['patterns'][i]['kind']}", fontsize=7)
        axes[1, i].imshow(np.where(stack.mask, shown[k], np.nan), interpolation="nearest")
        axes[1, i].set_title(f"m/z {truth['mz'][k]:.3f}", fontsize=7)
    for a in axes.ravel():
        a.axis("off")
    fig.tight_layout()
    fig.savefig(args.out / "simulated_patterns.png", dpi=100)
    print(f"figure: {args.out / 'simulated_patterns.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
