"""One process of a data-parallel ContrastiveTrainer run, for tests/python/test_distributed.py.

Usage: distributed_worker.py CONFIG.json OUT.npz (rank and world from the environment, as
torchrun sets it). CONFIG: {"data": npz with features/expression, "params": ContrastiveTrainer
parameters, "stop_at": step to cancel after, "die_at": step at which rank 1 kills itself}.
"""
import json
import os
import signal
import sys
import time

import numpy as np

from spatialembed.contrastive import ContrastiveTrainer


def main():
    config = json.load(open(sys.argv[1]))
    out = sys.argv[2].replace("%s", os.environ.get("RANK", "0"))  # torchrun: one argv for all ranks
    data = np.load(config["data"])
    losses, scales = [], []
    stop_at, die_at = config.get("stop_at"), config.get("die_at")
    rank = int(os.environ.get("RANK", "0"))

    def callback(step):
        losses.append(step.loss)
        scales.append(step.logit_scale)
        if die_at is not None and rank == 1 and step.step == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return stop_at is None or step.step < stop_at

    est = ContrastiveTrainer(**config["params"], callback=callback)
    print(f"FIT_START {time.monotonic()}", file=sys.stderr, flush=True)  # the tests time faults from here
    try:
        est.fit(data["features"], data["expression"], group=data["group"] if "group" in data else None)
    except KeyboardInterrupt:  # cancelled by stop_at, after the checkpoint
        np.savez(out, losses=np.array(losses), cancelled=True)
        return
    features, expression = data["features"], data["expression"]
    np.savez(out, losses=np.array(losses), scales=np.array(scales),
             image=est.encode_images(features, normalize=False), gene=est.encode_genes(expression, normalize=False),
             gene_eye=est.encode_genes(np.eye(expression.shape[1], dtype=np.float32), normalize=False),
             logit_scale=est.model_.logit_scale, world_size=est.result_.world_size, rank=est.result_.rank,
             steps=est.result_.steps, samples_per_second=est.result_.samples_per_second,
             gather_seconds=est.result_.gather_seconds, reduce_seconds=est.result_.reduce_seconds,
             train_seconds=est.result_.train_seconds, validation_loss=np.array(est.result_.validation_loss))


if __name__ == "__main__":
    main()
