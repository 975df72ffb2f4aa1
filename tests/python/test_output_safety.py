"""--overwrite never loses the user's data: `cluster-ions`, `simulate` and the Python workflow share
one output mechanism (C++ OutputStaging) that replaces only empty folders or earlier spatialembed
outputs (marked by `.spatialembed-output`), never an input, a folder holding one, or a link."""
import hashlib
import os
import subprocess

import numpy as np
import pytest

import spatialembed as se
from spatialembed import _core
from spatialembed.cli import main
from spatialembed.workflow import cluster_ions

MARKER = ".spatialembed-output"


class Cli:
    """`spatialembed …` in this process (as test_cli_cluster_ions does for quick cases): returncode and stderr."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *args):
        self.capsys.readouterr()
        returncode = main([str(a) for a in args])
        return subprocess.CompletedProcess(args, returncode, "", self.capsys.readouterr().err)


@pytest.fixture()
def cli(capsys):
    return Cli(capsys)


def fingerprint(folder):
    """Every file under `folder` (relative path -> SHA-256), to show nothing changed."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def pngs(tmp_path):
    """A small PNG ion-image folder (24 images with 4 spatial patterns) plus a notes file, as a user keeps them."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:20, :20]
    patterns = [xx / 19, yy / 19, ((xx - 10) ** 2 + (yy - 10) ** 2 < 30).astype(float), (xx + yy) % 2 * 1.0]
    images = np.stack([patterns[k % 4] * rng.uniform(0.5, 1) + rng.uniform(0, 0.05, (20, 20)) for k in range(24)])
    folder = tmp_path / "data" / "pngs"
    se.IonImageStack(images.astype(np.float32), None, 400 + np.arange(24) * 1.5).to_png_dir(folder)
    (folder / "notes.txt").write_text("my notes")
    return folder


@pytest.fixture()
def cluster(cli):
    def run(input, out, *extra):
        return cli("cluster-ions", input, "--out", out, "--method", "umap_only", "--n-neighbors", "5",
                   "--min-samples", "3", "--no-report", "--quiet", *extra)
    return run


def test_overwrite_never_replaces_the_input_or_a_folder_holding_it(pngs, cluster):
    before = fingerprint(pngs.parent)
    for out, reason in [(pngs, "is the input"), (pngs.parent, "holds the input"),
                        (pngs.parent.parent, "holds the input"), (pngs / ".." / "pngs", "is the input")]:
        result = cluster(pngs, out, "--overwrite")
        assert result.returncode == 2, (out, result.stderr)
        assert reason in result.stderr and str(pngs) in result.stderr and "Traceback" not in result.stderr
        assert fingerprint(pngs.parent) == before
    assert not list(pngs.parent.parent.rglob("*.partial*"))


def test_overwrite_refuses_a_folder_spatialembed_did_not_write(pngs, tmp_path, cluster):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "figures").mkdir()
    result = cluster(pngs, mine, "--overwrite")
    assert result.returncode == 2
    assert "thesis.tex" in result.stderr and "figures" in result.stderr and MARKER in result.stderr
    assert (mine / "thesis.tex").read_text() == "years of work"
    # The refusal comes before the work: no temporary folder was ever made.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "mine"]


def test_overwrite_replaces_an_earlier_run_or_an_empty_folder(pngs, tmp_path, cluster):
    out = tmp_path / "run"
    first = cluster(pngs, out)
    assert first.returncode == 0, first.stderr
    assert MARKER in os.listdir(out) and "spatialembed" in (out / MARKER).read_text()
    (out / "stale.txt").write_text("from the first run")
    again = cluster(pngs, out, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert (out / "clusters.csv").exists() and (out / MARKER).exists() and not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "run"]  # no .partial, no .old

    empty = tmp_path / "empty"
    empty.mkdir()
    result = cluster(pngs, empty, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert (empty / "clusters.csv").exists()


def test_dot_a_link_and_a_file_as_out(pngs, tmp_path, cluster, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    result = cluster(pngs, ".")
    assert result.returncode == 1 and "exists" in result.stderr and "--overwrite" in result.stderr
    result = cluster(pngs, ".", "--overwrite")
    assert result.returncode == 2 and "current working folder" in result.stderr
    assert "Errno" not in result.stderr and (work / "keep.txt").read_text() == "keep"
    monkeypatch.chdir(tmp_path)

    earlier = tmp_path / "earlier"
    assert cluster(pngs, earlier).returncode == 0
    (tmp_path / "link").symlink_to(earlier)
    result = cluster(pngs, tmp_path / "link", "--overwrite")
    assert result.returncode == 2 and "symbolic link" in result.stderr and str(earlier) in result.stderr
    assert "rmtree" not in result.stderr and (tmp_path / "link").is_symlink() and (earlier / "clusters.csv").exists()

    (tmp_path / "a_file").write_text("x")
    result = cluster(pngs, tmp_path / "a_file", "--overwrite")
    assert result.returncode == 2 and "not a folder" in result.stderr and (tmp_path / "a_file").read_text() == "x"


def test_python_workflow_raises_unsafe_output_error(pngs):
    with pytest.raises(se.UnsafeOutputError, match="is the input") as caught:
        cluster_ions(pngs, pngs, methods=["umap_only"], overwrite=True)
    assert isinstance(caught.value, OSError)
    with pytest.raises(FileExistsError, match="--overwrite"):
        cluster_ions(pngs, pngs, methods=["umap_only"])
    assert (pngs / "notes.txt").read_text() == "my notes"


def test_simulate_shares_the_mechanism(pngs, tmp_path, cli):
    before = fingerprint(pngs)
    result = cli("simulate", pngs, "--mode", "png", "--n-molecules", "4", "--width", "16", "--height", "16",
                     "--overwrite", "--quiet")
    assert result.returncode == 2, result.stderr
    assert "holds 400.png, 401.5.png, 403.png and 22 more but no .spatialembed-output" in result.stderr
    assert fingerprint(pngs) == before
    out = tmp_path / "sim"
    for _ in range(2):  # the second replaces the first: it is marked as spatialembed's
        result = cli("simulate", out, "--mode", "png", "--n-molecules", "4", "--width", "16", "--height", "16",
                         "--overwrite", "--quiet")
        assert result.returncode == 0, result.stderr
    assert (out / MARKER).exists()
    truth = se.load_truth(tmp_path / "sim_truth.json")
    assert len(se.IonImageStack.from_png_dir(out)) == len(truth["mz"])  # the marker is not read as an image


def test_the_mechanism_from_python(tmp_path):
    out = tmp_path / "run"
    with _core.OutputStaging(False, [str(tmp_path / "in.txt")]) as staging:
        folder = staging.add(out, "folder")
        (folder / "a.txt").write_text("a")
        assert not out.exists()
        staging.commit()
    assert (out / "a.txt").read_text() == "a" and (out / _core.OUTPUT_MARKER).exists()
    with pytest.raises(KeyboardInterrupt):
        with _core.OutputStaging(True) as staging:
            (staging.add(out, "folder") / "b.txt").write_text("b")
            raise KeyboardInterrupt
    assert sorted(os.listdir(out)) == [MARKER, "a.txt"] and sorted(os.listdir(tmp_path)) == ["run"]
    with pytest.raises(ValueError, match="file.*folder"):
        _core.check_output_path(out, "dir")


def test_unsafe_output_error_survives_loading_the_nn_module(pngs, cluster):
    # Exception translators are global: _nn registers the generic one again when it loads, and
    # UnsafeOutput must still reach Python as UnsafeOutputError (exit 2), not a plain OSError.
    pytest.importorskip("spatialembed._nn")
    before = fingerprint(pngs)
    result = cluster(pngs, pngs, "--overwrite")
    assert result.returncode == 2, result.stderr
    assert fingerprint(pngs) == before
