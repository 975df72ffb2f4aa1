"""`spatialembed cluster-ions` end to end on real data, its files, and its refusals."""
import csv
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import spatialembed as se
from spatialembed.cli import main
from spatialembed.workflow import peak_half_width_ppm, read_mz_list, read_reference_grouping


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "spatialembed", "cluster-ions", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def kidney(data_dir):
    return data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"


@pytest.fixture(scope="module")
def kidney_run(kidney, tmp_path_factory):
    out = tmp_path_factory.mktemp("kidney") / "run"
    result = run_cli(kidney, "--out", out, "--method", "both", "--top-n", "30", "--snr", "2", "--half-window", "5",
                     "--n-neighbors", "8", "--min-samples", "3", "--threads", "2", "--preset", "paper")
    assert result.returncode == 0, result.stderr
    return out, result


def test_both_methods_on_the_kidney_imzml(kidney_run, kidney):
    out, result = kidney_run
    assert sorted(p.name for p in out.iterdir()) == [".spatialembed-output", "clusters.csv", "embedding.npy",
                                                     "embedding_umap_only.npy", "features.npy", "params.json",
                                                     "report.html"]
    assert not list(out.parent.glob(".*partial"))
    with open(out / "clusters.csv") as f:
        rows = list(csv.DictReader(f))
    n = len(rows)
    assert 15 < n <= 30
    assert np.load(out / "features.npy").shape == (n, 2048)
    assert np.load(out / "embedding.npy").shape == (n, 3)
    assert np.load(out / "embedding_umap_only.npy").shape == (n, 3)
    params = json.load(open(out / "params.json"))
    assert params["input"]["mode"] == "continuous" and params["input"]["ion_images"] == n
    assert params["input"]["tolerance_auto"] is True
    for method in ("nn", "umap_only"):
        m = params["methods"][method]
        assert m["params"]["eps"] > 0 and m["params"]["eps_auto"] is True
        assert m["evaluation"]["n_clusters"] == len({int(r[f"label_{method}"]) for r in rows} - {-1})
        assert set(m["timings"]) >= {"preprocess", "umap", "dbscan", "total"}
        # --preset paper: the paper's preprocessing too (hotspot quantile over all pixels, no spike step)
        assert m["params"]["remove_spikes"] is False and m["params"]["hotspot_ignore_zeros"] is False
    assert "embed" in params["methods"]["nn"]["timings"]
    assert -1 <= params["comparison"]["ARI nn vs umap_only"] <= 1
    assert "report.html" in result.stderr
    # The m/z are the mean spectrum's peaks and the labels those of the Python API with the same options.
    mz = np.array([float(r["mz"]) for r in rows])
    with se.ImzMLReader(kidney) as reader:
        peaks = se.pick_peaks(*reader.mean_spectrum(), snr=2, half_window=5, top_n=30)
    np.testing.assert_array_equal(mz, peaks["mz"])


def test_png_folder_with_a_grine_reference(data_dir, tmp_path):
    folder = data_dir / "msi" / "glioblastoma_png"
    out = tmp_path / "gbm"
    assert main(["cluster-ions", str(folder), "--out", str(out), "--method", "umap_only", "--no-report", "--quiet",
                 "--reference", str(folder / "grine_communities.json")]) == 0
    params = json.load(open(out / "params.json"))
    assert "ARI umap_only vs GRINE" in params["comparison"]
    assert "GRINE" in params["input"]["reference"]
    assert not (out / "features.npy").exists() and not (out / "report.html").exists()


def test_refuses_an_existing_output_folder(kidney_run, kidney, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    result = run_cli(kidney, "--out", out, "--method", "umap_only", "--top-n", "20", "--snr", "2", "--half-window", "5")
    assert result.returncode == 1
    assert "exists" in result.stderr and "--overwrite" in result.stderr
    assert (out / "mine.txt").read_text() == "keep me"
    # --overwrite replaces only an empty folder or an earlier spatialembed output (see test_output_safety.py).
    result = run_cli(kidney, "--out", out, "--method", "umap_only", "--top-n", "20", "--snr", "2", "--half-window", "5",
                     "--n-neighbors", "8", "--no-report", "--overwrite")
    assert result.returncode == 2 and ".spatialembed-output" in result.stderr
    assert (out / "mine.txt").read_text() == "keep me"
    (out / "mine.txt").unlink()
    result = run_cli(kidney, "--out", out, "--method", "umap_only", "--top-n", "20", "--snr", "2", "--half-window", "5",
                     "--n-neighbors", "8", "--no-report", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (out / "mine.txt").exists() and (out / "clusters.csv").exists()


def test_bad_input_exits_nonzero_and_writes_nothing(kidney, tmp_path, data_dir):
    out = tmp_path / "out"
    cases = [
        ([tmp_path / "missing.imzML"], "no such file"),
        ([kidney, "--mz-list", tmp_path / "outside.txt"], "outside the data's m/z range"),
        ([kidney, "--top-n", "10", "--snr", "2", "--half-window", "5"], "too few for UMAP with n_neighbors = 15"),
        ([kidney, "--mz-list", tmp_path / "notes.txt"], "expected an m/z value"),
        ([kidney, "--method", "nn", "--backbone", "torchscript", "--input-size", "32", "--top-n", "30", "--snr", "2",
          "--half-window", "5", "--n-neighbors", "8"], "weights"),
    ]
    (tmp_path / "outside.txt").write_text("m/z\n100.5\n200.25\n")
    (tmp_path / "notes.txt").write_text("2500\nabc\n")
    for args, message in cases:
        result = run_cli(*args, "--out", out)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_all_zero_images_and_empty_imzml(tmp_path, data_dir):
    blank = se.IonImageStack(np.zeros((20, 8, 8), np.float32), None, np.arange(100, 120, dtype=float))
    blank.to_png_dir(tmp_path / "blank")
    result = run_cli(tmp_path / "blank", "--out", tmp_path / "out", "--method", "umap_only")
    assert result.returncode == 1 and "all 20 ion images are empty" in result.stderr
    # The imzML reference example with its spectrum list emptied.
    example = data_dir / "msi" / "imzml_examples" / "Example_Continuous"
    xml = example.with_suffix(".imzML").read_text(encoding="latin-1")
    xml = re.sub(r"<spectrum .*?</spectrum>", "", xml, flags=re.S)
    xml = re.sub(r'(<spectrumList[^>]*count=")\d+', r"\g<1>0", xml)
    (tmp_path / "empty.imzML").write_text(xml, encoding="latin-1")
    shutil.copy(example.with_suffix(".ibd"), tmp_path / "empty.ibd")
    result = run_cli(tmp_path / "empty.imzML", "--out", tmp_path / "out2")
    assert result.returncode == 1 and "holds no <spectrum>" in result.stderr, result.stderr


def test_helpers(tmp_path):
    mz = np.linspace(990, 1010, 20001)
    y = np.exp(-0.5 * ((mz - 1000) / 0.5) ** 2)
    assert peak_half_width_ppm(mz, y, [10000]) == pytest.approx(2.35482 * 0.5 / 2 / 1000 * 1e6, rel=1e-4)
    (tmp_path / "list.csv").write_text("mz,name\n# comment\n500.1,a\n\n600.2;b\n")
    np.testing.assert_array_equal(read_mz_list(tmp_path / "list.csv"), [500.1, 600.2])
    (tmp_path / "grine.json").write_text(json.dumps({"c_nodes": [{"nodes": [{"name": "500.1"}, {"name": "700"}]},
                                                                 {"nodes": [{"name": "600.2"}]}]}))
    labels, name = read_reference_grouping(tmp_path / "grine.json", [500.1001, 600.2, 650.0])
    assert name == "GRINE" and labels.tolist() == [0, 1, -1]


def test_preprocessing_flags_override_the_preset(data_dir, tmp_path):
    folder = data_dir / "msi" / "glioblastoma_png"
    for preset, flags, expected in [("paper", ["--remove-spikes"], (True, False)),
                                    ("default", ["--no-hotspot-ignore-zeros"], (True, False)),
                                    ("default", [], (True, True))]:
        out = tmp_path / f"{preset}{len(flags)}"
        assert main(["cluster-ions", str(folder), "--out", str(out), "--method", "umap_only", "--no-report", "--quiet",
                     "--preset", preset, *flags]) == 0
        params = json.load(open(out / "params.json"))["methods"]["umap_only"]["params"]
        assert (params["remove_spikes"], params["hotspot_ignore_zeros"]) == expected
