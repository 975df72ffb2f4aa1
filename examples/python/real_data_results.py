"""Runs `spatialembed cluster-ions --method both` on every real MSI dataset of the shared data
folder (mouse kidney imzML, continuous and processed; mouse bladder, glioblastoma and barley
PNG stacks, the last two against the GRINE grouping shipped beside them) and collects what
each method found into one Markdown table (the numbers of docs/results.md).

    python examples/python/real_data_results.py --out results/real_data
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# name, input below msi/, extra cluster-ions arguments, reference file below msi/ (or None)
DATASETS = [
    ("mouse kidney (continuous)", "mouse_kidney/mouse_kidney_nyakas2013.imzML",
     ["--top-n", "60", "--snr", "2", "--half-window", "5", "--n-neighbors", "10", "--min-samples", "3"], None),
    ("mouse kidney (processed)", "mouse_kidney/mouse_kidney_nyakas2013_centroid.imzML",
     ["--top-n", "60", "--snr", "2", "--half-window", "5", "--bin-ppm", "500", "--n-neighbors", "10",
      "--min-samples", "3"], None),
    ("mouse bladder (PNG)", "mouse_bladder_png", [], None),
    ("glioblastoma (PNG)", "glioblastoma_png", [], "glioblastoma_png/grine_communities.json"),
    ("barley (PNG)", "barley_png", [], "barley_png/grine_communities.json"),
]


def run(name, source, extra, reference, data, out, args, seed):
    folder = out / f"{source.split('/')[-1].replace('.imzML', '')}_seed{seed}"
    command = [sys.executable, "-m", "spatialembed", "cluster-ions", str(data / "msi" / source), "--out", str(folder),
               "--method", args.method, "--preset", "paper", "--overwrite", "--quiet", "--seed", str(seed), *extra]
    if reference:
        command += ["--reference", str(data / "msi" / reference)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    print(f"{name}: {time.perf_counter() - start:.1f} s -> {folder}/report.html", file=sys.stderr)
    return json.loads((folder / "params.json").read_text())


def spread(values, digits=2, percent=False):
    """'mean (min–max)' over the seeds, or 'n/a' when undefined."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    f = (lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.{digits}f}")
    lo, hi = min(values), max(values)
    return f(sum(values) / len(values)) + ("" if lo == hi else f" ({f(lo)}–{f(hi)})")


def table(rows):
    lines = ["| dataset | ion images | method | clusters | noise | silhouette | isotope pairs (clustered) "
             "| isotope co-clustering | eps (auto) | ARI nn vs umap_only | ARI vs GRINE | NMI vs GRINE | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, runs in rows:
        for method in runs[0]["methods"]:
            e = [r["methods"][method]["evaluation"] for r in runs]
            c = [r["comparison"] for r in runs]
            lines.append(" | ".join([
                f"| {name}", str(runs[0]["input"]["ion_images"]), method, spread([x["n_clusters"] for x in e], 1),
                spread([x["noise_fraction"] for x in e], percent=True), spread([x["silhouette"] for x in e]),
                f"{e[0]['isotope_pairs']} ({spread([x['isotope_pairs_clustered'] for x in e], 0)})",
                spread([x["isotope_coclustering"] for x in e]),
                spread([r["methods"][method]["params"]["eps"] for r in runs], 3),
                spread([x.get("ARI nn vs umap_only") for x in c]), spread([x.get(f"ARI {method} vs GRINE") for x in c]),
                spread([x.get(f"NMI {method} vs GRINE") for x in c]),
                f"{min(r['methods'][method]['timings']['total'] for r in runs):.1f} |"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("results/real_data"))
    parser.add_argument("--method", default="both", choices=["both", "nn", "umap_only"])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="one run per seed (UMAP's); the table shows mean (min–max)")
    parser.add_argument("--quick", action="store_true", help="barley only, UMAP-only (for CI)")
    args = parser.parse_args()
    data = Path(os.environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data"))
    if not data.is_dir():
        print(f"skipped: {data} not found (set SPATIALEMBED_DATA)")
        return 0
    datasets = DATASETS
    if args.quick:
        datasets, args.method, args.seeds = DATASETS[-1:], "umap_only", [0]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [(name, [run(name, source, extra, reference, data, args.out, args, seed) for seed in args.seeds])
            for name, source, extra, reference in datasets]
    text = table(rows)
    print(text)
    (args.out / "results.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
