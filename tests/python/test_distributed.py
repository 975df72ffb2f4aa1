"""Data-parallel contrastive training (docs/distributed.md): processes on loopback with Gloo,
launched as torchrun launches them, against one process with the global batch."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
contrastive = pytest.importorskip("spatialembed.contrastive")
from spatialembed.nn import _nn  # noqa: E402

ContrastiveTrainer = contrastive.ContrastiveTrainer
WORKER = Path(__file__).with_name("distributed_worker.py")
PYTHONPATH = str(Path(contrastive.__file__).resolve().parents[1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pairs(n=64, genes=10, feature_dim=24, seed=0):
    rng = np.random.default_rng(seed)
    expression = np.log1p(rng.poisson(2.0, size=(n, genes))).astype(np.float32)
    features = expression @ rng.normal(size=(genes, feature_dim)) + 0.3 * rng.normal(size=(n, feature_dim))
    return features.astype(np.float32), expression


PARAMS = dict(backbone="features", latent_dim=8, dropout=0.0, lr=1e-2, weight_decay=0.1, warmup_steps=2,
              grad_clip=1.0, epochs=2, random_state=7, n_jobs=1)


def launch(tmp_path, params, world_size=2, stop_at=None, die_at=None, ranks=None, timeout=60, data=None,
           torchrun=False, name="run", group=None):
    """Starts the ranks (all, or only `ranks`) on loopback; returns [(returncode, stderr, out.npz)]."""
    features, expression = data if data is not None else pairs()
    data_file = tmp_path / "data.npz"
    extra = {} if group is None else dict(group=group)
    np.savez(data_file, features=features, expression=expression, **extra)
    config = tmp_path / f"{name}.json"
    config.write_text(json.dumps(dict(data=str(data_file), params=params, stop_at=stop_at, die_at=die_at)))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    if torchrun:  # torchrun's static rendezvous: its agent hosts the store
        out = tmp_path / f"{name}_%s.npz"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(world_size),
               "--master_addr", "127.0.0.1", "--master_port", str(port), "--max_restarts", "0",
               # Debian 12's torch 1.13 under Python 3.11 cannot parse the default "0" of these two
               # (enum.Flag no longer lists the zero member); 2 = stderr to a log file and the console.
               "--redirects", "2", "--tee", "2",
               str(WORKER), str(config), str(out)]
        # torchrun passes the same argv to every worker: the worker fills in its rank.
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return [(0, "", np.load(str(out).replace("%s", str(r)))) for r in range(world_size)]
    procs = []
    for rank in (ranks if ranks is not None else range(world_size)):
        rank_env = dict(env, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        out = tmp_path / f"{name}_{rank}.npz"
        procs.append((subprocess.Popen([sys.executable, str(WORKER), str(config), str(out)], env=rank_env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out))
    results = []
    for proc, out in procs:
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for p, _ in procs:
                p.kill()
            raise
        results.append((proc.returncode, stderr, np.load(out) if proc.returncode == 0 and out.exists() else None))
    return results


def single(params, batch_size, data=None, group=None, **extra):
    features, expression = data if data is not None else pairs()
    losses = []
    est = ContrastiveTrainer(**dict(params, batch_size=batch_size, **extra), callback=lambda s: losses.append(s.loss))
    est.fit(features, expression, group=group)
    return est, np.array(losses)


def assert_same_model(run, est, data=None):
    features, expression = data if data is not None else pairs()
    np.testing.assert_allclose(run["image"], est.encode_images(features, normalize=False), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run["gene"], est.encode_genes(expression, normalize=False), rtol=1e-5, atol=1e-5)
    eye = np.eye(expression.shape[1], dtype=np.float32)
    np.testing.assert_allclose(run["gene_eye"], est.encode_genes(eye, normalize=False), rtol=1e-5, atol=1e-5)
    assert float(run["logit_scale"]) == pytest.approx(est.model_.logit_scale, rel=1e-5, abs=1e-6)


# ---------------------------------------------------------------- the sampler rule

def test_shards_cover_every_pair_once_per_epoch():
    rng = np.random.default_rng(0)
    for n, world in [(64, 2), (61, 2), (10, 3), (7, 4)]:
        order = [int(i) for i in rng.permutation(n)]
        for drop_last in (True, False):
            shards = [_nn().distributed_shard(order, world, r, drop_last) for r in range(world)]
            # DistributedSampler's rule, written out: cut or pad to a multiple of W, stride W.
            total = n // world * world if drop_last else -(-n // world) * world
            padded = (order * 2)[:total]
            for r in range(world):
                assert shards[r] == padded[r:total:world]
            assert len({len(s) for s in shards}) == 1
            seen = np.concatenate(shards)
            counts = np.bincount(seen, minlength=n)
            if n % world == 0:
                assert (counts == 1).all()
            elif drop_last:
                assert counts.max() == 1 and counts.sum() == total
            else:
                assert counts.min() == 1 and counts.sum() == total
                assert sorted(np.flatnonzero(counts == 2)) == sorted(order[:total - n])


def test_options_validate_and_read_the_environment(monkeypatch):
    o = _nn().DistributedOptions()
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "1234")
    info = _nn().resolve_distributed(o)
    assert (info["active"], info["world_size"], info["rank"], info["local_rank"]) == (True, 4, 3, 3)
    assert (info["master_addr"], info["master_port"]) == ("10.0.0.1", 1234)
    o.enabled = False
    assert not _nn().resolve_distributed(o)["active"]
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(ValueError, match="rank 4"):
        _nn().resolve_distributed(_nn().DistributedOptions())
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK"):
        _nn().resolve_distributed(_nn().DistributedOptions())
    for field, value in [("timeout", 0.0), ("bucket_mb", -1.0), ("master_port", 70000), ("world_size", -2)]:
        o = _nn().DistributedOptions()
        setattr(o, field, value)
        with pytest.raises(ValueError, match=field):
            o.validate()
    with pytest.raises(ValueError, match="backend"):
        _nn().DistributedOptions().backend = "mpi"
    with pytest.raises(ValueError, match="unknown"):
        ContrastiveTrainer(distributed={"ranks": 2})._options()


# ---------------------------------------------------------------- 2 processes × B = 1 process × 2B

@pytest.mark.parametrize("loss", ["clip", "bleep"])
def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path, loss):
    params = dict(PARAMS, loss=loss, batch_size=8)
    if loss == "bleep":
        params.update(lr=1e-3)
    # 16 of the 80 pairs held out: validation loss after each epoch, in global batches of 16
    features, expression = pairs(n=80)
    group = np.repeat([0, 1], [64, 16]).astype(np.int32)
    params.update(validation_groups=[1], restore_best=False)
    runs = launch(tmp_path, params, data=(features, expression), group=group)
    for code, stderr, _ in runs:
        assert code == 0, stderr[-3000:]
    est, losses = single(params, batch_size=16, data=(features, expression), group=group)
    assert len(est.result_.validation_loss) == 2
    for code, _, run in runs:
        assert int(run["world_size"]) == 2
        assert int(run["steps"]) == len(losses) == 2 * (64 // 16)
        np.testing.assert_allclose(run["validation_loss"], est.result_.validation_loss, rtol=1e-5)
        np.testing.assert_allclose(run["losses"], losses, rtol=1e-5, atol=1e-6)
        assert_same_model(run, est, data=(features, expression))
    assert float(runs[0][2]["gather_seconds"]) > 0 and float(runs[0][2]["reduce_seconds"]) > 0


def test_torchrun_launch(tmp_path):
    """`python -m torch.distributed.run` (torchrun's static rendezvous, the agent's store)."""
    params = dict(PARAMS, batch_size=8, epochs=1)
    runs = launch(tmp_path, params, torchrun=True)
    est, losses = single(params, batch_size=16)
    for _, _, run in runs:
        np.testing.assert_allclose(run["losses"], losses, rtol=1e-5, atol=1e-6)
        assert_same_model(run, est)
    assert sorted(int(r["rank"]) for _, _, r in runs) == [0, 1]


def test_torchrun_train_contrastive_cli(data_dir, tmp_path):
    """`torchrun --nproc_per_node 2 -m spatialembed train-contrastive` on a real her2st section:
    rank 0 alone writes the run folder, and the model equals one process with the global batch."""
    args = ["train-contrastive", "C3", "--root", str(data_dir / "st" / "her2st"), "--weights", "random",
            "--input-size", "32", "--epochs", "2", "--n-top-genes", "100", "--gene-encoder", "linear",  # no dropout
            "--latent-dim", "16", "--threads", "1", "--no-report", "--quiet"]
    env = dict(os.environ, PYTHONPATH=PYTHONPATH, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                "--master_port", str(free_port()), "--max_restarts", "0", "--redirects", "2", "--tee", "2"]
    two = subprocess.run(torchrun + ["-m", "spatialembed"] + args + ["--batch-size", "32", "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, "-m", "spatialembed"] + args + ["--batch-size", "64", "--out",
                                                                         str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    metrics = {n: json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("one", "two")}
    assert (metrics["two"]["world_size"], metrics["one"]["world_size"]) == (2, 1)
    assert metrics["two"]["steps"] == metrics["one"]["steps"] == 2 * (180 // 64)
    logs = {n: np.genfromtxt(tmp_path / n / "log.csv", delimiter=",", names=True) for n in ("one", "two")}
    np.testing.assert_allclose(logs["two"]["loss"], logs["one"]["loss"], rtol=1e-5, atol=1e-6)
    models = {n: ContrastiveTrainer.load(tmp_path / n / "model.pt") for n in ("one", "two")}
    eye = np.eye(100, dtype=np.float32)
    np.testing.assert_allclose(models["two"].encode_genes(eye), models["one"].encode_genes(eye), rtol=1e-5, atol=1e-5)


def test_rank0_checkpoint_resumed_by_two_ranks_equals_uninterrupted(tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    params = dict(PARAMS, batch_size=8, epochs=3, checkpoint=str(checkpoint))
    full = launch(tmp_path, dict(params, checkpoint=str(tmp_path / "full.ckpt")), name="full")
    stopped = launch(tmp_path, params, stop_at=5, name="stopped")  # mid-epoch 2 (4 steps per epoch)
    assert all(code == 0 for code, _, _ in stopped), stopped[0][1][-2000:]
    assert checkpoint.exists() and not (tmp_path / "run.ckpt.tmp").exists()
    resumed = launch(tmp_path, dict(params, resume=str(checkpoint)), name="resumed")
    for (code, stderr, run), (_, _, ref) in zip(resumed, full):
        assert code == 0, stderr[-3000:]
        np.testing.assert_array_equal(run["losses"], ref["losses"][5:])
        for key in ("image", "gene", "gene_eye", "logit_scale"):
            np.testing.assert_array_equal(run[key], ref[key])
    # A checkpoint of two ranks does not resume in one process.
    with pytest.raises(ValueError, match="2 processes"):
        single(params, batch_size=8, resume=str(checkpoint))


# ---------------------------------------------------------------- faults

def fit_start(stderr):
    """The worker's time.monotonic() (system-wide) when it called fit: imports are not timed."""
    return float(next(line for line in stderr.splitlines() if line.startswith("FIT_START")).split()[1])


def test_a_killed_rank_stops_the_other_with_an_error(tmp_path):
    features, expression = pairs(n=512)
    params = dict(PARAMS, batch_size=8, epochs=5, distributed={"timeout": 20.0})
    (code0, stderr0, _), (code1, _, _) = launch(tmp_path, params, die_at=3, data=(features, expression), timeout=90)
    elapsed = time.monotonic() - fit_start(stderr0)
    assert code1 == -9
    assert code0 != 0
    assert "distributed" in stderr0 and "rank 0 of 2" in stderr0, stderr0[-2000:]
    assert elapsed < 20 + 10


def test_a_rank_that_never_joins_times_out(tmp_path):
    params = dict(PARAMS, batch_size=8, distributed={"timeout": 3.0})
    [(code, stderr, _)] = launch(tmp_path, params, ranks=[0], timeout=90)
    elapsed = time.monotonic() - fit_start(stderr)
    assert code != 0
    assert "rendezvous" in stderr and "127.0.0.1" in stderr, stderr[-2000:]
    assert elapsed < 3 + 10
