"""A her2st section read and cut into spot tiles: spatialembed vs PIL + pandas, side by side.

By default the whole path a trainer needs is timed: the counts (``counts/<s>.tsv.gz``) and
spot positions read and paired by spot id, then a tile at every paired spot —
pandas ``read_csv`` + PIL on one side, ``spatialembed.read_her2st`` + ``Section.tiles()`` on
the other. ``--tiles-only`` times the image part alone, as described below.

For every spot of a section (``spots/<section>_selection.tsv``: ``pixel_x``, ``pixel_y``) a
224 x 224 crop centred on the spot (origin ``floor(c - 112 + 0.5)``) is cut from
``images/<section>.jpg`` (about 9,300 x 9,900 px):

- PIL: ``Image.open`` + ``crop`` per spot (the first crop decodes the whole image), the tiles
  stacked into one (n, 224, 224, 3) uint8 array;
- spatialembed: ``spatial_image.cut_tiles`` (one cropped, row-skipping decode of the band the
  crops span, the tiles written straight into the result).

Each library runs in a fresh child process (``--child``); the time is the best of
``--repeats`` runs inside it, "peak MB" its VmHWM, "+MB" that peak minus the resident set
just before the first run. The parent checks that the tiles are identical and prints the ratio.

    .venv/bin/python bench/spatial/bench_tiles.py                 # C2, 3 repeats
    .venv/bin/python bench/spatial/bench_tiles.py --section B4 --threads 1
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import REPO_ROOT, current_rss_mb, fmt, machine_info, peak_rss_mb, ratio, run_child  # noqa: E402


def spots(data, section):
    import numpy as np
    table = np.genfromtxt(data / "st" / "her2st" / "spots" / f"{section}_selection.tsv", delimiter="\t", names=True)
    return table["pixel_x"], table["pixel_y"]


def child(spec):
    import numpy as np
    data, section, size = Path(spec["data"]), spec["section"], spec["size"]
    image = data / "st" / "her2st" / "images" / f"{section}.jpg"
    x, y = spots(data, section)
    if spec["whole"]:
        return whole_section_child(spec, np)
    if spec["lib"] == "pil":  # imports before the baseline: "+MB" is the work alone
        from PIL import Image
        Image.MAX_IMAGE_PIXELS = None

        def run():
            im = Image.open(image)
            x0 = np.floor(x - size / 2 + 0.5).astype(int)
            y0 = np.floor(y - size / 2 + 0.5).astype(int)
            return np.stack([np.asarray(im.crop((a, b, a + size, b + size)).convert("RGB")) for a, b in zip(x0, y0)])
    else:
        from spatialembed import spatial_image

        def run():
            return spatial_image.cut_tiles(image, x, y, size=size, n_jobs=spec["threads"]).pixels
    base = current_rss_mb()
    times = []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        tiles = run()
        times.append(time.perf_counter() - start)
    np.save(spec["out"] + ".npy", tiles)
    Path(spec["out"] + ".json").write_text(json.dumps(
        {"seconds": min(times), "peak_mb": peak_rss_mb(), "plus_mb": peak_rss_mb() - base, "n": len(tiles)}))


def whole_section_child(spec, np):
    data, section, size = Path(spec["data"]), spec["section"], spec["size"]
    root = data / "st" / "her2st"
    if spec["lib"] == "pil":
        import pandas as pd
        from PIL import Image
        Image.MAX_IMAGE_PIXELS = None

        def run():
            counts = pd.read_csv(root / "counts" / f"{section}.tsv.gz", sep="\t", index_col=0)
            table = pd.read_csv(root / "spots" / f"{section}_selection.tsv", sep="\t")
            table.index = [f"{a}x{b}" for a, b in zip(table["x"], table["y"])]
            table = table[table.index.isin(counts.index)]  # pair by id, in spot-file order
            counts = counts.loc[table.index]
            im = Image.open(root / "images" / f"{section}.jpg")
            x0 = np.floor(table["pixel_x"].to_numpy() - size / 2 + 0.5).astype(int)
            y0 = np.floor(table["pixel_y"].to_numpy() - size / 2 + 0.5).astype(int)
            tiles = np.stack([np.asarray(im.crop((a, b, a + size, b + size)).convert("RGB")) for a, b in zip(x0, y0)])
            return tiles, counts.to_numpy().sum()
    else:
        import warnings

        import spatialembed as se

        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unmatched spot ids are reported; not timed here
                s = se.read_her2st(root, section)
            return s.tiles(size=size, n_jobs=spec["threads"]), s.counts.sum()
    base = current_rss_mb()
    times = []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        tiles, total = run()
        times.append(time.perf_counter() - start)
    np.save(spec["out"] + ".npy", tiles)
    Path(spec["out"] + ".json").write_text(json.dumps(
        {"seconds": min(times), "peak_mb": peak_rss_mb(), "plus_mb": peak_rss_mb() - base, "n": len(tiles),
         "total_counts": float(total)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", default=os.environ.get("SPATIALEMBED_DATA", str(REPO_ROOT.parent / "shared" / "data")))
    parser.add_argument("--section", default="C2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--tiles-only", action="store_true", help="time the image part alone (no counts)")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    import numpy as np
    print(machine_info())
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lib in ("pil", "spatialembed"):
            spec = {"lib": lib, "data": args.data, "section": args.section, "size": args.size,
                    "repeats": args.repeats, "threads": args.threads, "out": str(Path(tmp) / lib),
                    "whole": not args.tiles_only}
            results[lib] = run_child(__file__, spec, args.threads)
        identical = all(results.values()) and np.array_equal(np.load(Path(tmp) / "pil.npy"),
                                                             np.load(Path(tmp) / "spatialembed.npy"))
    pil, ours = results["pil"] or {}, results["spatialembed"] or {}
    what = "tiles only" if args.tiles_only else "counts + spots paired by id + tiles"
    print(f"{args.section} ({what}), {ours.get('n', pil.get('n'))} spots, {args.size}^2 tiles, {args.threads} thread(s), "
          f"best of {args.repeats}")
    if not args.tiles_only:
        identical = identical and pil.get("total_counts") == ours.get("total_counts")
    print("| library | seconds | peak MB | +MB |")
    print("|---|---:|---:|---:|")
    names = (("PIL (open + crop per spot)", "spatialembed cut_tiles") if args.tiles_only else
             ("pandas read_csv + PIL crops", "spatialembed read_her2st + Section.tiles"))
    for name, r in zip(names, (pil, ours)):
        print(f"| {name} | {fmt(r.get('seconds'), '.3f')} | {fmt(r.get('peak_mb'), '.0f')} | {fmt(r.get('plus_mb'), '.0f')} |")
    print(f"speed-up {fmt(ratio(pil.get('seconds'), ours.get('seconds')), '.2f')}x, "
          f"memory (+MB) ratio {fmt(ratio(pil.get('plus_mb'), ours.get('plus_mb')), '.1f')}x, tiles (and counts) identical: {identical}")


if __name__ == "__main__":
    main()
