"""Shared pieces of the Python benchmarks: per-process peak memory, child processes, machine info.

Every measured fit runs in a fresh interpreter (the benchmark script started again with
``--child SPEC``) so that its peak memory belongs to that fit alone.
"""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def proc_status_mb(field):
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MB; Linux only."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{field} not found in /proc/self/status")


def current_rss_mb():
    return proc_status_mb("VmRSS")


def peak_rss_mb():
    # VmHWM rather than ru_maxrss: Linux carries ru_maxrss over fork and exec,
    # so a child would report the parent's peak whenever that one is larger.
    return proc_status_mb("VmHWM")


def child_env(n_jobs):
    """Environment capping implicit thread pools (OpenMP, BLAS, numba) at n_jobs."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(n_jobs)
    return env


def run_child(script, spec, n_jobs):
    """Run ``script --child SPEC`` in a fresh interpreter; return the JSON it wrote to
    ``spec["out"] + ".json"``, or None (after printing its error) when it failed."""
    cmd = [sys.executable, str(Path(script).resolve()), "--child", json.dumps(spec)]
    proc = subprocess.run(cmd, env=child_env(n_jobs), capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {spec.get('lib', 'child')} FAILED (exit {proc.returncode}):")
        print("    " + "\n    ".join(proc.stderr.strip().splitlines()[-10:]))
        return None
    return json.loads(Path(spec["out"] + ".json").read_text())


def machine_info():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {cpu}; nproc: {os.cpu_count()}; {platform.platform()}"


def fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def ratio(num, den):
    return None if num is None or den is None or den == 0 else num / den
