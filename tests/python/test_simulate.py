"""simulate_tissue and the `spatialembed simulate` command: files, truth, read-back."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import spatialembed


def pearson(a, b):
    return np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1]


def test_default_simulation_is_small_and_consistent(tmp_path):
    truth = spatialembed.simulate_tissue(tmp_path / "sim.imzML")
    n = len(truth["mz"])
    assert 80 <= n <= 160
    assert (tmp_path / "sim.ibd").exists() and (tmp_path / "sim_truth.json").exists()
    assert truth["truth_path"] == str(tmp_path / "sim_truth.json")
    for name in ("molecule", "isotope", "pattern", "shoulder"):
        assert truth[name].shape == (n,) and truth[name].dtype == np.int32
    assert truth["mz"].dtype == np.float64 and np.all(np.diff(truth["mz"]) > 0)
    assert len(truth["kind"]) == n and truth["png_max"] is None
    n_patterns = len(truth["patterns"])
    assert truth["pattern_maps"].shape == (n_patterns, 64, 64) and truth["pattern_maps"].dtype == np.float32
    assert truth["mask"].shape == (64, 64) and truth["mask"].dtype == bool
    assert np.all(truth["pattern_maps"][:, ~truth["mask"]] == 0)
    # Kinds agree with the pattern table; pattern ids are the used ones, 0..n_patterns-1.
    assert set(truth["pattern"]) == set(range(n_patterns))
    for k in range(n):
        assert truth["kind"][k] == truth["patterns"][truth["pattern"][k]]["kind"]
    assert {p["kind"] for p in truth["patterns"]} == {"region", "region_nodule", "nodule", "layer", "gradient"}
    # Isotopes of one molecule: 1.00336 Da apart, one pattern.
    for m in np.unique(truth["molecule"]):
        ions = np.flatnonzero(truth["molecule"] == m)
        np.testing.assert_allclose(np.diff(truth["mz"][ions]), 1.00336, atol=1e-9)
        assert len(set(truth["pattern"][ions])) == 1
        assert list(truth["isotope"][ions]) == list(range(len(ions)))
    # Shoulder pairs: symmetric, different patterns.
    paired = np.flatnonzero(truth["shoulder"] >= 0)
    assert len(paired) >= 4
    assert np.all(truth["shoulder"][truth["shoulder"][paired]] == paired)
    assert np.all(truth["pattern"][paired] != truth["pattern"][truth["shoulder"][paired]])


def test_imzml_ion_images_follow_the_truth_maps(tmp_path):
    path = tmp_path / "sim.imzML"
    truth = spatialembed.simulate_tissue(path, hotspot_fraction=0, random_state=4, n_jobs=2)
    stack = spatialembed.IonImageStack.from_imzml(path, truth["mz"], tol_ppm=1)
    x0, y0 = stack.origin
    h, w = stack.images.shape[1:]
    maps = truth["pattern_maps"][:, y0 - 1:y0 - 1 + h, x0 - 1:x0 - 1 + w]
    mask = stack.mask
    assert np.array_equal(mask, truth["mask"][y0 - 1:y0 - 1 + h, x0 - 1:x0 - 1 + w])
    r = np.array([pearson(stack.images[k][mask], maps[truth["pattern"][k]][mask]) for k in range(len(truth["mz"]))])
    assert r.min() > 0.8 and np.median(r) > 0.95
    # Ions of one pattern correlate with each other far more than with ions of another.
    vectors = stack.images[:, mask]
    c = np.corrcoef(vectors)
    same = truth["pattern"][:, None] == truth["pattern"][None, :]
    off_diagonal = ~np.eye(len(c), dtype=bool)
    assert c[same & off_diagonal].mean() > 0.85
    assert np.abs(c[~same]).mean() < 0.3


def test_png_mode_reads_back_and_matches_the_seed(tmp_path):
    truth = spatialembed.simulate_tissue(tmp_path / "pngs", mode="png", width=40, height=30, n_molecules=10,
                                         n_shoulder_pairs=1, random_state=9)
    assert (tmp_path / "pngs_truth.json").exists()
    stack = spatialembed.IonImageStack.from_png_dir(tmp_path / "pngs")
    assert stack.images.shape == (len(truth["mz"]), 30, 40)
    np.testing.assert_array_equal(stack.mz, truth["mz"])
    np.testing.assert_array_equal(stack.mask, truth["mask"])
    assert truth["png_max"].shape == truth["mz"].shape and np.all(truth["png_max"] > 0)
    assert np.allclose(stack.images.max(axis=(1, 2)), 1.0)
    # The same seed in another mode gives the same values: PNG x png_max == processed imzML.
    spatialembed.simulate_tissue(tmp_path / "same.imzML", width=40, height=30, n_molecules=10, n_shoulder_pairs=1,
                                 random_state=9)
    again = spatialembed.IonImageStack.from_imzml(tmp_path / "same.imzML", truth["mz"], tol_ppm=1)
    x0, y0 = again.origin
    h, w = again.images.shape[1:]
    scaled = stack.images[:, y0 - 1:y0 - 1 + h, x0 - 1:x0 - 1 + w] * truth["png_max"][:, None, None]
    np.testing.assert_allclose(scaled, again.images, atol=float(truth["png_max"].max()) / 65535)


def test_load_truth_names_the_truth_file_when_given_the_data(tmp_path):
    spatialembed.simulate_tissue(tmp_path / "a.imzML", width=16, height=16, n_molecules=4)
    spatialembed.simulate_tissue(tmp_path / "pngs", width=16, height=16, n_molecules=4, mode="png")
    for given, truth in [("a.imzML", "a_truth.json"), ("a.ibd", "a_truth.json"), ("pngs", "pngs_truth.json")]:
        with pytest.raises(ValueError, match=f"{given}: the simulated section.*{truth}"):
            spatialembed.load_truth(tmp_path / given)
    (tmp_path / "bad.json").write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match="bad.json: not a simulated-tissue truth file"):
        spatialembed.load_truth(tmp_path / "bad.json")


def test_load_truth_matches_the_returned_truth(tmp_path):
    truth = spatialembed.simulate_tissue(tmp_path / "p", mode="png", n_molecules=8, random_state=2)
    loaded = spatialembed.load_truth(truth["truth_path"])
    for name in ("mz", "molecule", "isotope", "pattern", "shoulder", "abundance", "png_max"):
        np.testing.assert_array_equal(loaded[name], truth[name])
    assert loaded["kind"] == truth["kind"]
    assert [p["kind"] for p in loaded["patterns"]] == [p["kind"] for p in truth["patterns"]]
    assert loaded["options"]["seed"] == 2 and loaded["output"]["mode"] == "png"
    assert loaded["output"]["path"] == "p"


def test_determinism_and_overwrite(tmp_path):
    a = spatialembed.simulate_tissue(tmp_path / "a.imzML", mode="continuous", random_state=5, n_jobs=1)
    spatialembed.simulate_tissue(tmp_path / "b.imzML", mode="continuous", random_state=5, n_jobs=2)
    assert (tmp_path / "a.ibd").read_bytes() == (tmp_path / "b.ibd").read_bytes()
    assert (tmp_path / "a.imzML").read_bytes() == (tmp_path / "b.imzML").read_bytes()
    with pytest.raises(OSError, match="a.imzML.*overwrite"):
        spatialembed.simulate_tissue(tmp_path / "a.imzML", random_state=6)
    c = spatialembed.simulate_tissue(tmp_path / "a.imzML", random_state=6, overwrite=True)
    assert not np.array_equal(a["mz"], c["mz"])
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 4}, "width"),
    ({"noise": -0.1}, "noise"),
    ({"mode": "tiff"}, "mode"),
    ({"isotopes": (3, 2)}, "max_isotopes"),
    ({"mz_range": (500, 400)}, "mz_max"),
    ({"n_molecules": -1}, "n_molecules"),
    ({"n_molecules": 4000, "mz_range": (400, 420)}, "too crowded"),
])
def test_invalid_arguments_raise_value_error(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        spatialembed.simulate_tissue(tmp_path / "x.imzML", **kwargs)


def test_imzml_modes_need_an_imzml_path(tmp_path):
    with pytest.raises(ValueError, match="imzML"):
        spatialembed.simulate_tissue(tmp_path / "x.ibd")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "spatialembed", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_cli_simulate_writes_the_files(tmp_path):
    out = tmp_path / "cli.imzML"
    result = run_cli("simulate", out, "--width", 32, "--height", 24, "--n-molecules", 12, "--seed", 3)
    assert result.returncode == 0, result.stderr
    assert out.exists() and (tmp_path / "cli.ibd").exists()
    truth = json.loads((tmp_path / "cli_truth.json").read_text())
    assert truth["options"]["width"] == 32 and truth["options"]["seed"] == 3
    assert "ion images" in result.stderr  # the summary line
    with spatialembed.ImzMLReader(out) as reader:
        assert len(reader) == truth["output"]["n_measured"]
    png = run_cli("simulate", tmp_path / "pngs", "--mode", "png", "--n-molecules", 6, "--quiet")
    assert png.returncode == 0, png.stderr
    assert len(list((tmp_path / "pngs").glob("*.png"))) == len(spatialembed.load_truth(tmp_path / "pngs_truth.json")["mz"])


def test_cli_bad_input_fails_with_a_message(tmp_path):
    out = tmp_path / "x.imzML"
    bad = run_cli("simulate", out, "--width", 3)
    assert bad.returncode != 0 and "width" in bad.stderr
    assert not out.exists()
    assert run_cli("simulate", out, "--quiet").returncode == 0
    again = run_cli("simulate", out, "--quiet")
    assert again.returncode != 0 and "already exists" in again.stderr and "x.imzML" in again.stderr
    usage = run_cli("simulate", out, "--mode", "jpeg")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    assert run_cli().returncode == 2
