"""spatialembed.report: the self-contained HTML report of an ion-image clustering run.

The results are built by hand from a small synthetic stack (no pipeline run): 40 ion images of
32 x 32 pixels, 20 molecules with an M+1 isotope each, 4 spatial patterns, one empty image,
some noise labels. The isotope panels are also checked on real pipeline runs (max_charge 1, 2),
and the page in headless Chromium (tests/python/chromium.py) with its interactive embedding.
"""
import base64
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from spatialembed import IonImageStack
from spatialembed._result import IonImageClusteringResult
from spatialembed.report import write_report

from chromium import dump_dom, render_screenshot

ISOTOPE = 1.00336
DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
SECTIONS = ("summary", "comparison", "spectrum", "isotopes", "gallery", "embedding")


def _patterns(size=32):
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    disc = ((x - 0.3) ** 2 + (y - 0.35) ** 2 < 0.04).astype(np.float32)
    ring = np.abs(np.hypot(x - 0.6, y - 0.6) - 0.25) < 0.06
    stripes = (np.sin(12 * y) > 0.6).astype(np.float32)
    return [x.astype(np.float32), disc, ring.astype(np.float32), stripes]


@pytest.fixture(scope="module")
def stack():
    rng = np.random.default_rng(0)
    patterns = _patterns()
    mask = np.ones((32, 32), bool)
    mask[:6, :6] = mask[-5:, -7:] = False
    images, mz = [], []
    for molecule in range(20):
        base = 400.0 + 23.417 * molecule
        for isotope in range(2):
            image = patterns[molecule % 4] * (1.0 if isotope == 0 else 0.35) * (1 + molecule)
            image = image + 0.05 * rng.random((32, 32), dtype=np.float32)
            images.append(np.where(mask, image, 0))
            mz.append(base + isotope * ISOTOPE)
    images = np.asarray(images, np.float32)
    images[39] = 0  # an empty ion image
    return IonImageStack(images, mask, np.asarray(mz))


def _result(method, stack, labels, seed):
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels, np.int64).copy()
    empty = ~np.any(stack.images[:, stack.mask] > 0, axis=1)
    labels[empty] = -1
    n_clusters = int(labels.max()) + 1
    centres = rng.normal(scale=6.0, size=(n_clusters, 3))
    embedding = np.where(labels[:, None] >= 0, centres[np.maximum(labels, 0)], rng.normal(scale=8, size=(40, 3)))
    embedding = (embedding + rng.normal(scale=0.4, size=embedding.shape)).astype(np.float32)
    embedding[empty] = np.nan
    members = [np.flatnonzero(labels == c) for c in range(n_clusters)]
    members = [m[np.argsort(stack.mz[m])] for m in members]
    scaled = stack.images / np.maximum(stack.images.reshape(40, -1).max(axis=1), 1e-9)[:, None, None]
    means = np.stack([scaled[m].mean(axis=0) for m in members]).astype(np.float32)
    pairs = np.array([(2 * k, 2 * k + 1) for k in range(20)])
    clustered = [(i, j) for i, j in pairs if labels[i] >= 0 and labels[j] >= 0]
    together = sum(labels[i] == labels[j] for i, j in clustered)
    return IonImageClusteringResult(
        method=method, mz=stack.mz.copy(), labels=labels, empty=empty, embedding=embedding,
        features=np.zeros((40, 2048), np.float32) if method == "nn" else None, mask=stack.mask.copy(),
        cluster_mean_images=means, members=members,
        params={"eps": 0.8, "eps_auto": method == "nn", "min_samples": 3, "n_neighbors": 10, "seed": 0},
        timings={"preprocess": 0.01, "embed": 1.5, "umap": 0.4, "dbscan": 0.002, "total": 1.95}
        if method == "nn" else {"preprocess": 0.01, "umap": 0.5, "dbscan": 0.002, "total": 0.52},
        evaluation={"n_clusters": n_clusters, "noise_fraction": float((labels[~empty] < 0).mean()),
                    "silhouette": 0.61, "isotope_pairs": len(pairs), "isotope_pairs_clustered": len(clustered),
                    "isotope_pairs_together": int(together),
                    "isotope_coclustering": together / len(clustered) if clustered else float("nan"),
                    # the pairs themselves and how they were found, as IonImageClustering reports them
                    "isotope_pair_index": pairs, "isotope_pair_mz": stack.mz[pairs],
                    "isotope_pair_charge": np.ones(len(pairs), np.int64), "isotope_tolerance": 10.0,
                    "isotope_unit": "ppm", "isotope_max_charge": 1, "isotope_spacing": ISOTOPE})


@pytest.fixture(scope="module")
def results(stack):
    truth = np.repeat(np.arange(20), 2) % 4
    nn = truth.copy()
    nn[[5, 17, 30]] = -1
    umap_only = np.where(truth == 3, 2, truth)  # merges two patterns ...
    umap_only[[1, 3, 9]] = 3                    # ... and splits isotope pairs
    umap_only[[22, 23]] = -1
    return {"nn": _result("nn", stack, nn, 1), "umap_only": _result("umap_only", stack, umap_only, 2)}


@pytest.fixture(scope="module")
def spectrum(stack):
    mz = np.arange(390.0, 880.0, 0.002)
    y = np.full(mz.shape, 0.01)
    for m, image in zip(stack.mz, stack.images):
        y += image[stack.mask].mean() * np.exp(-0.5 * ((mz - m) / 0.004) ** 2)
    return mz, y


def _strip_data(text):
    return DATA_URI.sub("data:image/png;base64,…", text)


SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)


def _check_self_contained(text):
    uris = DATA_URI.findall(text)
    assert uris, "no embedded image"
    for uri in uris[:40]:
        from PIL import Image
        Image.open(io.BytesIO(base64.b64decode(uri))).verify()
    # scripts (plotly.js and the figures' data) are inline: none loads anything by src
    for attributes, _ in SCRIPT.findall(text):
        assert "src" not in attributes.lower()
    bare = SCRIPT.sub("", _strip_data(text))
    sources = re.findall(r'<img[^>]*\bsrc="([^"]*)"', bare)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in bare and "https://" not in bare and "//" not in re.sub(r"<!DOCTYPE[^>]*>", "", bare)
    assert 'src="/' not in bare and "<link" not in bare and "url(" not in bare
    assert "<script" not in bare.lower()


def test_two_method_report(tmp_path, stack, results, spectrum):
    path = tmp_path / "report.html"
    comparison = {"ARI nn vs umap_only": 0.41, "NMI nn vs umap_only": 0.55,
                  "truth": {"ARI nn": 0.93, "ARI umap_only": 0.6}}
    written = write_report(path, stack, results, mean_spectrum=spectrum, title="Bladder <b>test</b>",
                           dataset={"input": "bladder.imzML", "mode": "continuous"}, comparison=comparison)
    assert written == path and path.is_file()
    assert os.listdir(tmp_path) == ["report.html"]
    text = path.read_text(encoding="utf-8")
    _check_self_contained(text)
    for section in SECTIONS:
        assert f'<section id="{section}">' in text
    import spatialembed
    assert spatialembed.__version__ in text
    assert "Bladder &lt;b&gt;test&lt;/b&gt;" in text and "<b>test</b>" not in text
    assert "bladder.imzML" in text and "0.41" in text and "truth / ARI nn" in text
    assert "(auto, k-distance)" in text and "(given)" in text
    for stage in ("preprocess", "embed", "umap", "dbscan", "total"):
        assert f"time: {stage}" in text
    # the galleries: one row per cluster and a noise row, both methods side by side
    assert text.count('class="cluster"') == 4 + 1 + 4 + 1
    assert 'class="columns"' in text and text.count('<div class="column">') == 4
    assert ">400.0000</figcaption>" in text and "Empty (all-zero, not clustered): m/z 845.9264" in text
    assert "40 isotope pairs" not in text and "20 isotope pairs" in text
    assert "split" in text  # umap_only splits isotope pairs


def test_single_method_without_spectrum(tmp_path, stack, results):
    path = tmp_path / "nn.html"
    write_report(path, stack, {"nn": results["nn"]})
    text = path.read_text(encoding="utf-8")
    _check_self_contained(text)
    for section in SECTIONS:
        assert f'<section id="{section}">' in text
    assert "No mean spectrum was given" in text
    assert "One method only" in text
    assert 'class="columns"' not in text
    # a bare result is accepted as well
    write_report(tmp_path / "bare.html", stack, results["umap_only"], max_clusters=2, max_members=2)
    text = (tmp_path / "bare.html").read_text(encoding="utf-8")
    assert "2 more clusters" in text and "+" in text and "more</div>" in text


def test_text_is_escaped(tmp_path, stack, results):
    evil = "<script>alert('x')</script>"
    path = write_report(tmp_path / "evil.html", stack, {evil: results["nn"]}, title=evil,
                        dataset={evil: evil, "input": 'a"b<c>.imzML'}, comparison={evil: 1.0})
    text = path.read_text(encoding="utf-8")
    assert "<script>alert" not in text.lower()  # the page's own scripts are plotly's; the name is escaped
    assert "<script" not in SCRIPT.sub("", text).lower()
    assert "&lt;script&gt;" in text and "a&quot;b&lt;c&gt;.imzML" in text


def test_refuses_to_overwrite(tmp_path, stack, results):
    path = tmp_path / "report.html"
    path.write_text("user file")
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        write_report(path, stack, results)
    assert path.read_text() == "user file"
    write_report(path, stack, results, overwrite=True)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.listdir(tmp_path) == ["report.html"]


def test_interrupted_write_leaves_nothing(tmp_path, stack, results, monkeypatch):
    from spatialembed import _core

    def fail(*args):
        raise KeyboardInterrupt

    # interrupted just before the staged file is moved into place (OutputStaging, the one mechanism)
    monkeypatch.setattr(_core.OutputStaging, "commit", fail)
    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path / "report.html", stack, results)
    assert os.listdir(tmp_path) == []


def test_bad_input(tmp_path, stack, results):
    with pytest.raises(ValueError, match="non-empty"):
        write_report(tmp_path / "a.html", stack, {})
    short = IonImageStack(stack.images[:10], stack.mask, stack.mz[:10])
    with pytest.raises(ValueError, match="10 ion images"):
        write_report(tmp_path / "a.html", short, results)
    with pytest.raises(ValueError, match="mean_spectrum"):
        write_report(tmp_path / "a.html", stack, results, mean_spectrum=(np.arange(5.0), np.arange(4.0)))
    assert os.listdir(tmp_path) == []


def test_isotope_pairs_come_from_the_result(tmp_path, stack, results):
    from dataclasses import replace

    # the pairs the evaluation carries are shown as they are, with how they were found
    nn = results["nn"]
    index = np.array([[0, 1], [2, 3]])
    given = replace(nn, evaluation={**nn.evaluation, "isotope_pairs": 2, "isotope_pair_index": index,
                                    "isotope_pair_mz": stack.mz[index], "isotope_pair_charge": np.array([1, 1]),
                                    "isotope_tolerance": 0.02, "isotope_unit": "da"})
    text = write_report(tmp_path / "given.html", stack, {"nn": given}).read_text(encoding="utf-8")
    assert "2 isotope pairs in all" in text and "± 0.02 Da, z = 1" in text
    assert text.count("<tr><td>400.0000</td><td>401.0034</td><td>1</td>") == 1
    # m/z 0.012 Da off the spacing: nothing is searched again, the result's pairs stay
    shifted = IonImageStack(stack.images, stack.mask, stack.mz + np.tile([0.0, 0.012], 20))
    moved = replace(nn, mz=shifted.mz)
    text = write_report(tmp_path / "moved.html", shifted, {"nn": moved}).read_text(encoding="utf-8")
    assert "20 isotope pairs in all" in text
    # a result without pairs shows none (and says so) rather than guessing them
    bare = replace(nn, evaluation={k: v for k, v in nn.evaluation.items() if not k.startswith("isotope_pair_")})
    text = write_report(tmp_path / "bare.html", stack, {"nn": bare}).read_text(encoding="utf-8")
    assert "the result carries no isotope pairs" in text and "No isotope pairs found." in text
    bad = replace(nn, evaluation={**nn.evaluation, "isotope_pair_index": np.array([[0, 40]])})
    with pytest.raises(ValueError, match="isotope_pair_index"):
        write_report(tmp_path / "bad.html", stack, {"nn": bad})


def _summary_row(text, label):
    """The cells of one summary row."""
    row = re.search(r"<tr><th[^>]*>" + re.escape(label) + r"</th>(.*?)</tr>", text)
    assert row, label
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def _pair_rows(text):
    """(light, heavy, z, verdicts…) of the report's table of isotope pairs."""
    table = re.search(r'<table class="pairs">(.*?)</table>', text, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(<td.*?)</tr>", table)]


@pytest.mark.parametrize("max_charge", [1, 2])
def test_isotope_panels_agree_with_the_summary(tmp_path, max_charge):
    """A real run (umap_only): the pairs table, the panels' note and the summary row say the same,
    for singly and doubly charged pairs."""
    from spatialembed import IonImageClustering

    rng = np.random.default_rng(3)
    patterns = _patterns(24)
    mask = np.ones((24, 24), bool)
    images, mz = [], []
    for molecule in range(16):  # M, M+1 (z = 1) and, every other molecule, M+1/2 (z = 2)
        base = 300.0 + 37.31 * molecule
        peaks = [base, base + ISOTOPE] + ([base + 17.0, base + 17.0 + ISOTOPE / 2] if molecule % 2 else [])
        for k, m in enumerate(peaks):
            pattern = patterns[(molecule + (k >= 2)) % 4]
            images.append(pattern * (1 + molecule) * (1 - 0.2 * k) + 0.05 * rng.random((24, 24)))
            mz.append(m)
    stack = IonImageStack(np.asarray(images, np.float32), mask, np.asarray(mz))
    from spatialembed import UMAP

    model = IonImageClustering("umap_only", umap=UMAP(n_components=3, n_neighbors=8, min_dist=0.0), min_samples=3, isotope_tolerance=0.002,
                               isotope_unit="da", max_charge=max_charge, random_state=0, n_jobs=2).fit(stack)
    e = model.result_.evaluation
    assert e["isotope_max_charge"] == max_charge and e["isotope_unit"] == "da" and e["isotope_tolerance"] == 0.002
    n_pairs = 16 + (8 if max_charge == 2 else 0)
    assert e["isotope_pairs"] == n_pairs == len(e["isotope_pair_index"])
    assert sorted(e["isotope_pair_charge"].tolist()) == [1] * 16 + [2] * (n_pairs - 16)
    np.testing.assert_allclose(e["isotope_pair_mz"], stack.mz[e["isotope_pair_index"]])

    text = write_report(tmp_path / "r.html", stack, model.result_, max_isotope_panels=4).read_text(encoding="utf-8")
    rows = _pair_rows(text)
    assert len(rows) == n_pairs
    assert [int(r[2]) for r in rows].count(2) == n_pairs - 16
    verdicts = [r[3] for r in rows]
    together, clustered = verdicts.count("one cluster"), n_pairs - verdicts.count("not both clustered")
    assert together == e["isotope_pairs_together"] and clustered == e["isotope_pairs_clustered"]
    assert _summary_row(text, "isotope pairs") == [str(n_pairs)]
    assert _summary_row(text, "… both images clustered") == [str(clustered)]
    assert _summary_row(text, "… in one cluster") == [str(together)]
    assert f"umap_only: {n_pairs} pairs" in text and f"{together} of {clustered} pairs with both images" in text
    assert ("z = 1 … 2" in text) == (max_charge == 2)
    table = {(r[0], r[1]): int(r[2]) for r in rows}  # each panel is a pair of the table, with its charge
    for shown in re.search(r"Pairs shown: (.*?)</figcaption>", text).group(1).split("; "):
        light, heavy, z = re.fullmatch(r"(\S+) → (\S+)(?: \(z = (\d)\))?", shown).groups()
        assert table[(light, heavy)] == int(z or 1)


def test_import_stays_light():
    code = ("import sys, spatialembed, spatialembed.report; "
            "print(any(m == 'matplotlib' or m.startswith('matplotlib.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_render_screenshot_without_chromium(tmp_path, stack, results):
    path = write_report(tmp_path / "r.html", stack, {"nn": results["nn"]})
    with pytest.raises(RuntimeError, match="apt-get install chromium"):
        render_screenshot(path, tmp_path / "r.png", executable=str(tmp_path / "no-such-chromium"))
    with pytest.raises(FileNotFoundError, match="missing.html"):
        render_screenshot(tmp_path / "missing.html", tmp_path / "r.png")


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="Chromium not installed (apt-get install chromium)")
def test_renders_in_headless_chromium(tmp_path, stack, results, spectrum):
    from PIL import Image

    html_path = write_report(tmp_path / "report.html", stack, results, mean_spectrum=spectrum,
                             comparison={"ARI nn vs umap_only": 0.41})
    png = render_screenshot(html_path, tmp_path / "report.png", width=1200, height=1600, timeout=60)
    with Image.open(png) as image:
        assert image.size == (1200, 1600)
        pixels = np.asarray(image.convert("L"), np.float64)
    assert pixels.var() > 0
    assert (pixels < 200).mean() > 0.02  # text and figures, not a blank page


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")),
                    reason="Chromium not installed (apt-get install chromium)")
def test_interactive_embedding_in_headless_chromium(tmp_path, stack, results):
    """plotly draws both methods' 3-D embeddings offline; hovering an ion shows its m/z, cluster and image."""
    pytest.importorskip("plotly")
    path = write_report(tmp_path / "report.html", stack, results, max_clusters=2, max_members=2)
    text = path.read_text(encoding="utf-8")
    _check_self_contained(text)
    assert text.count('<div class="plot" id="embedding-') == 2 and "Plotly.newPlot" in text
    # the report plus a probe that hovers the first ion of the first figure as the mouse would
    probe = """<script>
window.addEventListener("load", function () {
  var div = document.getElementById("embedding-0"), trace = div.data[0];
  div.emit("plotly_hover", {points: [{customdata: trace.customdata[0], data: trace}], event: {clientX: 300, clientY: 400}});
  document.body.setAttribute("data-probe", trace.customdata[0] + "|" + trace.text[0] + "|" + trace.name);
});
</script></body>"""
    (tmp_path / "probe.html").write_text(text.replace("</body>", probe), encoding="utf-8")
    dom = dump_dom(tmp_path / "probe.html", width=1200, height=1200, timeout=180)
    assert dom.count('data-interactive="plotly"') == 2  # both figures drawn, with their hover handlers
    assert dom.count("js-plotly-plot") >= 2 and "<canvas" in dom  # a WebGL scene, not the fallback
    index, mz, cluster = re.search(r'data-probe="([^"]*)"', dom).group(1).split("|")
    assert mz == f"{stack.mz[int(index)]:.4f}"
    tip = re.search(r'<div class="hover-tip" id="hover-tip" style="([^"]*)">(.*?)</div>\s*<script', dom, re.S)
    assert tip and "display: block" in tip.group(1)
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="m/z ' + re.escape(mz) + '">', tip.group(2))
    assert f"m/z {mz} · {cluster}" in tip.group(2)


def test_static_embedding_without_plotly(tmp_path, stack, results, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly now fails
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    text = write_report(tmp_path / "static.html", stack, results, max_clusters=2).read_text(encoding="utf-8")
    _check_self_contained(text)
    assert "<script" not in text.lower() and "install plotly" in text
    assert 'alt="embedding of nn"' in text and 'alt="embedding of umap_only"' in text
    with pytest.raises(ImportError, match="plotly"):
        write_report(tmp_path / "needs.html", stack, results, interactive=True)
    assert not (tmp_path / "needs.html").exists()
