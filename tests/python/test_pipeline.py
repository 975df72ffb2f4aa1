"""IonImageClustering: the pipelines equal their components composed by hand, recover known
spatial patterns, evaluate isotope co-clustering, and reject bad input clearly."""
import pickle

import numpy as np
import pytest
import sklearn.metrics
from sklearn.base import clone

import spatialembed as se

SIDE, PER_PATTERN, PATTERNS = 24, 20, 3


def three_patterns(seed=0, n_empty=1):
    """Left half / central disc / top stripe; each image its own intensity and left-right tilt
    plus noise. Images 0 and 1 are an isotope pair (M, M + 1.00336) of pattern 0."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIDE, :SIDE]
    shapes = [x < SIDE // 2, (x - 11.5) ** 2 + (y - 11.5) ** 2 < 36, y < 5]
    images, mz = [], []
    for k in range(PATTERNS * PER_PATTERN):
        on = shapes[k // PER_PATTERN]
        gradient = 1 + 0.5 * rng.random() * x / SIDE
        images.append((1 + 4 * rng.random()) * gradient * np.where(on, 1.0, 0.05) + 0.05 * rng.random((SIDE, SIDE)))
        mz.append(400.0 + 1.00336 if k == 1 else 400.0 + 10.0 * k)
    images += [np.zeros((SIDE, SIDE))] * n_empty
    mz += [2000.0 + k for k in range(n_empty)]
    return se.IonImageStack(np.array(images, np.float32), None, np.array(mz))


def truth():
    return np.repeat(np.arange(PATTERNS), PER_PATTERN)


def by_hand(stack, method, umap, eps=None, min_samples=5, features=None, seed=0, **preprocess):
    """The pipeline composed from the public Python components."""
    clean = stack.preprocess(hotspot_quantile=0.99, **preprocess)
    keep = clean.images.reshape(len(clean), -1).max(axis=1) > 0
    X = features(clean.images[keep]) if features is not None else clean.images[keep].reshape(keep.sum(), -1)
    Y = clone(umap).set_params(random_state=seed).fit_transform(X)
    if eps is None:
        eps = se.k_distance_knee(se.k_distance(Y, min_samples))
    labels = np.full(len(stack), -1)
    labels[keep] = se.DBSCAN(eps=eps, min_samples=min_samples).fit_predict(Y)
    return labels, Y, eps, keep


@pytest.mark.parametrize("eps", [None, 3.0])
def test_umap_only_equals_its_components_composed_by_hand(eps):
    stack = three_patterns(1)
    umap = se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0)
    model = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, eps=eps, random_state=3).fit(stack)
    labels, Y, eps_used, keep = by_hand(stack, "umap_only", umap, eps=eps, seed=3)
    np.testing.assert_array_equal(model.labels_, labels)
    np.testing.assert_array_equal(model.embedding_[keep], Y)
    assert np.isnan(model.embedding_[~keep]).all()
    assert model.result_.params["eps"] == pytest.approx(eps_used)
    assert model.result_.params["eps_auto"] == (eps is None)
    assert model.features_ is None


def test_recovers_three_patterns_and_summarises_clusters():
    stack = three_patterns(2)
    model = se.IonImageClustering("umap_only", clusterer="dbscan", umap=se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0),
                                  eps=3.0, random_state=0).fit(stack)
    r = model.result_
    n = PATTERNS * PER_PATTERN
    assert [set(r.labels[:n][truth() == p]) for p in range(PATTERNS)] == [{0}, {1}, {2}]
    assert se.adjusted_rand_score(truth(), r.labels[:n]) == 1.0
    assert r.n_clusters == PATTERNS and r.labels[n] == -1 and r.empty[n] and not r.empty[:n].any()
    clean = stack.preprocess()
    for c, members in enumerate(r.members):
        assert (np.diff(r.mz[members]) > 0).all()
        np.testing.assert_allclose(r.cluster_mean_images[c], clean.images[members].mean(axis=0), rtol=1e-5, atol=1e-6)
    e = r.evaluation
    assert e["n_clusters"] == PATTERNS and e["noise_fraction"] == 0.0
    assert (e["isotope_pairs"], e["isotope_pairs_clustered"], e["isotope_coclustering"]) == (1, 1, 1.0)
    assert set(r.timings) >= {"preprocess", "umap", "dbscan", "total"}
    clustered = r.labels >= 0
    assert e["silhouette"] == pytest.approx(
        sklearn.metrics.silhouette_score(r.embedding[clustered], r.labels[clustered]), abs=1e-6)


def test_isotope_coclustering_counts_split_pairs():
    # Pairs across patterns: 400 (pattern 0) with 401.00336 moved to pattern 1's m/z list.
    stack = three_patterns(3)
    stack.mz[PER_PATTERN] = 400.0 + 10.0 * 2 + 1.00336   # pattern 1 image pairs with image 2 (pattern 0)
    model = se.IonImageClustering("umap_only", clusterer="dbscan", umap=se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0),
                                  eps=3.0).fit(stack)
    e = model.result_.evaluation
    assert e["isotope_pairs"] == 2 and e["isotope_pairs_clustered"] == 2
    assert e["isotope_coclustering"] == pytest.approx(0.5)


def test_nn_uses_the_embedder_on_preprocessed_images(data_dir):
    stack = se.IonImageStack.from_png_dir(data_dir / "msi" / "mouse_bladder_png")
    stack = se.IonImageStack(stack.images[:40], stack.mask, stack.mz[:40])
    umap = se.UMAP(n_components=3, n_neighbors=8, min_dist=0.0)
    model = se.IonImageClustering.paper(umap=umap, random_state=1, n_jobs=2).fit(stack)
    embedder = se.Embedder(remove_spikes=False, hotspot_quantile=1.0, n_jobs=2)
    # paper(): the hotspot quantile over all measured pixels, no spike removal
    labels, Y, _, keep = by_hand(stack, "nn", umap, features=lambda images: embedder.transform(
        se.IonImageStack(images, stack.mask)), seed=1, remove_spikes=False, hotspot_ignore_zeros=False)
    assert model.features_.shape == (40, 2048) and model.features_.dtype == np.float32
    assert not model.features_[~keep].any()
    np.testing.assert_array_equal(model.labels_, labels)
    np.testing.assert_allclose(model.embedding_[keep], Y, atol=1e-5)
    assert model.result_.params["embedder__backbone"] == "resnet50"
    assert "embed" in model.result_.timings


def test_same_seed_same_result_for_any_n_jobs_and_pickling():
    stack = three_patterns(4)
    umap = se.UMAP(n_components=3, n_neighbors=10)
    one = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, random_state=5, n_jobs=1).fit(stack)
    two = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, random_state=5, n_jobs=2).fit(stack)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.embedding_, two.embedding_)
    again = pickle.loads(pickle.dumps(one))
    np.testing.assert_array_equal(again.labels_, one.labels_)
    assert clone(one).get_params()["umap"].n_neighbors == 10
    np.testing.assert_array_equal(se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, random_state=5).fit_predict(
        stack.images), one.labels_)  # a bare array works too


def test_progress_bars_when_verbose(capsys):
    se.IonImageClustering("umap_only", clusterer="dbscan", umap=se.UMAP(n_components=3, n_neighbors=10), verbose=True).fit(three_patterns(5))
    assert "umap" in capsys.readouterr().err


def test_bad_input():
    stack = three_patterns(6)
    with pytest.raises(ValueError, match="too few for UMAP with n_neighbors = 15"):
        se.IonImageClustering("umap_only").fit(se.IonImageStack(stack.images[:12], stack.mask, stack.mz[:12]))
    with pytest.raises(ValueError, match="all 3 ion images are empty"):
        se.IonImageClustering("umap_only").fit(np.zeros((3, 8, 8), np.float32))
    bad = stack.images.copy()
    bad[4, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"ion image 4 .*pixel \(row 2, column 3\)"):
        se.IonImageClustering("umap_only").fit(se.IonImageStack(bad, stack.mask, stack.mz))
    with pytest.raises(ValueError, match="method must be one of"):
        se.IonImageClustering("xception").fit(stack)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        se.IonImageClustering("umap_only", clusterer="dbscan", eps=0).fit(stack)
    with pytest.raises(ValueError, match="umap must be a spatialembed.UMAP"):
        se.IonImageClustering("umap_only", clusterer="dbscan", umap="umap").fit(stack)
    with pytest.raises(ValueError, match="min_samples"):
        se.IonImageClustering("umap_only", clusterer="dbscan", min_samples=0).fit(stack)


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.embedding, b.embedding)
    np.testing.assert_array_equal(a.empty, b.empty)
    np.testing.assert_array_equal(a.cluster_mean_images, b.cluster_mean_images)
    assert [list(m) for m in a.members] == [list(m) for m in b.members]
    assert a.params == b.params


def test_prepared_from_arrays_gives_the_results_of_fit_for_both_methods(monkeypatch):
    stack = three_patterns(7, n_empty=2)
    umap = se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0)
    prepared = se.IonImageClustering(hotspot_quantile=0.98).prepare(stack)
    assert isinstance(prepared, se.PreparedIonImages)
    assert prepared.shape == stack.shape and len(prepared) == len(stack)
    np.testing.assert_array_equal(prepared.kept, np.arange(PATTERNS * PER_PATTERN))
    np.testing.assert_array_equal(prepared.empty, np.arange(len(stack)) >= PATTERNS * PER_PATTERN)
    clean = stack.preprocess(hotspot_quantile=0.98)
    np.testing.assert_array_equal(prepared.images, clean.images[prepared.kept])
    np.testing.assert_allclose(prepared.mean_intensity, stack.images.mean(axis=(1, 2)), rtol=1e-6)
    assert prepared.preprocess == {"tic_normalize": False, "remove_spikes": True, "hotspot_quantile": 0.98,
                                   "hotspot_ignore_zeros": True, "median_filter": 0, "scale": True}
    seen = []

    def stats(images, mask):  # cheap stand-in for the CNN features
        seen.append((images.flags.writeable, images.flags.owndata, images.shape))
        h, w = images.shape[1:]
        return np.stack([images.mean((1, 2)), images.std((1, 2)), images[:, :h // 2].mean((1, 2)),
                         images[:, :, :w // 2].mean((1, 2))], axis=1).astype(np.float32)

    monkeypatch.setattr(se.IonImageClustering, "_features", lambda self: stats if self.method == "nn" else None)
    for method in ("umap_only", "nn"):
        model = se.IonImageClustering(method, umap=umap, hotspot_quantile=0.98, random_state=2)
        assert_same_result(clone(model).fit(prepared).result_, clone(model).fit(stack).result_)
    # the features function saw a read-only view of the prepared images, not a copy
    assert seen[0] == (False, False, (PATTERNS * PER_PATTERN, SIDE, SIDE))
    # the prepared images are only read: a second run on them gives the same again
    again = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, hotspot_quantile=0.98, random_state=2).fit(prepared)
    np.testing.assert_array_equal(prepared.images, clean.images[prepared.kept])
    assert_same_result(again.result_, se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, hotspot_quantile=0.98,
                                                            random_state=2).fit(stack).result_)
    with pytest.raises(ValueError, match="prepared with"):
        se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap).fit(prepared)  # hotspot_quantile 0.99 != 0.98


def test_prepared_from_a_png_folder_equals_fit_on_the_loaded_stack(tmp_path):
    stack = three_patterns(8)
    folder = tmp_path / "png"
    stack.to_png_dir(folder, bit_depth=16)
    loaded = se.IonImageStack.from_png_dir(folder)
    prepared = se.PreparedIonImages.from_png_dir(folder)
    same = se.IonImageClustering().prepare(str(folder))  # a path works too
    np.testing.assert_array_equal(prepared.images, same.images)
    np.testing.assert_array_equal(prepared.mz, loaded.mz)
    np.testing.assert_array_equal(prepared.mask, loaded.mask)
    np.testing.assert_array_equal(prepared.images, loaded.preprocess().images[prepared.kept])
    umap = se.UMAP(n_components=3, n_neighbors=10, min_dist=0.0)
    model = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, random_state=4)
    assert_same_result(clone(model).fit(prepared).result_, clone(model).fit(loaded).result_)
    with pytest.raises(OSError):
        se.PreparedIonImages.from_png_dir(tmp_path / "missing")


def test_prepared_views_are_read_only_and_outlive_the_object():
    stack = three_patterns(9, n_empty=1)
    prepared = se.PreparedIonImages(stack)
    images, mask, mz, empty = prepared.images, prepared.mask, prepared.mz, prepared.empty
    for view in (images, mask, mz, empty, prepared.mean_intensity):
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view.flat[0] = 1
        with pytest.raises(ValueError):
            view.setflags(write=True)
    assert not images.flags.owndata and images.base is not None  # a view, not a copy
    expected = stack.preprocess().images
    first = prepared.image(0)
    assert np.shares_memory(first, images)
    np.testing.assert_array_equal(prepared.image(len(stack) - 1), 0)  # the empty image
    with pytest.raises(IndexError):
        prepared.image(len(stack))
    del prepared
    import gc
    gc.collect()
    big = [np.ones(images.size, np.float32) for _ in range(4)]  # reuse of freed memory would show
    np.testing.assert_array_equal(images, expected[:-1])
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(mz, stack.mz)
    assert mask.all() and empty[-1] and not empty[:-1].any()
    del big


def test_umap_only_searches_exactly_up_to_20000_images():
    rng = np.random.default_rng(3)
    images = rng.random((4200, 3, 3)).astype(np.float32)  # above UMAP's own 4096 switch
    umap = se.UMAP(n_components=3, n_neighbors=5, min_dist=0.0, n_epochs=5)
    auto = se.IonImageClustering("umap_only", clusterer="dbscan", umap=umap, random_state=1).fit(images)
    exact = se.IonImageClustering("umap_only", clusterer="dbscan", umap=clone(umap).set_params(knn_method="exact"),
                                  random_state=1).fit(images)
    np.testing.assert_array_equal(auto.embedding_, exact.embedding_)
    descent = se.IonImageClustering("umap_only", clusterer="dbscan", umap=clone(umap).set_params(knn_method="nn_descent"),
                                    random_state=1).fit(images)
    assert not np.array_equal(descent.embedding_, exact.embedding_)


def test_prepared_from_imzml_equals_the_stack_path(data_dir):
    """Cut straight into the prepared buffer (no second copy) = cut, then prepared."""
    path = data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"
    mz = [3362.3, 4964.0, 6200.0, 20000.0]  # the last lies outside the data: empty image + warning
    with pytest.warns(UserWarning, match="20000"):
        direct = se.PreparedIonImages.from_imzml(path, mz, tol_ppm=1000, hotspot_quantile=0.98)
    with pytest.warns(UserWarning, match="20000"):
        stack = se.IonImageStack.from_imzml(path, mz, tol_ppm=1000)
    via_stack = se.PreparedIonImages(stack, hotspot_quantile=0.98)
    np.testing.assert_array_equal(direct.images, via_stack.images)
    np.testing.assert_array_equal(direct.empty, [False, False, False, True])
    np.testing.assert_array_equal(direct.mz, mz)
    assert direct.preprocess == via_stack.preprocess


def test_small_structures_survive_the_default_preprocessing(tmp_path):
    """An ion present only in a nodule covers under 1 % of the pixels: the paper's hotspot clip
    at the 0.99 quantile of all measured pixels sets it to 0 (dropped as empty); the default
    (quantile over the non-zero pixels, single-pixel spikes removed first) keeps it, hotspots gone."""
    truth = se.simulate_tissue(tmp_path / "sim.imzML", width=64, height=64, n_molecules=40, random_state=2)
    stack = se.IonImageStack.from_imzml(tmp_path / "sim.imzML", truth["mz"], tol_ppm=10)
    nodule = np.array(truth["kind"]) == "nodule"
    assert nodule.sum() >= 2 and (stack.images[nodule] > 0).mean(axis=(1, 2)).max() < 0.01
    assert se.IonImageClustering.paper().prepare(stack).empty[nodule].all()
    prepared = se.IonImageClustering().prepare(stack)
    assert not prepared.empty[nodule].any()
    (x0, y0), (h, w) = stack.origin, stack.shape[1:]  # the imzML covers the tissue's bounding box
    maps = truth["pattern_maps"][:, y0 - 1:y0 - 1 + h, x0 - 1:x0 - 1 + w]
    for k in np.flatnonzero(nodule):
        image = prepared.image(k)
        # the nodule's pixels (truth map) hold the image's signal: no surviving hotspot outside it
        inside = maps[truth["pattern"][k]] > 0
        assert image[inside].mean() > 0.3 and image[~inside].max() < 0.3, k
