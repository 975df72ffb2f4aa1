"""``spatialembed cluster-ions --method both`` at scale: wall time per stage and peak memory.

Simulates (or reuses a cached) PNG folder of WIDTH x HEIGHT pixels x N ion images with
``spatialembed.simulate_tissue(mode="png")``, then runs

    python -m spatialembed cluster-ions FOLDER --method both --out OUT --threads T

in a child process and records

- its wall time, and the wall time of each workflow step, from the moment each of the CLI's
  progress lines arrives on stderr ("ion images: …" = PNGs read and preprocessed, "nn: …",
  "umap_only: …", "wrote …" = outputs and report written);
- the per-stage timings the pipeline itself reports (params.json: preprocess, embed, umap,
  dbscan, evaluate per method);
- the child's peak resident set (VmHWM of /proc/PID/status, polled every 0.2 s while it runs;
  the high-water mark, so the last reading covers every peak before it) and, as a cross
  check, ru_maxrss from wait4.

Examples
--------
    .venv/bin/python bench/pipeline/bench_pipeline.py --width 200 --height 100 --ions 500
    nohup .venv/bin/python bench/pipeline/bench_pipeline.py --width 1000 --height 500 --ions 8000 \\
        > bench/results/pipeline_full.log 2>&1 &

The PNG folder is cached under ``--cache`` (default bench/results/pipeline_data/) by size and
seed; the run's outputs go to a temporary folder that is removed unless ``--keep``.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import RESULTS_DIR, child_env, machine_info  # noqa: E402


def simulated_folder(cache, width, height, n_ions, seed, n_jobs):
    """The cached PNG folder for this size, simulated in a child process when missing (so that
    the simulation's memory never counts in this process). m/z 100–2000 at resolving power
    100,000, so that 8,000 ion images find room 3 FWHM apart."""
    folder = Path(cache) / f"tissue_{width}x{height}_{n_ions}_seed{seed}_mz100-2000_R1e5"
    done = folder.with_name(folder.name + ".done")
    if done.exists():
        return folder, None
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    code = ("import spatialembed as se, sys; "
            f"se.simulate_tissue({str(folder)!r}, width={width}, height={height}, n_ion_images={n_ions}, "
            f"mz_range=(100.0, 2000.0), resolving_power=100000.0, mode='png', random_state={seed}, "
            f"n_jobs={n_jobs}, overwrite=True)")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=child_env(n_jobs))
    seconds = time.perf_counter() - start
    done.write_text(json.dumps({"seconds": seconds}))
    return folder, seconds


def folder_bytes(folder):
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def run_cluster_ions(folder, out, n_jobs, extra):
    cmd = [sys.executable, "-m", "spatialembed", "cluster-ions", str(folder), "--method", "both", "--out", str(out),
           "--threads", str(n_jobs)] + list(extra)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=child_env(n_jobs), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, bufsize=1)
    peak = [0.0]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            value = vm_hwm_mb(proc.pid)
            if value is not None:
                peak[0] = max(peak[0], value)
            stop.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    marks, tail = [], []
    buffer = ""
    while True:  # progress bars end lines with \r; log lines with \n
        chunk = proc.stderr.read(1)
        if not chunk:
            break
        if chunk in "\r\n":
            line = buffer.strip()
            buffer = ""
            if line.startswith("cluster-ions: "):
                marks.append((time.perf_counter() - start, line[len("cluster-ions: "):]))
                print(f"  [{marks[-1][0]:8.1f} s] {marks[-1][1]}", flush=True)
            elif line:
                tail = (tail + [line])[-20:]
        else:
            buffer += chunk
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stop.set()
    poller.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"cluster-ions failed (exit {code})")
    return {"wall_s": wall, "peak_rss_mb": peak[0], "ru_maxrss_mb": usage.ru_maxrss / 1024.0, "marks": marks}


def steps(marks):
    """Wall time of each workflow step from the arrival of its log line."""
    out, last = {}, 0.0
    for seconds, line in marks:
        for key, prefix in (("load + prepare", "ion images:"), ("nn", "nn:"), ("umap_only", "umap_only:"),
                            ("compare + write outputs + report", "wrote ")):
            if line.startswith(prefix):
                out[key] = seconds - last
                last = seconds
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=500)
    parser.add_argument("--ions", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default=str(RESULTS_DIR / "pipeline_data"))
    parser.add_argument("--keep", action="store_true", help="keep the cluster-ions output folder")
    parser.add_argument("extra", nargs="*", help="more cluster-ions arguments (after --)")
    args = parser.parse_args()

    print(machine_info())
    folder, sim_seconds = simulated_folder(args.cache, args.width, args.height, args.ions, args.seed, args.threads)
    size = folder_bytes(folder)
    n_png = sum(1 for f in folder.iterdir() if f.suffix == ".png")
    stack_gb = n_png * args.width * args.height * 4 / 1e9
    print(f"data: {folder} ({n_png} PNGs of {args.width} x {args.height} px, {size / 1e9:.2f} GB of PNG, "
          f"{stack_gb:.2f} GB as float32{'' if sim_seconds is None else f', simulated in {sim_seconds:.0f} s'})",
          flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench_pipeline_", dir=RESULTS_DIR))
    out = work / "out"
    try:
        run = run_cluster_ions(folder, out, args.threads, args.extra)
        params = json.loads((out / "params.json").read_text())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    methods = params["methods"]
    record = {"width": args.width, "height": args.height, "ion_images": n_png, "stack_gb": stack_gb,
              "png_gb": size / 1e9, "threads": args.threads, "machine": machine_info(), **run,
              "steps": steps(run["marks"]), "timings": {m: methods[m]["timings"] for m in methods},
              "evaluation": {m: methods[m]["evaluation"] for m in methods}, "comparison": params["comparison"]}
    result_file = RESULTS_DIR / f"pipeline_{args.width}x{args.height}_{n_png}.json"
    result_file.write_text(json.dumps(record, indent=2))

    print(f"\n{n_png} ion images x {args.width} x {args.height} px = {stack_gb:.2f} GB float32; "
          f"{args.threads} threads")
    print("\n| step (wall, from the CLI's log lines) | s |\n|---|---:|")
    for key, value in record["steps"].items():
        print(f"| {key} | {value:.1f} |")
    print(f"| **total** (child process) | **{run['wall_s']:.1f}** |")
    stages = ["preprocess", "embed", "umap", "dbscan", "evaluate", "total"]
    print("\n| pipeline stage (params.json) | " + " | ".join(methods) + " |\n|---|" + "---:|" * len(methods))
    for stage in stages:
        print(f"| {stage} | " + " | ".join(f"{methods[m]['timings'][stage]:.1f}" if stage in methods[m]["timings"]
                                           else "-" for m in methods) + " |")
    print(f"\npeak RSS (VmHWM) {run['peak_rss_mb']:.0f} MB = {run['peak_rss_mb'] / 1024:.2f} GiB "
          f"(ru_maxrss {run['ru_maxrss_mb']:.0f} MB); stack {stack_gb * 1e9 / 2**30:.2f} GiB")
    for m in methods:
        e = methods[m]["evaluation"]
        print(f"{m}: {e['n_clusters']} clusters, noise {e['noise_fraction']:.0%}")
    print(f"wrote {result_file}")


if __name__ == "__main__":
    main()
