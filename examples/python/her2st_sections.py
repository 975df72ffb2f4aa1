"""The six her2st sections: read, paired by spot id, tiles under every spot, shared HVGs.

    .venv/bin/python examples/python/her2st_sections.py [--quick] [--out DIR]

Prints per section the spots, genes, unmatched spot ids and the time to read and tile it,
then the HVGs over all sections (genes matched by name), and saves a plot of ERBB2 on C2.
"""
import argparse
import os
import time
import warnings
from pathlib import Path

import spatialembed as se


def data_dir():
    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("SPATIALEMBED_DATA", root.parent / "shared" / "data"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiles resampled to 112 px (for CI)")
    parser.add_argument("--out", default="results/her2st_sections")
    args = parser.parse_args()
    root = data_dir() / "st" / "her2st"
    if not root.is_dir():
        print(f"no her2st data at {root}; nothing to do")
        return
    sections = []
    for name in ["B4", "C2", "C3", "C4", "C5", "C6"]:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unmatched ids: printed below
            section = se.read_her2st(root, name)
        tiles = section.tiles(size=224, output_size=112 if args.quick else None)
        seconds = time.perf_counter() - start
        print(f"{name}: {section.n_spots} spots x {section.n_genes} genes, tiles {tiles.shape}, "
              f"spot diameter {section.spot_diameter:.1f} px, unmatched spots {section.spots_without_counts}, "
              f"{seconds:.2f} s")
        sections.append(section)
    for flavor in ("seurat_v3", "pearson_residuals"):
        start = time.perf_counter()
        hvg = se.highly_variable_genes(sections, n_top_genes=500, flavor=flavor)
        top = hvg[hvg["highly_variable"]].sort_values(["highly_variable_nbatches", "highly_variable_rank"],
                                                      ascending=[False, True])
        print(f"{flavor}: {len(hvg)} shared genes, {hvg['highly_variable'].sum()} HVGs in "
              f"{time.perf_counter() - start:.2f} s; top: {', '.join(top.index[:10])}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ax = sections[1].plot(gene="ERBB2", max_side=800)
    ax.figure.savefig(out / "C2_ERBB2.png", dpi=90)
    print(f"wrote {out / 'C2_ERBB2.png'}")


if __name__ == "__main__":
    import matplotlib
    matplotlib.use("Agg")
    main()
