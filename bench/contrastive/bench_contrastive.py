"""Contrastive trainer benchmark: training steps/s of spatialembed (C++ LibTorch) against the
same model and loop written in Python PyTorch, and the cost of the frozen backbone.

1. Heads on cached features (what an epoch costs once the frozen backbone's features are
   cached): 2048-d features (ResNet-50 width), n_genes genes, BLEEP's projection head on both
   sides (or STimage-1K4M's linear encoders), latent 256, clip loss, AdamW, batch 256.
   Python side: torch.nn.Linear / GELU / Dropout / LayerNorm, torch.optim.AdamW with the same
   two parameter groups, the same warm-up + cosine, clamp; same threads.
2. The frozen ResNet-50 (real npm weights, 224 px): images/s of the feature pass, one image
   per thread (deterministic=True, the default) and batched (deterministic=False), i.e. what
   every epoch would cost without the cache.

    .venv/bin/python bench/contrastive/bench_contrastive.py            # ~3 min on 2 cores
    .venv/bin/python bench/contrastive/bench_contrastive.py --quick    # seconds
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import harness  # noqa: E402


def python_heads(feature_dim, n_genes, o):
    """The image and gene encoders, logit_scale and AdamW (no decay on biases, norms and
    logit_scale) in PyTorch, as ContrastiveModel builds them."""
    import torch
    import torch.nn.functional as F

    class Head(torch.nn.Module):
        def __init__(self, d, latent, kind):
            super().__init__()
            self.kind = kind
            self.projection = torch.nn.Linear(d, latent)
            if kind == "projection_head":
                self.fc = torch.nn.Linear(latent, latent)
                self.dropout = torch.nn.Dropout(o["dropout"])
                self.norm = torch.nn.LayerNorm(latent)

        def forward(self, x):
            p = self.projection(x)
            if self.kind == "linear":
                return p
            return self.norm(self.dropout(self.fc(F.gelu(p))) + p)

    torch.manual_seed(0)
    img = Head(feature_dim, o["latent_dim"], o["gene_encoder"])
    gene = Head(n_genes, o["latent_dim"], o["gene_encoder"])
    logit_scale = torch.nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
    params = [*img.parameters(), *gene.parameters(), logit_scale]
    opt = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": o["weight_decay"]},
                             {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}], lr=o["lr"])
    return img, gene, logit_scale, opt


def clip_step(img, gene, logit_scale, opt, x, y, lr):
    """One CLIP step (symmetric InfoNCE, lr set, logit_scale clamped to [0, ln 100])."""
    import torch
    import torch.nn.functional as F

    u, v = F.normalize(img(x), dim=-1), F.normalize(gene(y), dim=-1)
    logits = logit_scale.exp() * u @ v.T
    labels = torch.arange(len(x))
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    opt.zero_grad()
    loss.backward()
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    with torch.no_grad():
        logit_scale.clamp_(0, np.log(100))
    return float(loss)


def python_loop(features, expression, o, steps_per_epoch, epochs):
    import torch

    img, gene, logit_scale, opt = python_heads(features.shape[1], expression.shape[1], o)
    X, Y = torch.from_numpy(features), torch.from_numpy(expression)
    bs, total, step = o["batch_size"], steps_per_epoch * epochs, 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(X))
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            clip_step(img, gene, logit_scale, opt, X[idx], Y[idx], 0.5 * (1 + np.cos(np.pi * step / total)) * o["lr"])
            step += 1
    return total / (time.perf_counter() - t0)


def ours(features, expression, o, epochs, n_jobs):
    from spatialembed.contrastive import ContrastiveTrainer
    est = ContrastiveTrainer(backbone="features", gene_encoder=o["gene_encoder"], latent_dim=o["latent_dim"],
                             dropout=o["dropout"], lr=o["lr"], weight_decay=o["weight_decay"],
                             batch_size=o["batch_size"], epochs=epochs, n_jobs=n_jobs)
    t0 = time.perf_counter()
    est.fit(features, expression)
    wall = time.perf_counter() - t0
    return est.result_.steps / est.result_.train_seconds, est.result_.steps / wall


def backbone_speed(n_tiles, n_jobs, deterministic):
    from spatialembed.contrastive import ContrastiveTrainer
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, size=(n_tiles, 224, 224, 3), dtype=np.uint8)
    expression = rng.random((n_tiles, 8), dtype=np.float32)
    est = ContrastiveTrainer(gene_encoder="linear", latent_dim=8, batch_size=n_tiles, epochs=1, n_jobs=n_jobs,
                             deterministic=deterministic, feature_batch_size=32)
    est.fit(tiles, expression)
    return n_tiles / est.result_.feature_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--genes", type=int, default=1000)
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.n_jobs)
    from spatialembed.nn import reuse_freed_memory
    reuse_freed_memory()  # the same allocator settings for both libraries

    batch, spe, epochs = (64, 2, 2) if args.quick else (256, 10, 3)
    n = batch * spe
    rng = np.random.default_rng(1)
    features = rng.random((n, 2048), dtype=np.float32)
    expression = np.log1p(rng.poisson(1.0, size=(n, args.genes))).astype(np.float32)
    print(harness.machine_info() if hasattr(harness, "machine_info") else "")
    print(f"heads on cached features: n={n}, 2048-d features, {args.genes} genes, batch {batch}, "
          f"{spe * epochs} steps, {args.n_jobs} threads")
    print("| encoders | spatialembed steps/s (loop) | spatialembed steps/s (fit wall) | PyTorch steps/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("projection_head", "linear"):
        o = dict(gene_encoder=kind, latent_dim=256, dropout=0.1, lr=1e-3, weight_decay=1e-3, batch_size=batch)
        ours(features, expression, o, 1, args.n_jobs)  # warm-up
        a_loop, a_wall = ours(features, expression, o, epochs, args.n_jobs)
        b = python_loop(features, expression, o, spe, epochs)
        print(f"| {kind} | {a_loop:.2f} | {a_wall:.2f} | {b:.2f} | {a_loop / b:.2f} |")

    tiles = 8 if args.quick else 64
    print(f"\nfrozen ResNet-50 (npm weights), 224 px, {tiles} tiles, {args.n_jobs} threads")
    for deterministic in (True, False):
        speed = backbone_speed(tiles, args.n_jobs, deterministic)
        print(f"  deterministic={deterministic}: {speed:.1f} images/s")


if __name__ == "__main__":
    main()
