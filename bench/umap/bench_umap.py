"""UMAP benchmark: spatialembed against umap-learn, side by side in one run.

For each dataset both libraries embed the same float32 array into 2-D with the same
n_neighbors (15) and number of epochs (umap-learn's default: 500 up to 10,000 points, else
200), on 2 threads each, in fresh child processes. umap-learn runs with random_state=None
(its parallel mode; a fixed seed makes its layout single-threaded); spatialembed is seeded
(its output is reproducible in parallel). Each child fits three times and reports the
faster of the second and third fits, so numba's compilation is not counted. Reported: wall
time, peak memory (VmHWM of the child) and its increase over the resident set before the
first fit, and trustworthiness (k=10, sklearn's definition, computed by the same function
for both; on up to 5,000 sampled points for the larger sets).

Datasets: sklearn's digits (1,797 x 64); a Gaussian mixture of 50,000 x 50 (20 centres);
and, unless --no-large, 60,000 x 784 points near a 20-d manifold with 10 clusters (a
synthetic stand-in of MNIST's shape: no network access for MNIST itself).

    .venv/bin/python bench/umap/bench_umap.py            # full run (~10 min)
    .venv/bin/python bench/umap/bench_umap.py --quick    # digits only
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import harness  # noqa: E402

LIBRARIES = ("umap-learn", "spatialembed")
SEED = 20261121


def run_child(spec):
    """Three fits of one library on one array; figures of the best of the last two."""
    X = np.load(spec["data"])
    if spec["lib"] == "umap-learn":
        import umap

        def make():
            return umap.UMAP(n_neighbors=15, n_jobs=spec["n_jobs"], random_state=None)
    else:
        import spatialembed

        def make():
            return spatialembed.UMAP(n_neighbors=15, n_jobs=spec["n_jobs"], random_state=0)
    rss_before = harness.current_rss_mb()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        embedding = make().fit_transform(X)
        times.append(time.perf_counter() - start)
    peak = harness.peak_rss_mb()
    np.save(spec["out"] + ".npy", np.asarray(embedding, dtype=np.float32))
    Path(spec["out"] + ".json").write_text(json.dumps(
        {"time_s": min(times[1:]), "first_time_s": times[0], "peak_mb": peak, "fit_increase_mb": peak - rss_before}))


def make_datasets(args):
    from sklearn.datasets import load_digits
    rng = np.random.default_rng(SEED)
    datasets = [("digits", load_digits().data.astype(np.float32))]
    if args.quick:
        return datasets
    centres = rng.normal(size=(20, 50)) * 3.0
    datasets.append(("mixture 50k x 50",
                     (centres[rng.integers(0, 20, 50_000)] + rng.normal(size=(50_000, 50))).astype(np.float32)))
    if not args.no_large:
        latent_centres = rng.normal(size=(10, 20)) * 2.0
        latent = latent_centres[rng.integers(0, 10, 60_000)] + rng.normal(size=(60_000, 20))
        lift = rng.normal(size=(20, 784)) / np.sqrt(20)
        X = np.tanh(latent @ lift) + 0.05 * rng.normal(size=(60_000, 784))
        datasets.append(("manifold 60k x 784", X.astype(np.float32)))
    return datasets


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only")
    parser.add_argument("--no-large", action="store_true", help="skip the 60,000 x 784 set")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return

    import spatialembed
    import umap
    print(harness.machine_info())
    print(f"umap-learn {umap.__version__}, spatialembed {spatialembed.__version__}, n_jobs={args.n_jobs}\n")
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_umap_") as workdir:
        for name, X in make_datasets(args):
            path = Path(workdir) / f"{name.split()[0]}.npy"
            np.save(path, X)
            results = {}
            for lib in LIBRARIES:
                spec = {"lib": lib, "data": str(path), "n_jobs": args.n_jobs, "out": str(Path(workdir) / f"{lib}-{path.stem}")}
                figures = harness.run_child(__file__, spec, args.n_jobs)
                if figures is not None:
                    embedding = np.load(spec["out"] + ".npy")
                    figures["trust"] = spatialembed.trustworthiness(
                        X, embedding, n_neighbors=10, max_queries=None if len(X) <= 5000 else 5000)
                    print(f"  {name} {lib}: {figures['time_s']:.2f} s (first fit {figures['first_time_s']:.2f} s), "
                          f"peak {figures['peak_mb']:.0f} MB, trustworthiness {figures['trust']:.4f}")
                results[lib] = figures
            rows.append(table_row(name, X.shape, results))
    print("\n| dataset | shape | umap-learn s | spatialembed s | speed-up | umap-learn peak MB "
          "| spatialembed peak MB | umap-learn T(10) | spatialembed T(10) | T difference |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


def table_row(name, shape, results):
    ul, se = results.get("umap-learn") or {}, results.get("spatialembed") or {}
    f = harness.fmt
    return "| " + " | ".join([
        name, f"{shape[0]:,} x {shape[1]}", f(ul.get("time_s"), ".2f"), f(se.get("time_s"), ".2f"),
        f(harness.ratio(ul.get("time_s"), se.get("time_s")), ".1f"),
        f(ul.get("peak_mb"), ".0f"), f(se.get("peak_mb"), ".0f"),
        f(ul.get("trust"), ".4f"), f(se.get("trust"), ".4f"),
        f(None if not (ul and se) else se["trust"] - ul["trust"], "+.4f"),
    ]) + " |"


if __name__ == "__main__":
    main()
