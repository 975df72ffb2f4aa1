"""Feature variants of the NN-based ion-image pipeline: Embedder pooling (avg, spatial_pyramid,
multi_layer) against the independent PyTorch reference (tests/python/keras_reference.py) with
the pooling written out in NumPy; the translation known-answer case; IonImageClustering with
each pooling, feature_set and clusterer on a small simulated section."""
import numpy as np
import pytest

import spatialembed as se
from spatialembed import Embedder

torch = pytest.importorskip("torch")
import keras_reference as kr  # noqa: E402

if not se.nn.has_nn():
    pytest.skip("built without LibTorch", allow_module_level=True)

torch.set_num_threads(2)


def pyramid_reference(fmap):
    """(N, C, h, w) -> (N, 21 C): mean over cells [floor(i h / g), ceil((i + 1) h / g)) for
    g = 1, 2, 4 (PyTorch's adaptive pooling bounds), level g divided by g, channel-major."""
    n, c, h, w = fmap.shape
    levels = []
    for g in (1, 2, 4):
        cells = np.empty((n, c, g, g))
        for i in range(g):
            for j in range(g):
                r0, r1 = (i * h) // g, -(-((i + 1) * h) // g)
                c0, c1 = (j * w) // g, -(-((j + 1) * w) // g)
                cells[:, :, i, j] = fmap[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        levels.append(cells.reshape(n, -1) / g)
    return np.concatenate(levels, axis=1)


def test_pooling_variants_match_the_reference(resnet_ref, resnet_dir):
    rng = np.random.default_rng(0)
    x = (rng.uniform(0, 255, (2, 3, 96, 128)) - 120).astype(np.float32)  # caffe-range input, 3 x 4 map
    with torch.no_grad():
        maps = [m.numpy().astype(np.float64) for m in resnet_ref.stage_maps(torch.from_numpy(x))]
    expected = {
        "avg": maps[-1].mean(axis=(2, 3)),
        "spatial_pyramid": pyramid_reference(maps[-1]),
        "multi_layer": np.concatenate([p / np.linalg.norm(p, axis=1, keepdims=True)
                                       for p in (m.mean(axis=(2, 3)) for m in maps)], axis=1),
    }
    dims = {"avg": 2048, "spatial_pyramid": 21 * 2048, "multi_layer": 512 + 1024 + 2048}
    for pooling, ref in expected.items():
        net = Embedder(weights=resnet_dir, pooling=pooling).fit()
        assert net.n_features_out_ == dims[pooling]
        ours = net.forward(x)
        assert ours.shape == (2, dims[pooling]) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max(), err_msg=pooling)


def blob(row, col, side=64, radius=6):
    yy, xx = np.mgrid[:side, :side]
    return np.exp(-((yy - row) ** 2 + (xx - col) ** 2) / (2.0 * radius ** 2)).astype(np.float32)


def test_blob_position_counts_under_spatial_pyramid_only(resnet_dir):
    # The same blob in the top-left and in the bottom-right quadrant (mirror positions), and
    # two blobs of other sizes in the top-left.
    images = np.stack([blob(16, 16), blob(47, 47), blob(16, 16, radius=3), blob(16, 16, radius=10)])

    def distances(pooling):
        f = Embedder(weights=resnet_dir, pooling=pooling, hotspot_quantile=1.0).transform(images).astype(np.float64)
        d = np.linalg.norm(f[0] - f[1:], axis=1) / np.mean(np.linalg.norm(f, axis=1))
        return d[0], d[1:].min()  # moved; resized in place

    avg_moved, avg_resized = distances("avg")
    spp_moved, spp_resized = distances("spatial_pyramid")
    print(f"relative distance, blob moved / resized: avg {avg_moved:.3f} / {avg_resized:.3f}, "
          f"spatial_pyramid {spp_moved:.3f} / {spp_resized:.3f}")
    # Global average pooling: moving the blob across the image changes the vector no more than
    # changing its size (measured 0.33 vs 0.35); under the pyramid the position dominates (0.94 vs 0.41).
    assert avg_moved < 1.1 * avg_resized
    assert spp_moved > 1.8 * spp_resized
    assert spp_moved > 2.5 * avg_moved


def test_pooling_bad_values_are_clear_errors(resnet_dir, tmp_path):
    with pytest.raises(ValueError, match="pooling.*bogus"):
        Embedder(weights=resnet_dir, pooling="bogus").fit()
    with pytest.raises(ValueError, match="pooling.*spatial_pyramid.*logits"):
        Embedder(weights=resnet_dir, pooling="spatial_pyramid", logits=True).fit()
    with pytest.raises(ValueError, match="pooling.*multi_layer.*torchscript"):
        Embedder("torchscript", weights=tmp_path / "m.pt", input_size=32, pooling="multi_layer").fit()


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim") / "pngs"
    truth = se.simulate_tissue(folder, mode="png", width=48, height=48, n_molecules=30, random_state=3)
    stack = se.IonImageStack.from_png_dir(folder)
    nearest = np.abs(stack.mz[:, None] - np.asarray(truth["mz"])[None, :]).argmin(axis=1)
    return stack, np.asarray(truth["pattern"])[nearest]


@pytest.mark.parametrize("pooling,feature_set,clusterer", [
    ("avg", "cnn", "dbscan"), ("spatial_pyramid", "cnn", "hdbscan"), ("multi_layer", "cnn+pixels", "dbscan"),
    ("spatial_pyramid", "cnn+pixels", "hdbscan"), ("spatial_pyramid", "cnn*pixels", "hdbscan")])
def test_pipeline_with_each_variant(section, resnet_dir, pooling, feature_set, clusterer):
    stack, pattern = section
    embedder = Embedder(weights=resnet_dir, pooling=pooling, input_size=64, n_jobs=2)
    model = se.IonImageClustering("nn", embedder=embedder, feature_set=feature_set, clusterer=clusterer,
                                  hdbscan=se.HDBSCAN(min_cluster_size=3), random_state=0, n_jobs=2).fit(stack)
    r = model.result_
    cnn_dim = {"avg": 2048, "spatial_pyramid": 21 * 2048, "multi_layer": 3584}[pooling]
    n_measured = int(stack.mask.sum())
    assert model.features_.shape == (len(stack), cnn_dim + (n_measured if feature_set == "cnn+pixels" else 0))
    assert r.params["feature_set"] == feature_set and r.params["embedder__pooling"] == pooling
    kept = ~r.empty
    if feature_set == "cnn+pixels":  # the CNN part has unit norm, the pixel part pixel_weight
        np.testing.assert_allclose(np.linalg.norm(model.features_[kept][:, :cnn_dim], axis=1), 1, rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(model.features_[kept][:, cnn_dim:], axis=1), model.pixel_weight,
                                   rtol=1e-5)
    # 96 ion images of 14 patterns; a random grouping scores about 0.
    assert se.adjusted_rand_score(pattern, r.labels) > 0.3


def test_defaults_and_the_paper_preset(data_dir, tmp_path):
    model = se.IonImageClustering()
    assert (model.clusterer, model.feature_set, model.pixel_weight) == ("hdbscan", "cnn*pixels", 0.5)
    assert se.pipeline.default_embedder().pooling == "avg"
    assert se.pipeline.default_umap().metric == "cosine"
    paper = se.IonImageClustering.paper(random_state=4)
    assert (paper.method, paper.clusterer, paper.feature_set, paper.embedder.pooling, paper.umap.metric,
            paper.min_samples, paper.eps, paper.random_state) == ("nn", "dbscan", "cnn", "avg", "euclidean", 5, None, 4)
    # The CLI: the defaults, and --preset paper (flags still override it).
    from spatialembed.cli import main
    import json
    folder = data_dir / "msi" / "glioblastoma_png"
    for preset, clusterer, metric in (("default", "hdbscan", "cosine"), ("paper", "dbscan", "euclidean")):
        out = tmp_path / preset
        assert main(["cluster-ions", str(folder), "--out", str(out), "--method", "umap_only", "--no-report", "--quiet",
                     "--preset", preset, "--threads", "2"]) == 0
        params = json.load(open(out / "params.json"))["methods"]["umap_only"]["params"]
        assert params["clusterer"] == clusterer and params["umap__metric"] == metric
        assert ("eps" in params) == (clusterer == "dbscan")
