"""Ion images of a real MALDI-TOF mouse kidney section, straight from imzML.

Reads $SPATIALEMBED_DATA/msi/mouse_kidney/mouse_kidney_nyakas2013.imzML (2,222 pixels,
continuous profile mode), computes the mean spectrum, picks its strongest peaks (MAD noise,
SNR >= 3), extracts every ion image in one pass, preprocesses them (hotspot clipping, scaling
to [0, 1]) and writes a grid of the images plus the mean spectrum with its peaks. The same
m/z are extracted from the centroided (processed-mode) version of the file to show that both
give the same section outline.

    python examples/python/kidney_ion_images.py --out results/kidney
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

import spatialembed  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def data_dir():
    return Path(os.environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/kidney"), help="folder for the figures")
    parser.add_argument("--top-n", type=int, default=24, help="number of peaks to image")
    parser.add_argument("--tol-ppm", type=float, default=1000.0, help="window half-width, ppm (profile MALDI-TOF peaks are wide)")
    parser.add_argument("--quick", action="store_true", help="accepted for the test runner; the data is small")
    args = parser.parse_args()

    folder = data_dir() / "msi" / "mouse_kidney"
    profile = folder / "mouse_kidney_nyakas2013.imzML"
    if not profile.is_file():
        print(f"skipped: {profile} not found (set SPATIALEMBED_DATA)")
        return 0
    start = time.perf_counter()
    with spatialembed.ImzMLReader(profile, verify_checksum=True) as reader:
        lo, hi = reader.mz_range()
        print(f"{reader}: m/z {lo:.1f}-{hi:.1f}, pixel 0 TIC {reader.tic(0):g} (file states {reader.stored_tic[0]:g}, MALDIquant's trapezoid)")
        mz, mean = reader.mean_spectrum()
        peaks = spatialembed.pick_peaks(mz, mean, snr=3, half_window=20, top_n=args.top_n)
        stack = reader.ion_images(peaks["mz"], tol_ppm=args.tol_ppm)
    print(f"{len(peaks['mz'])} peaks (noise {peaks['noise']:.3g}); {stack}; {time.perf_counter() - start:.2f} s")
    with spatialembed.ImzMLReader(folder / "mouse_kidney_nyakas2013_centroid.imzML") as reader:
        centroid = reader.ion_images(peaks["mz"], tol_ppm=args.tol_ppm)
    same_outline = np.array_equal(centroid.mask, stack.mask)
    print(f"centroid file: {centroid}; same pixels: {same_outline}")

    clean = stack.preprocess(hotspot_quantile=0.99)
    args.out.mkdir(parents=True, exist_ok=True)
    fig = clean.plot(ncols=6)
    fig.savefig(args.out / "kidney_ion_images.png", dpi=90)
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.plot(mz, mean, lw=0.7)
    ax.plot(peaks["mz"], peaks["intensities"], "rv", ms=4)
    ax.set(xlabel="m/z", ylabel="mean intensity", title="mean spectrum and picked peaks")
    fig.tight_layout()
    fig.savefig(args.out / "kidney_mean_spectrum.png", dpi=90)
    print(f"wrote {args.out / 'kidney_ion_images.png'} and {args.out / 'kidney_mean_spectrum.png'}")
    return 0 if same_outline else 1


if __name__ == "__main__":
    sys.exit(main())
