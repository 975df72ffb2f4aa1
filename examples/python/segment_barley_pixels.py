"""Segment a real MSI section by clustering its pixel spectra with spatialembed.DBSCAN.

Reads the barley-seed ion-image stack (101 PNG ion images, alpha = measured pixels) from
$SPATIALEMBED_DATA/msi/barley_png, turns it into a pixels x m/z matrix, TIC-normalises each
pixel, reduces it to 3-D with PCA, picks eps on the k-distance curve (its median: pixels of
one tissue form a continuum, and the curve's knee merges them into one cluster), clusters
with DBSCAN and writes the segmentation map and the k-distance plot as PNGs. scikit-learn's
DBSCAN runs on the same points to show the labels are identical.

    python examples/python/segment_barley_pixels.py --out results/
"""
import argparse
import os
import sys
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sklearn.cluster  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

import spatialembed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def data_dir():
    return Path(os.environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data"))


def load_png_stack(folder):
    """Return (m/z values, images n x H x W float32, mask H x W bool) from a PNG folder."""
    files = sorted(folder.glob("*.png"), key=lambda p: float(p.stem))
    mz, images, mask = [], [], None
    for path in files:
        rgba = np.asarray(Image.open(path).convert("RGBA"))
        mz.append(float(path.stem))
        images.append(rgba[..., 0].astype(np.float32))  # grey-scale: R = G = B
        mask = rgba[..., 3] == 255 if mask is None else mask
    return np.array(mz), np.stack(images), mask


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/barley"), help="folder for the figures")
    parser.add_argument("--min-samples", type=int, default=10)
    parser.add_argument("--eps-quantile", type=float, default=0.5, help="eps = this quantile of the k-distances")
    parser.add_argument("--quick", action="store_true", help="accepted for the test runner; the data is small")
    args = parser.parse_args()

    folder = data_dir() / "msi" / "barley_png"
    if not folder.is_dir():
        print(f"skipped: {folder} not found (set SPATIALEMBED_DATA)")
        return 0
    mz, images, mask = load_png_stack(folder)
    pixels = images[:, mask].T  # measured pixels x m/z
    tic = pixels.sum(axis=1, keepdims=True)
    pixels = np.divide(pixels, tic, out=np.zeros_like(pixels), where=tic > 0)
    points = PCA(n_components=3, random_state=0).fit_transform(pixels).astype(np.float32)
    print(f"{len(mz)} ion images (m/z {mz[0]:.3f}-{mz[-1]:.3f}), {pixels.shape[0]} measured pixels")

    curve = spatialembed.k_distance(points, args.min_samples)
    eps = float(np.quantile(curve, args.eps_quantile))
    start = time.perf_counter()
    model = spatialembed.DBSCAN(eps=eps, min_samples=args.min_samples).fit(points)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    reference = sklearn.cluster.DBSCAN(eps=eps, min_samples=args.min_samples).fit(points)
    theirs = time.perf_counter() - start
    same = np.array_equal(model.labels_, reference.labels_)
    sizes = np.bincount(model.labels_[model.labels_ >= 0])
    print(f"eps = {eps:.4g} (quantile {args.eps_quantile} of the {args.min_samples}-distance curve): {model.n_clusters_} clusters, "
          f"sizes {sizes.tolist()}, noise {np.mean(model.labels_ < 0):.1%}")
    print(f"spatialembed {ours * 1e3:.1f} ms, scikit-learn {theirs * 1e3:.1f} ms; labels identical: {same}")

    args.out.mkdir(parents=True, exist_ok=True)
    segmentation = np.full(mask.shape, np.nan)
    segmentation[mask] = model.labels_
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(curve)
    left.axhline(eps, color="red", linestyle="--", label=f"eps = {eps:.3g}")
    left.set(xlabel="pixels, sorted", ylabel=f"{args.min_samples}-distance", title="k-distance curve")
    left.legend()
    cmap = plt.get_cmap("tab10").copy()
    cmap.set_under("lightgrey")
    shown = right.imshow(segmentation, cmap=cmap, vmin=-0.5, vmax=max(model.n_clusters_, 1) - 0.5)
    shown.cmap.set_under("lightgrey")
    right.set(title=f"DBSCAN segmentation ({model.n_clusters_} clusters, grey = noise)")
    right.axis("off")
    fig.tight_layout()
    figure = args.out / "barley_dbscan_segmentation.png"
    fig.savefig(figure, dpi=100)
    print(f"wrote {figure}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
