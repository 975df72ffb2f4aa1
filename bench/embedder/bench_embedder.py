"""Embedder benchmark: spatialembed (C++ LibTorch) against the same network in Python PyTorch,
each with the process's default allocator and "tuned" (glibc keeps freed memory:
``spatialembed.nn.reuse_freed_memory()``), in one run.

Both run the Keras-layout network on the same normalised input batch (N x 3 x S x S float32)
with the same weights and the same number of threads, each in a fresh child process; the
time is the best of --repeats forward passes after one warm-up pass, best over --rounds
child processes per configuration run alternately. spatialembed's default is its
ActivationArena (the Embedder keeps its activation memory; nothing else in the process
changes), so "default" should match "tuned"; PyTorch's default pays the page faults of
every activation tensor again on each pass. Networks:

- ResNet-50 at 224 x 224, batch 32, the real npm weights (scripts/fetch_weights.sh);
- Xception at 299 x 299, batch 32, random weights written in the Keras HDF5 layout (no
  Xception weights ship in a package; speed does not depend on the values).

The Python side is tests/python/keras_reference.py (torch.nn.functional, python3-torch 1.13),
the independent reference of the tests. Reported: images/s of each, the ratio, and the
largest relative difference of the features (max |a - b| / max |b|).

    .venv/bin/python bench/embedder/bench_embedder.py              # ~3 min on 2 cores
    .venv/bin/python bench/embedder/bench_embedder.py --quick      # batch 4, one repeat
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "python"))


def run_child(spec):
    import resource

    import torch
    torch.set_num_threads(spec["n_jobs"])
    if spec["tuned"]:
        from spatialembed.nn import reuse_freed_memory  # the same allocator settings for both libraries
        assert reuse_freed_memory()
    x = np.load(spec["input"])
    if spec["lib"] == "spatialembed":
        import spatialembed
        emb = spatialembed.Embedder(spec["backbone"], spec["weights"], batch_size=len(x), n_jobs=spec["n_jobs"])

        def forward():
            return emb.forward(x)
    else:
        import keras_reference as kr
        if spec["backbone"] == "resnet50":
            net = kr.ResNet50(*kr.read_tfjs(spec["weights"]))
        else:
            net = kr.Xception(*kr.read_h5(spec["weights"]))
        xt = torch.from_numpy(x)

        def forward():
            with torch.inference_mode():
                return net.features(xt).numpy()
    forward()  # warm-up
    times = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        features = forward()
        times.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    np.save(spec["out"] + ".npy", features)
    Path(spec["out"] + ".json").write_text(json.dumps({
        "time_s": min(times), "peak_mb": harness.peak_rss_mb(),
        # CPU seconds per pass: system time is the page faults of freshly mapped memory
        "user_s": (after.ru_utime - before.ru_utime) / spec["repeats"],
        "sys_s": (after.ru_stime - before.ru_stime) / spec["repeats"]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="child processes per library, alternating; best kept")
    parser.add_argument("--backbones", default="resnet50,xception", help="comma-separated: resnet50, xception")
    args = parser.parse_args()
    if args.child:
        run_child(json.loads(args.child))
        return 0

    import spatialembed
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    from test_embedder import write_keras_h5  # the Keras HDF5 layout, as the tests write it

    batch = 4 if args.quick else 32
    repeats = 1 if args.quick else args.repeats
    data = Path(spatialembed.nn.default_weights_path("resnet50"))
    shared = Path(__import__("os").environ.get("SPATIALEMBED_DATA", ROOT.parent / "shared" / "data"))
    print(harness.machine_info())
    rounds = 1 if args.quick else args.rounds
    args.rounds = rounds
    print(f"batch {batch}, threads {args.n_jobs}, best of {rounds} processes x {repeats} passes after a warm-up pass")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        xception_h5 = tmp / "xception_random.h5"
        wanted = args.backbones.split(",")
        if "xception" in wanted:
            write_keras_h5(xception_h5, shared / "weights" / "xception_keras_tfjs" / "model.json", np.random.default_rng(0))
        rng = np.random.default_rng(1)
        configs = [(lib, tuned) for tuned in (False, True) for lib in ("pytorch", "spatialembed")]
        for backbone, size, weights in (("resnet50", 224, data), ("xception", 299, xception_h5)):
            if backbone not in wanted:
                continue
            x = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
            if backbone == "resnet50":
                x *= 120.0  # caffe range
            np.save(tmp / "input.npy", x)
            result = {}
            for _ in range(args.rounds):  # alternate, so that load from elsewhere hits every configuration
                for lib, tuned in configs:
                    name = f"{backbone}_{lib}_{'tuned' if tuned else 'default'}"
                    spec = {"tuned": tuned, "lib": lib, "backbone": backbone, "weights": str(weights),
                            "input": str(tmp / "input.npy"), "n_jobs": args.n_jobs, "repeats": repeats,
                            "out": str(tmp / name)}
                    r = harness.run_child(__file__, spec, args.n_jobs)
                    if (lib, tuned) not in result or r["time_s"] < result[(lib, tuned)]["time_s"]:
                        result[(lib, tuned)] = r
            ref = np.load(tmp / f"{backbone}_pytorch_tuned.npy")
            for (lib, tuned), r in result.items():
                a = np.load(tmp / f"{backbone}_{lib}_{'tuned' if tuned else 'default'}.npy")
                r["diff"] = float(np.abs(a - ref).max() / np.abs(ref).max())
                r["ips"] = batch / r["time_s"]
            rows.append((backbone, size, result))
    print()
    print("images/s (CPU seconds per pass: user + system); default = a plain process, "
          "tuned = reuse_freed_memory() in the child")
    print()
    print("| network | input | PyTorch default | PyTorch tuned | spatialembed default | spatialembed tuned "
          "| spatialembed default / tuned | spatialembed / PyTorch (tuned) | peak MB: PyTorch default, tuned; spatialembed default, tuned "
          "| max rel. feature diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for backbone, size, res in rows:
        def cell(key):
            r = res[key]
            return f"{r['ips']:.2f} ({r['user_s']:.1f} + {r['sys_s']:.1f} s)"
        keys = [("pytorch", False), ("pytorch", True), ("spatialembed", False), ("spatialembed", True)]
        peaks = ", ".join(f"{res[k]['peak_mb']:.0f}" for k in keys)
        print(f"| {backbone} | {size}² | " + " | ".join(cell(k) for k in keys) +
              f" | {res[('spatialembed', False)]['ips'] / res[('spatialembed', True)]['ips']:.2f}"
              f" | {res[('spatialembed', True)]['ips'] / res[('pytorch', True)]['ips']:.2f}"
              f" | {peaks}"
              f" | {max(r['diff'] for r in res.values()):.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
