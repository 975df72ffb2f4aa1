"""IonImageClustering with clusterer="dbscan" | "hdbscan" on a small simulated section, and
`spatialembed cluster-ions --clusterer hdbscan` end to end."""
import csv
import json

import numpy as np
import pytest

import spatialembed as se
from spatialembed.cli import main


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    """A simulated 48 x 48 section written as PNG ion images, and each image's true pattern."""
    folder = tmp_path_factory.mktemp("sim") / "pngs"
    truth = se.simulate_tissue(folder, mode="png", width=48, height=48, n_molecules=30, random_state=3)
    stack = se.IonImageStack.from_png_dir(folder)
    nearest = np.abs(stack.mz[:, None] - np.asarray(truth["mz"])[None, :]).argmin(axis=1)
    assert np.allclose(stack.mz, np.asarray(truth["mz"])[nearest])
    return folder, stack, np.asarray(truth["pattern"])[nearest]


@pytest.mark.parametrize("clusterer", ["dbscan", "hdbscan"])
def test_each_clusterer_recovers_the_simulated_patterns(section, clusterer):
    _, stack, pattern = section
    model = se.IonImageClustering("umap_only", clusterer=clusterer, hdbscan=se.HDBSCAN(min_cluster_size=3),
                                  random_state=0, n_jobs=2).fit(stack)
    r = model.result_
    assert r.clusterer == clusterer
    assert r.n_clusters >= 5
    # 96 ion images of 14 patterns; a random grouping scores about 0.
    assert se.adjusted_rand_score(pattern, r.labels) > 0.7
    assert clusterer in r.timings and ({"dbscan", "hdbscan"} - {clusterer}).isdisjoint(r.timings)
    if clusterer == "dbscan":
        assert r.condensed_tree is None and r.probabilities is None
        assert r.params["eps"] > 0 and r.params["eps_auto"]
        return
    # HDBSCAN's part is spatialembed.HDBSCAN on the UMAP coordinates of the non-empty images.
    kept = ~r.empty
    direct = se.HDBSCAN(min_cluster_size=3).fit(r.embedding[kept])
    np.testing.assert_array_equal(r.labels[kept], direct.labels_)
    np.testing.assert_array_equal(r.probabilities[kept], direct.probabilities_)
    np.testing.assert_array_equal(r.condensed_tree, direct.condensed_tree_)
    np.testing.assert_array_equal(r.cluster_nodes, direct.cluster_nodes_)
    assert "eps" not in r.params and r.params["hdbscan__min_cluster_size"] == 3


def test_bad_clusterer_settings_raise_value_error(section):
    _, stack, _ = section
    with pytest.raises(ValueError, match="clusterer must be 'dbscan' or 'hdbscan'"):
        se.IonImageClustering("umap_only", clusterer="optics").fit(stack)
    with pytest.raises(ValueError, match="hdbscan must be a spatialembed.HDBSCAN"):
        se.IonImageClustering("umap_only", clusterer="hdbscan", hdbscan={"min_cluster_size": 3}).fit(stack)
    with pytest.raises(ValueError, match="min_cluster_size must be >= 2, got 1"):
        se.IonImageClustering("umap_only", clusterer="hdbscan", hdbscan=se.HDBSCAN(min_cluster_size=1)).fit(stack)


def test_cluster_ions_cli_with_hdbscan(section, tmp_path):
    folder, stack, _ = section
    out = tmp_path / "run"
    assert main(["cluster-ions", str(folder), "--out", str(out), "--method", "umap_only", "--clusterer", "hdbscan",
                 "--min-cluster-size", "3", "--threads", "2", "--quiet"]) == 0
    with open(out / "clusters.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(stack)
    probabilities = np.array([float(r["probability_umap_only"]) for r in rows])
    labels = np.array([int(r["label_umap_only"]) for r in rows])
    assert ((probabilities > 0) == (labels >= 0)).all() and probabilities.max() <= 1.0
    with open(out / "condensed_tree_umap_only.csv", newline="") as f:
        tree = list(csv.DictReader(f))
    assert set(tree[0]) == {"parent", "child", "lambda_val", "child_size"}
    assert sum(int(r["child_size"]) == 1 for r in tree) == int((~np.asarray([int(r["empty"]) for r in rows], bool)).sum())
    params = json.load(open(out / "params.json"))["methods"]["umap_only"]["params"]
    assert params["clusterer"] == "hdbscan" and params["hdbscan__min_cluster_size"] == 3
    html = (out / "report.html").read_text()
    assert "condensed tree" in html and "UMAP → HDBSCAN" in html


def test_nn_method_with_hdbscan(section):
    try:
        from spatialembed import _nn  # noqa: F401
    except ImportError:
        pytest.skip("spatialembed was built without LibTorch")
    _, stack, pattern = section
    umap = se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0)
    model = se.IonImageClustering("nn", umap=umap, clusterer="hdbscan", hdbscan=se.HDBSCAN(min_cluster_size=3),
                                  embedder=se.Embedder(pooling="avg"), feature_set="cnn", random_state=0,
                                  n_jobs=2).fit(stack)
    r = model.result_
    assert r.clusterer == "hdbscan" and r.features.shape == (len(stack), 2048)
    kept = ~r.empty
    direct = se.HDBSCAN(min_cluster_size=3).fit(r.embedding[kept])
    np.testing.assert_array_equal(r.labels[kept], direct.labels_)
    np.testing.assert_array_equal(r.condensed_tree, direct.condensed_tree_)
    assert r.n_clusters >= 2 and se.adjusted_rand_score(pattern, r.labels) > 0.2
