"""Data-parallel contrastive training: samples/s of 1 and 2 processes (1 thread each) with the
same global batch, the scaling efficiency, and the all-gather / all-reduce time per step.

    .venv/bin/python bench/distributed/bench_distributed.py [--pairs 4096] [--batch 256] [--epochs 2]

Each configuration trains ContrastiveTrainer(backbone="features") on the same seeded pairs
(2048-d features as a frozen ResNet-50 gives, log1p(Poisson) expression of --genes genes):
--batch is the global batch, so W processes train on --batch / W pairs each and every run does
the same optimiser steps. Processes are started as torchrun starts them (RANK, WORLD_SIZE,
MASTER_ADDR, MASTER_PORT on loopback, OMP_NUM_THREADS=1) and each reports its own timings;
the table takes rank 0's. Run on an otherwise idle machine: with W processes on W cores the
timings depend on nothing else running.
"""
import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(config_file, out_file):
    from spatialembed.contrastive import ContrastiveTrainer
    config = json.load(open(config_file))
    rng = np.random.default_rng(0)
    n, genes, dim = config["pairs"], config["genes"], config["feature_dim"]
    expression = np.log1p(rng.poisson(1.0, size=(n, genes))).astype(np.float32)
    features = np.maximum(rng.normal(size=(n, dim)), 0).astype(np.float32)
    est = ContrastiveTrainer(backbone="features", loss=config["loss"], gene_encoder="projection_head",
                             latent_dim=256, batch_size=config["batch"], epochs=config["epochs"], n_jobs=1,
                             random_state=0)
    est.fit(features, expression)
    r = est.result_
    json.dump(dict(rank=r.rank, world_size=r.world_size, steps=r.steps, train_seconds=r.train_seconds,
                   samples_per_second=r.samples_per_second, gather_seconds=r.gather_seconds,
                   reduce_seconds=r.reduce_seconds, final_loss=r.final_loss), open(out_file, "w"))


def run(world, args, tmp):
    config = dict(pairs=args.pairs, genes=args.genes, feature_dim=2048, batch=args.batch // world,
                  epochs=args.epochs, loss=args.loss)
    config_file = Path(tmp) / f"config{world}.json"
    config_file.write_text(json.dumps(config))
    port = free_port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
        if world > 1:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port))
        out = Path(tmp) / f"out{world}_{rank}.json"
        procs.append((subprocess.Popen([sys.executable, __file__, "--worker", str(config_file), str(out)], env=env),
                      out))
    for proc, _ in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a worker of the {world}-process run failed")
    return [json.load(open(out)) for _, out in procs]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=4096)
    p.add_argument("--genes", type=int, default=1000)
    p.add_argument("--batch", type=int, default=256, help="global batch (pairs per step over all processes)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--loss", default="clip")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; {args.pairs} pairs, {args.genes} genes, "
          f"2048-d features, projection heads to 256, loss {args.loss}, global batch {args.batch}, "
          f"{args.epochs} epochs, 1 thread per process, Gloo on loopback; load average before: "
          f"{os.getloadavg()[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for world in (1, 2):
            result = run(world, args, tmp)[0]
            steps_here = result["steps"]
            rows.append((world, result["samples_per_second"], result["train_seconds"] / steps_here * 1e3,
                         result["gather_seconds"] / steps_here * 1e3, result["reduce_seconds"] / steps_here * 1e3,
                         result["final_loss"]))
    base = rows[0][1]
    print("| processes | samples/s | ms / step | all-gather ms / step | all-reduce ms / step | scaling efficiency | "
          "final loss |")
    print("|---|---|---|---|---|---|---|")
    for world, sps, step_ms, gather_ms, reduce_ms, loss in rows:
        print(f"| {world} | {sps:.0f} | {step_ms:.1f} | {gather_ms:.2f} | {reduce_ms:.2f} | "
              f"{sps / (world * base):.2f} | {loss:.4f} |")


if __name__ == "__main__":
    main()
