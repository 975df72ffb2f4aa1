"""DBSCAN benchmark: spatialembed against scikit-learn, side by side.

What it measures
----------------
For every (dataset, eps) pair it fits ``sklearn.cluster.DBSCAN`` and
``spatialembed.DBSCAN`` on the same float32 array, with the same
``min_samples`` and ``n_jobs`` (2 by default), and reports:

* wall time of ``fit`` (``time.perf_counter``; the best of ``--repeats``),
* peak resident memory of the process that ran the fit (VmHWM) and the
  increase of that peak over the resident memory just before ``fit``, i.e.
  after the interpreter, the library and the data were loaded,
* the ratios sklearn / spatialembed of time and of peak memory,
* whether the two label arrays (and the core-sample indices) are identical.

Every fit runs in a fresh child process (this script, started again with a
hidden ``--child`` argument) so that each peak-memory figure belongs to one
fit only. The children import only the library they measure, and thread pools
(OpenMP, BLAS) are capped at ``--n-jobs`` so that neither side gets extra
threads.

Datasets
--------
A. synthetic: 200,000 3-D points, 5 Gaussian blobs (sigma 1, 36,000 points
   each, centres uniform in a cube of side 20) plus 20,000 uniform noise
   points over the blobs' bounding box, shuffled; fixed seed;
   eps = 0.3, 0.6, 0.9; min_samples = 10.
B. real (optional): the 34,840 measured pixels of the mouse urinary bladder
   MSI section (150 ion images, PNG) embedded into 3-D with UMAP
   (umap-learn, random_state=0) after TIC normalisation. eps is chosen from
   the data: 0.5x, 1x and 2x the median distance to the 10th nearest
   neighbour (counting the point itself, as DBSCAN's min_samples does).
   The embedding is cached in bench/results/ and reused. Skipped with a note
   when umap-learn or the data are missing. Data folder: $SPATIALEMBED_DATA,
   default ../shared/data relative to the repository root.

How to run (from the repository root)
-------------------------------------
    .venv/bin/python bench/dbscan/bench_dbscan.py            # full run
    .venv/bin/python bench/dbscan/bench_dbscan.py --quick    # 20,000 points, dataset A only

The full run needs about 6 GB of free memory (sklearn at eps=0.9 peaks at
about 5.2 GB) and a few minutes. Generated arrays go to bench/results/
(ignored by git). The exit status is 1 if a run failed or the labels differ.
"""

import argparse
import glob
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import harness  # noqa: E402
from harness import REPO_ROOT, RESULTS_DIR, current_rss_mb, fmt, machine_info, peak_rss_mb, ratio  # noqa: E402
LIBRARIES = ("sklearn", "spatialembed")

SEED = 20240601
SYNTHETIC_EPS = (0.3, 0.6, 0.9)
REAL_EPS_FACTORS = (0.5, 1.0, 2.0)


# --------------------------------------------------------------------------
# Child process: one fit, measured in isolation.
# --------------------------------------------------------------------------







def make_estimator(lib, eps, min_samples, n_jobs):
    if lib == "sklearn":
        from sklearn.cluster import DBSCAN
    else:
        from spatialembed import DBSCAN
    return DBSCAN(eps=eps, min_samples=min_samples, n_jobs=n_jobs)


def run_child(spec):
    """Fit one library on one array; write labels, core indices and figures."""
    X = np.load(spec["data"])
    # Build the estimator first so that the library's import is part of the
    # baseline and the memory increase covers the fit alone.
    model = make_estimator(spec["lib"], spec["eps"], spec["min_samples"], spec["n_jobs"])
    rss_before = current_rss_mb()

    times = []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        model.fit(X)
        times.append(time.perf_counter() - start)

    peak = peak_rss_mb()
    out = spec["out"]
    np.save(out + ".labels.npy", np.asarray(model.labels_))
    np.save(out + ".core.npy", np.asarray(model.core_sample_indices_))
    figures = {
        "time_s": min(times),
        "peak_mb": peak,
        "fit_increase_mb": peak - rss_before,
        # Non-zero only if the library forked worker processes, whose memory
        # the peak of this process does not include.
        "grandchildren_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
    }
    Path(out + ".json").write_text(json.dumps(figures))


# --------------------------------------------------------------------------
# Parent: launching children and comparing their results.
# --------------------------------------------------------------------------



def launch(lib, data_path, eps, args, workdir):
    """Run one fit in a fresh interpreter; return its figures or None on failure."""
    out = str(Path(workdir) / f"{lib}-{Path(data_path).stem}-{eps:.6g}")
    spec = {
        "lib": lib, "data": str(data_path), "eps": float(eps),
        "min_samples": args.min_samples, "n_jobs": args.n_jobs,
        "repeats": args.repeats, "out": out,
    }
    figures = harness.run_child(__file__, spec, args.n_jobs)
    if figures is None:
        return None
    figures["labels"] = np.load(out + ".labels.npy")
    figures["core"] = np.load(out + ".core.npy")
    if figures["grandchildren_peak_mb"] > 0:
        print(f"  note: {lib} started worker processes "
              f"(their peak {figures['grandchildren_peak_mb']:.0f} MB is not in the table)")
    return figures


def compare(sk, se):
    """Number of points whose labels differ, and whether core samples match."""
    n_diff = int(np.count_nonzero(sk["labels"] != se["labels"]))
    same_core = np.array_equal(np.sort(sk["core"]), np.sort(se["core"]))
    return n_diff, same_core


def summarise_labels(labels):
    n_clusters = len(set(labels.tolist()) - {-1})
    noise = float(np.mean(labels == -1))
    return n_clusters, noise


# --------------------------------------------------------------------------
# Dataset A: synthetic blobs plus noise.
# --------------------------------------------------------------------------

def make_synthetic(n_points, seed=SEED):
    """Five sigma-1 Gaussian blobs (90% of points) plus 10% uniform noise, 3-D."""
    rng = np.random.default_rng(seed)
    n_blobs, dim = 5, 3
    n_noise = n_points // 10
    centres = rng.uniform(0.0, 20.0, size=(n_blobs, dim))
    sizes = np.full(n_blobs, (n_points - n_noise) // n_blobs)
    sizes[: (n_points - n_noise) % n_blobs] += 1
    blobs = np.concatenate([
        rng.normal(loc=c, scale=1.0, size=(s, dim)) for c, s in zip(centres, sizes)
    ])
    noise = rng.uniform(blobs.min(axis=0), blobs.max(axis=0), size=(n_noise, dim))
    X = np.concatenate([blobs, noise])
    # Shuffle so that cluster discovery order is not tied to generation order.
    X = X[rng.permutation(len(X))]
    return np.ascontiguousarray(X, dtype=np.float32)


# --------------------------------------------------------------------------
# Dataset B: UMAP embedding of a real MSI ion-image stack.
# --------------------------------------------------------------------------

def data_dir():
    return Path(os.environ.get("SPATIALEMBED_DATA", REPO_ROOT.parent / "shared" / "data"))


def read_png_rgba(path):
    """Decode a PNG into a (height, width, 4) uint8 array (Pillow, a Debian package)."""
    from PIL import Image
    with Image.open(path) as img:
        return np.asarray(img.convert("RGBA"))


def load_bladder_matrix(folder):
    """Pixels x m/z intensity matrix of the measured pixels (alpha == 255)."""
    files = sorted(glob.glob(str(folder / "*.png")), key=lambda f: float(Path(f).stem))
    if not files:
        raise FileNotFoundError(f"no PNG files in {folder}")
    images = [read_png_rgba(f) for f in files]
    mask = images[0][:, :, 3] == 255
    # The ion images are grey, so one colour channel carries the intensity.
    return np.stack([img[:, :, 0][mask] for img in images], axis=1).astype(np.float32)


def make_real_embedding():
    """Path of the cached 3-D UMAP embedding of the bladder pixels, made if needed.

    Returns None (after printing why) when it is neither cached nor can be made.
    """
    cache = RESULTS_DIR / "mouse_bladder_umap3d.npy"
    provenance = cache.with_suffix(".json")
    if cache.exists():
        made_with = json.loads(provenance.read_text()) if provenance.exists() else "unknown"
        print(f"dataset B: reusing cached embedding {cache.relative_to(REPO_ROOT)} "
              f"(made with {made_with})")
        return cache
    try:
        import umap
    except ImportError:
        print("dataset B skipped: umap-learn is not installed")
        return None
    folder = data_dir() / "msi" / "mouse_bladder_png"
    if not folder.is_dir():
        print(f"dataset B skipped: {folder} not found (set SPATIALEMBED_DATA)")
        return None

    M = load_bladder_matrix(folder)
    # TIC normalisation: compare spectral shapes, not total ion counts.
    tic = M.sum(axis=1, keepdims=True)
    M = np.divide(M, tic, out=np.zeros_like(M), where=tic > 0)
    print(f"dataset B: embedding {M.shape[0]} pixels x {M.shape[1]} m/z with UMAP "
          "(n_components=3, random_state=0); this takes a minute or two")
    start = time.perf_counter()
    emb = umap.UMAP(n_components=3, random_state=0).fit_transform(M)
    print(f"dataset B: UMAP took {time.perf_counter() - start:.1f} s")
    np.save(cache, np.ascontiguousarray(emb, dtype=np.float32))
    # The embedding depends on the umap-learn (and numba) version: record it.
    provenance.write_text(json.dumps({
        "umap-learn": umap.__version__, "n_components": 3, "random_state": 0,
        "input": f"{M.shape[0]} pixels x {M.shape[1]} m/z, TIC-normalised",
    }))
    return cache


def eps_from_knn(X, min_samples):
    """eps values around the median distance to the min_samples-th neighbour."""
    from scipy.spatial import cKDTree
    # k counts the point itself, matching DBSCAN's definition of min_samples.
    dist, _ = cKDTree(X).query(X, k=min_samples)
    median = float(np.median(dist[:, -1]))
    return median, [round(f * median, 4) for f in REAL_EPS_FACTORS]


# --------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------



def library_versions(have_spatialembed):
    import scipy
    import sklearn
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}",
                f"scipy {scipy.__version__}", f"scikit-learn {sklearn.__version__}"]
    if have_spatialembed:
        import spatialembed
        versions.append(f"spatialembed {spatialembed.__version__}")
    try:
        import umap
        versions.append(f"umap-learn {umap.__version__}")
    except ImportError:
        pass
    return ", ".join(versions)






def table_row(name, n, eps, results):
    """One Markdown row; results maps library -> figures, or None if its run failed."""
    def cell(lib, key, spec):
        if lib not in results:
            return "-"
        return "failed" if results[lib] is None else format(results[lib][key], spec)

    def value(lib, key):
        return (results.get(lib) or {}).get(key)

    sk, se = results.get("sklearn"), results.get("spatialembed")
    ref = sk or se
    n_clusters, noise = summarise_labels(ref["labels"]) if ref else (None, None)
    if sk and se:
        n_diff, same_core = compare(sk, se)
        same = "yes" if n_diff == 0 else f"no ({n_diff} differ)"
        if not same_core:
            same += ", core samples differ"
    else:
        same = "n/a"
    cells = [
        name, f"{n:,}", f"{eps:.4g}", fmt(n_clusters, "d"), fmt(noise, ".1%"),
        cell("sklearn", "time_s", ".3f"), cell("spatialembed", "time_s", ".3f"),
        fmt(ratio(value("sklearn", "time_s"), value("spatialembed", "time_s")), ".2f"),
        cell("sklearn", "peak_mb", ".0f"), cell("spatialembed", "peak_mb", ".0f"),
        fmt(ratio(value("sklearn", "peak_mb"), value("spatialembed", "peak_mb")), ".2f"),
        cell("sklearn", "fit_increase_mb", ".0f"), cell("spatialembed", "fit_increase_mb", ".0f"),
        same,
    ]
    return "| " + " | ".join(cells) + " |", same in ("yes", "n/a") and None not in results.values()


TABLE_HEADER = (
    "| dataset | points | eps | clusters | noise | sklearn s | spatialembed s | speed-up "
    "| sklearn peak MB | spatialembed peak MB | mem ratio | sklearn fit +MB "
    "| spatialembed fit +MB | labels identical |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


# --------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------

def spatialembed_available():
    try:
        import spatialembed  # noqa: F401
        return True
    except ImportError as exc:
        print(f"note: spatialembed cannot be imported ({exc}); only sklearn runs")
        return False


def build_datasets(args):
    """List of (name, path of the saved float32 array, eps values)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    n = 20_000 if args.quick else 200_000
    X = make_synthetic(n)
    path = RESULTS_DIR / f"dbscan_synthetic_{n}.npy"
    np.save(path, X)
    print(f"dataset A: {n:,} points in 3-D, 5 Gaussian blobs (sigma 1) plus "
          f"{n // 10:,} uniform noise points, seed {SEED}")
    datasets = [("A synthetic", path, SYNTHETIC_EPS)]

    if args.quick or args.no_real:
        print("dataset B skipped (--quick / --no-real)")
        return datasets
    path = make_real_embedding()
    if path is not None:
        median, eps_values = eps_from_knn(np.load(path), args.min_samples)
        print(f"dataset B: median distance to the {args.min_samples}th neighbour "
              f"(self included) = {median:.4f}; eps = "
              + ", ".join(f"{f}x = {e}" for f, e in zip(REAL_EPS_FACTORS, eps_values)))
        datasets.append(("B bladder UMAP", path, eps_values))
    return datasets


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20,000 synthetic points, no real dataset (smoke test)")
    parser.add_argument("--no-real", action="store_true", help="skip dataset B")
    parser.add_argument("--n-jobs", type=int, default=2, help="threads for both libraries")
    parser.add_argument("--min-samples", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1,
                        help="fits per child process; the fastest is reported")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        run_child(json.loads(args.child))
        return

    have_se = spatialembed_available()
    libraries = [lib for lib in LIBRARIES if lib != "spatialembed" or have_se]
    print(machine_info())
    print(library_versions(have_se))
    print(f"min_samples={args.min_samples}, n_jobs={args.n_jobs}, repeats={args.repeats}\n")

    rows, all_ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench_dbscan_") as workdir:
        for name, path, eps_values in build_datasets(args):
            n = len(np.load(path, mmap_mode="r"))
            for eps in eps_values:
                results = {}
                for lib in libraries:
                    results[lib] = launch(lib, path, eps, args, workdir)
                    if results[lib]:
                        r = results[lib]
                        print(f"  {name} eps={eps:.4g} {lib}: {r['time_s']:.3f} s, "
                              f"peak {r['peak_mb']:.0f} MB (fit +{r['fit_increase_mb']:.0f} MB)")
                row, ok = table_row(name, n, eps, results)
                rows.append(row)
                all_ok = all_ok and ok

    print("\nspeed-up = sklearn time / spatialembed time; mem ratio = sklearn peak / "
          "spatialembed peak;\nfit +MB = peak RSS minus RSS just before fit "
          "(after imports and data loading)\n")
    print(TABLE_HEADER)
    print("\n".join(rows))
    if not all_ok:
        # Non-zero exit so that a script driving the benchmark notices.
        print("\nWARNING: a run failed or the labels differ (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
