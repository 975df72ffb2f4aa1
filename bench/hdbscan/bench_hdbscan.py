"""HDBSCAN benchmark: spatialembed.HDBSCAN against our DBSCAN and a Python HDBSCAN.

No Python HDBSCAN package is installable here (Debian 12 has none: ``apt-cache search
hdbscan`` is empty, and scikit-learn 1.2 predates ``sklearn.cluster.HDBSCAN``), so the
Python side is the NumPy reference implementation of the tests
(tests/python/hdbscan_reference.py: dense mutual reachability, Kruskal, condensed tree).

What it measures (wall time, best of ``--repeats``, ``n_jobs`` threads, in this process):

A. 200,000 3-D points, the DBSCAN benchmark's data (5 Gaussian blobs of sigma 1 plus 10%
   uniform noise): HDBSCAN(min_cluster_size=10, min_samples=10) against
   DBSCAN(eps=0.3 / 0.6 / 0.9, min_samples=10); the ratio HDBSCAN / DBSCAN; the adjusted
   Rand index of each clustering against the blob each point was drawn from (noise points
   of the generator are left out).
R. Subsets of A (n = 1,000 and 3,000): spatialembed.HDBSCAN against the Python reference,
   with the labels checked to be identical.
B. The mouse urinary bladder MSI section (150 ion images, PNG): its 34,840 measured pixels,
   TIC-normalised and embedded in 3-D with spatialembed.UMAP (random_state=0, cached in
   bench/results/); HDBSCAN(min_cluster_size=10 and 50) against DBSCAN at 0.5x, 1x, 2x the
   median 10-NN distance (min_samples=10).

    /work/main/.venv/bin/python bench/hdbscan/bench_hdbscan.py [--quick] [--repeats 3] [--n-jobs 2]
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "python"))
from harness import RESULTS_DIR, machine_info  # noqa: E402
from hdbscan_reference import reference_hdbscan  # noqa: E402

import spatialembed  # noqa: E402

SEED = 20240601


def make_synthetic(n_points, seed=SEED):
    """Five sigma-1 Gaussian blobs (90%) plus 10% uniform noise, 3-D, shuffled; also the
    generating blob of each point (-1 for noise). Same data as bench/dbscan."""
    rng = np.random.default_rng(seed)
    n_blobs, dim = 5, 3
    n_noise = n_points // 10
    centres = rng.uniform(0.0, 20.0, size=(n_blobs, dim))
    sizes = np.full(n_blobs, (n_points - n_noise) // n_blobs)
    sizes[: (n_points - n_noise) % n_blobs] += 1
    blobs = np.concatenate([rng.normal(loc=c, scale=1.0, size=(s, dim)) for c, s in zip(centres, sizes)])
    truth = np.concatenate([np.full(s, i) for i, s in enumerate(sizes)] + [np.full(n_noise, -1)])
    noise = rng.uniform(blobs.min(axis=0), blobs.max(axis=0), size=(n_noise, dim))
    X = np.concatenate([blobs, noise])
    order = rng.permutation(len(X))
    return np.ascontiguousarray(X[order], dtype=np.float32), truth[order]


def best_time(fit, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        best = min(best, time.perf_counter() - start)
    return best, result


def summary(labels):
    labels = np.asarray(labels)
    return int(labels.max(initial=-1) + 1), float(np.mean(labels < 0))


def ari_vs_truth(labels, truth):
    keep = truth >= 0
    return spatialembed.adjusted_rand_score(truth[keep], np.asarray(labels)[keep])


def bladder_embedding():
    cache = RESULTS_DIR / "mouse_bladder_umap3d_spatialembed.npy"
    if cache.exists():
        return np.load(cache)
    folder = Path(os.environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data")) / "msi" / "mouse_bladder_png"
    if not folder.is_dir():
        return None
    stack = spatialembed.IonImageStack.from_png_dir(folder)
    pixels = stack.preprocess(tic_normalize=True).pixels()
    print(f"dataset B: embedding {pixels.shape[0]} pixels x {pixels.shape[1]} ion images with spatialembed.UMAP")
    emb = spatialembed.UMAP(n_components=3, random_state=0).fit_transform(pixels)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cache, np.ascontiguousarray(emb, dtype=np.float32))
    return emb


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 points for A, no reference at 3,000, no B")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    jobs, reps = args.n_jobs, args.repeats

    apt = subprocess.run(["apt-cache", "search", "hdbscan"], capture_output=True, text=True).stdout.strip()
    print(machine_info())
    print(f"apt-cache search hdbscan: {apt or '(nothing)'}; spatialembed {spatialembed.__version__}; n_jobs={jobs}")
    rows = []

    # A: 200k 3-D points, HDBSCAN vs DBSCAN.
    n = 20_000 if args.quick else 200_000
    X, truth = make_synthetic(n)
    hdb = spatialembed.HDBSCAN(min_cluster_size=10, min_samples=10, n_jobs=jobs)
    t_h, fitted = best_time(lambda: hdb.fit(X), reps)
    k, noise = summary(fitted.labels_)
    rows.append(("A synthetic", n, "HDBSCAN mcs=10", t_h, k, noise, ari_vs_truth(fitted.labels_, truth), None))
    for eps in (0.3, 0.6, 0.9):
        t_d, labels = best_time(lambda: spatialembed.DBSCAN(eps=eps, min_samples=10, n_jobs=jobs).fit_predict(X), reps)
        k, noise = summary(labels)
        rows.append(("A synthetic", n, f"DBSCAN eps={eps}", t_d, k, noise, ari_vs_truth(labels, truth), t_h / t_d))

    # R: the Python reference on subsets.
    for m in (1000,) if args.quick else (1000, 3000):
        sub = X[:m]
        t_s, ours = best_time(lambda: spatialembed.HDBSCAN(min_cluster_size=10, min_samples=10, n_jobs=jobs).fit(sub), reps)
        t_r, ref = best_time(lambda: reference_hdbscan(sub, min_cluster_size=10, min_samples=10), 1)
        same = np.array_equal(ours.labels_, ref["labels"]) and np.allclose(ours.probabilities_, ref["probabilities"])
        k, noise = summary(ours.labels_)
        rows.append(("R subset of A", m, "Python reference HDBSCAN", t_r, k, noise, None, t_r / t_s))
        rows.append(("R subset of A", m, "spatialembed HDBSCAN", t_s, k, noise, None, None))
        print(f"reference n={m}: labels and probabilities identical: {same}")
        if not same:
            sys.exit(1)

    # B: the bladder pixel embedding.
    emb = None if args.quick else bladder_embedding()
    if emb is None:
        print("dataset B skipped")
    else:
        from scipy.spatial import cKDTree
        median = float(np.median(cKDTree(emb).query(emb, k=10)[0][:, -1]))
        times = {}
        for mcs in (10, 50):
            t_h, fitted = best_time(lambda: spatialembed.HDBSCAN(min_cluster_size=mcs, min_samples=10, n_jobs=jobs).fit(emb), reps)
            times[mcs] = t_h
            k, noise = summary(fitted.labels_)
            rows.append(("B bladder UMAP", len(emb), f"HDBSCAN mcs={mcs}", t_h, k, noise, None, None))
        for f in (0.5, 1.0, 2.0):
            eps = round(f * median, 4)
            t_d, labels = best_time(lambda: spatialembed.DBSCAN(eps=eps, min_samples=10, n_jobs=jobs).fit_predict(emb), reps)
            k, noise = summary(labels)
            rows.append(("B bladder UMAP", len(emb), f"DBSCAN eps={eps}", t_d, k, noise, None, times[10] / t_d))

    print()
    print("| dataset | points | method | seconds | clusters | noise | ARI vs blobs | ratio |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, m, method, t, k, noise, ari, r in rows:
        ari_s = "-" if ari is None else f"{ari:.3f}"
        r_s = "-" if r is None else f"{r:.2f}"
        print(f"| {name} | {m:,} | {method} | {t:.3f} | {k} | {noise:.1%} | {ari_s} | {r_s} |")
    print("\nratio: time of HDBSCAN (mcs=10) / time of that DBSCAN for A and B; for R, time of the "
          "reference / time of spatialembed (the speed-up).")


if __name__ == "__main__":
    main()
