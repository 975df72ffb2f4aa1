"""The C++/Python seam: estimators take their defaults from the bound C++ options structs, fill
them by name and leave every check to C++ ``validate()``; a field added to PreprocessOptions
reaches the estimators with no Python edit; one stateful UMAP (the C++ class)."""
import math
import pickle

import numpy as np
import pytest

import spatialembed as se
from spatialembed import _core
from spatialembed._options import fields

from msi_reference import preprocess_image

# For each estimator: its parameters that are C++ fields under another name or with a
# Python sentinel, as {parameter: (struct path, the Python value that means the C++ default)};
# every other parameter that names a field must equal the field's default; `skip` are
# parameters with no C++ field (sub-estimators, threads, seeds, verbosity, data).
PREPROCESS = {name: (f"preprocess.{name}", None) for name in fields(_core.PreprocessOptions) if name != "num_threads"}
CASES = {
    "UMAP": (se.UMAP, _core.UmapOptions, {"n_epochs": ("n_epochs", 0), "a": ("a", math.nan), "b": ("b", math.nan)},
             {"precomputed_knn", "random_state", "n_jobs", "verbose"}),
    "DBSCAN": (se.DBSCAN, _core.DbscanOptions, {}, {"n_jobs"}),
    "HDBSCAN": (se.HDBSCAN, _core.HdbscanOptions, {"min_samples": ("min_samples", 0),
                                                   "max_cluster_size": ("max_cluster_size", 0)}, {"n_jobs"}),
    "IonImageClustering": (
        se.IonImageClustering, _core.IonImageClusteringOptions,
        dict(PREPROCESS, eps=("eps_auto", True), min_samples=("dbscan.min_samples", None),
             dbscan_algorithm=("dbscan.algorithm", None), isotope_tolerance=("isotopes.tolerance", None),
             isotope_unit=("isotopes.unit", None), max_charge=("isotopes.max_charge", None),
             random_state=("seed", None)),
        {"embedder", "umap", "hdbscan", "n_jobs", "verbose"}),
    "Embedder": (
        se.Embedder, _core.EmbedderOptions,
        dict({k: v for k, v in PREPROCESS.items() if k != "tic_normalize"}, weights=("weights", ""),
             input_size=("input_size", 0), normalization=("normalization", "")),
        {"n_jobs"}),
}


def _get(struct, path):
    for name in path.split("."):
        struct = getattr(struct, name)
    return struct


def _same(a, b):
    if isinstance(b, float) and math.isnan(b):
        return a is None or (isinstance(a, float) and math.isnan(a))
    return list(a) == list(b) if isinstance(b, (list, tuple)) else a == b


@pytest.mark.parametrize("name", CASES)
def test_python_defaults_are_the_cpp_defaults(name):
    estimator, struct_type, renamed, skip = CASES[name]
    defaults = struct_type()
    params = estimator().get_params(deep=False)
    checked = set()
    for param, value in params.items():
        if param in skip:
            continue
        if param in renamed:
            path, sentinel = renamed[param]
            cpp = _get(defaults, path)
            if sentinel is not None:  # a Python sentinel (None) stands for the C++ default
                assert value is None and _same(sentinel, cpp), (param, value, cpp)
            else:
                assert _same(value, cpp), (param, value, cpp)
        else:
            assert param in fields(struct_type), f"{name}.{param} is neither a C++ field nor declared"
            assert _same(value, getattr(defaults, param)), (param, value, getattr(defaults, param))
        checked.add(param)
    assert checked == set(params) - skip


def test_pipeline_sub_estimator_defaults_are_the_cpp_ones():
    umap = _core.IonImageClusteringOptions.default_umap()
    params = se.pipeline.default_umap().get_params()
    for name in fields(umap):
        if name in params and name not in ("n_epochs", "a", "b"):
            assert _same(params[name], getattr(umap, name)), name
    assert params["n_components"] == 3 and params["min_dist"] == 0.0  # the paper's 3-D, tight clusters
    hdbscan = _core.IonImageClusteringOptions().hdbscan
    assert se.HDBSCAN().get_params()["min_cluster_size"] == hdbscan.min_cluster_size


def small_stack(seed=0):
    rng = np.random.default_rng(seed)
    return se.IonImageStack(rng.random((12, 10, 10), dtype=np.float32) * 5, None, 400.0 + np.arange(12.0))


X_SMALL = np.random.default_rng(1).random((30, 4)).astype(np.float32)

# (estimator, parameter, bad value, what the C++ message names, data); each raises ValueError.
BAD = [
    (se.UMAP, "n_neighbors", 1, "n_neighbors", X_SMALL),
    (se.UMAP, "n_components", 0, "n_components", X_SMALL),
    (se.UMAP, "metric", "chebyshev", "metric", X_SMALL),
    (se.UMAP, "min_dist", -0.5, "min_dist", X_SMALL),
    (se.UMAP, "spread", 0.0, "spread", X_SMALL),
    (se.UMAP, "n_epochs", -3, "n_epochs", X_SMALL),
    (se.UMAP, "learning_rate", 0.0, "learning_rate", X_SMALL),
    (se.UMAP, "init", "laplacian", "init", X_SMALL),
    (se.UMAP, "negative_sample_rate", -1.0, "negative_sample_rate", X_SMALL),
    (se.UMAP, "repulsion_strength", -1.0, "repulsion_strength", X_SMALL),
    (se.UMAP, "set_op_mix_ratio", 1.5, "set_op_mix_ratio", X_SMALL),
    (se.UMAP, "local_connectivity", -1.0, "local_connectivity", X_SMALL),
    (se.UMAP, "a", -1.0, "a and b", X_SMALL),
    (se.UMAP, "knn_method", "annoy", "knn_method", X_SMALL),
    (se.DBSCAN, "eps", 0.0, "eps", X_SMALL),
    (se.DBSCAN, "min_samples", 0, "min_samples", X_SMALL),
    (se.DBSCAN, "metric", "chebyshev", "metric", X_SMALL),
    (se.DBSCAN, "algorithm", "ball_tree", "algorithm", X_SMALL),
    (se.HDBSCAN, "min_cluster_size", 1, "min_cluster_size", X_SMALL),
    (se.HDBSCAN, "min_samples", -1, "min_samples", X_SMALL),
    (se.HDBSCAN, "cluster_selection_epsilon", -1.0, "cluster_selection_epsilon", X_SMALL),
    (se.HDBSCAN, "max_cluster_size", -1, "max_cluster_size", X_SMALL),
    (se.HDBSCAN, "metric", "chebyshev", "metric", X_SMALL),
    (se.HDBSCAN, "alpha", 0.0, "alpha", X_SMALL),
    (se.HDBSCAN, "algorithm", "prims", "algorithm", X_SMALL),
    (se.HDBSCAN, "cluster_selection_method", "excess", "cluster_selection_method", X_SMALL),
    (se.HDBSCAN, "allow_single_cluster", "yes", "allow_single_cluster", X_SMALL),
    (se.IonImageClustering, "method", "xception", "method", None),
    (se.IonImageClustering, "clusterer", "optics", "clusterer", None),
    (se.IonImageClustering, "eps", -1.0, "eps", None),
    (se.IonImageClustering, "min_samples", 0, "min_samples", None),
    (se.IonImageClustering, "dbscan_algorithm", "ball_tree", "algorithm", None),
    (se.IonImageClustering, "tic_normalize", "yes", "tic_normalize", None),
    (se.IonImageClustering, "hotspot_quantile", 0.0, "hotspot_quantile", None),
    (se.IonImageClustering, "median_filter", 2, "median_filter", None),
    (se.IonImageClustering, "scale", "no", "scale", None),
    (se.IonImageClustering, "isotope_tolerance", 0.0, "tolerance", None),
    (se.IonImageClustering, "isotope_unit", "mmu", "unit", None),
    (se.IonImageClustering, "max_charge", 0, "max_charge", None),
    (se.IonImageClustering, "random_state", None, "seed", None),
    (se.IonImageClustering, "feature_set", "pixels", "feature_set", None),
    (se.IonImageClustering, "pixel_weight", -1.0, "pixel_weight", None),
]


@pytest.mark.parametrize("estimator, param, value, field, X", BAD,
                         ids=[f"{e.__name__}-{p}" for e, p, *_ in BAD])
def test_bad_value_of_every_option_raises_value_error_naming_it(estimator, param, value, field, X):
    kwargs = {param: value, "b": 1.0} if param == "a" else {param: value}
    if estimator is se.IonImageClustering:
        kwargs.setdefault("method", "umap_only")
        if param in ("eps", "min_samples", "dbscan_algorithm"):
            kwargs["clusterer"] = "dbscan"  # DBSCAN's options are checked when it runs (HDBSCAN is the default)
        X = small_stack()
    with pytest.raises(ValueError, match=field):
        estimator(**kwargs).fit(X)


@pytest.mark.parametrize("param, value, field", [
    ("backbone", "vgg16", "backbone"), ("device", "tpu", "device"), ("batch_size", 0, "batch_size"),
    ("dtype", "int8", "dtype"), ("input_size", 8, "input_size"), ("normalization", "zscore", "normalization"),
    ("std", (0.0, 1.0, 1.0), "std"), ("logits", "yes", "logits"), ("hotspot_quantile", 1.5, "hotspot_quantile"),
    ("median_filter", 4, "median_filter"), ("scale", "no", "scale"),
])
def test_bad_embedder_option_raises_value_error_naming_it(param, value, field):
    if not se.nn.has_nn():
        pytest.skip("built without LibTorch")
    with pytest.raises(ValueError, match=field):
        se.Embedder(**{param: value}).fit()  # validate() runs before any weights are read


def test_a_preprocess_field_reaches_every_estimator_without_python_edits():
    """`scale` is declared only in PreprocessOptions (header, for_each_field, validate): it is a
    parameter of IonImageClustering, Embedder, PreparedIonImages and IonImageStack.preprocess."""
    every = [name for name in fields(_core.PreprocessOptions) if name != "num_threads"]
    assert set(every) <= set(se.IonImageClustering().get_params())
    assert set(every) - {"tic_normalize"} <= set(se.Embedder().get_params())
    stack = small_stack()
    model = se.IonImageClustering("umap_only", scale=False, hotspot_quantile=0.9)
    prepared = model.prepare(stack)
    assert prepared.preprocess["scale"] is False
    # Reference: spike removal, clip each image at numpy's 0.9 quantile, no scaling.
    expected = np.stack([preprocess_image(image, stack.mask, 0.9, scale=False) for image in stack.images])
    np.testing.assert_allclose(prepared.images, expected[prepared.kept], rtol=1e-6)
    np.testing.assert_allclose(stack.preprocess(scale=False, hotspot_quantile=0.9).images, expected, rtol=1e-6)
    from sklearn.base import clone
    assert clone(model).get_params()["scale"] is False
    with pytest.raises(ValueError, match="prepared with .*scale = false.*scale = true"):
        se.IonImageClustering("umap_only", hotspot_quantile=0.9).prepare(prepared)
    with pytest.raises(TypeError, match="unknown preprocessing option"):
        stack.preprocess(sharpen=True)


def test_same_preprocessing_is_the_cpp_one():
    a, b = _core.PreprocessOptions(), _core.PreprocessOptions()
    b.num_threads = 3
    assert a.same_preprocessing(b)  # threads do not change the result
    for name, value in [("tic_normalize", True), ("remove_spikes", False), ("hotspot_quantile", 0.5),
                        ("hotspot_ignore_zeros", False), ("median_filter", 3), ("scale", False)]:
        c = _core.PreprocessOptions()
        setattr(c, name, value)
        assert not a.same_preprocessing(c), name


def test_pipeline_result_and_options_are_bound_structs():
    options = _core.IonImageClusteringOptions()
    options.method = "umap_only"
    options.umap.n_neighbors = 5  # nested structs are edited in place
    options.dbscan.min_samples = 3
    assert options.umap.n_neighbors == 5 and options.dbscan.min_samples == 3
    with pytest.raises(ValueError, match="clusterer must be"):
        options.clusterer = "kmeans"
    prepared = se.PreparedIonImages(small_stack())
    result = _core.fit_prepared(prepared._p, options)
    assert isinstance(result, _core.IonImageClusteringResult) and result.method == "umap_only"
    assert result.labels.shape == (12,) and result.embedding.shape == (12, 3) and result.n_neighbors == 5
    e = result.evaluation
    assert e.n_clusters == result.n_clusters == len(result.members)
    mz = small_stack().mz  # reference: pairs 1.00336 Da apart within 10 ppm of the heavier m/z
    gap = mz[None, :] - mz[:, None] - 1.00336
    assert e.isotope_pairs == int((np.abs(gap) <= 10e-6 * mz[None, :]).sum()) == 11


def test_umap_is_the_cpp_model_saved_loaded_and_pickled(tmp_path):
    X = np.random.default_rng(3).random((60, 5)).astype(np.float32)
    model = se.UMAP(n_neighbors=8, n_epochs=30, random_state=2).fit(X)
    assert isinstance(model._model, _core.UMAP) and not hasattr(model, "_raw_data")
    Y = X[:7] + 0.01
    expected = model.transform(Y)
    # Reference: the same C++ model driven directly.
    direct = _core.UMAP(model._options())
    direct.fit(X)
    np.testing.assert_array_equal(direct.embedding, model.embedding_)
    np.testing.assert_array_equal(direct.transform(Y), expected)
    model.save(tmp_path / "m.umap")
    with pytest.raises(OSError, match="exists"):
        model.save(tmp_path / "m.umap")
    loaded = se.UMAP.load(tmp_path / "m.umap")
    np.testing.assert_array_equal(loaded.embedding_, model.embedding_)
    np.testing.assert_array_equal(loaded.transform(Y), expected)
    assert loaded.get_params()["n_neighbors"] == 8 and loaded.get_params()["n_epochs"] == 30
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(Y), expected)
    (tmp_path / "bad.umap").write_bytes((tmp_path / "m.umap").read_bytes()[:100])
    with pytest.raises(ValueError, match="bad.umap.*byte offset"):
        se.UMAP.load(tmp_path / "bad.umap")


def test_umap_without_training_data_cannot_transform():
    X = np.random.default_rng(4).random((40, 3)).astype(np.float32)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    model = se.UMAP(n_neighbors=6, n_epochs=20, metric="precomputed", random_state=0).fit(D)
    with pytest.raises(ValueError, match="needs the training data"):
        model.transform(X[:2])
