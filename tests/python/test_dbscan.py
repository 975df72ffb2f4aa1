"""spatialembed.DBSCAN against sklearn.cluster.DBSCAN, label for label."""
import pickle

import numpy as np
import pytest
import scipy.sparse
import sklearn.cluster
from sklearn.base import clone
from sklearn.neighbors import radius_neighbors_graph
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import spatialembed


def random_case(rng):
    """Data of a random kind: blobs, integer lattice (ties at eps, duplicates) or noise."""
    n = int(rng.integers(1, 400))
    d = int(rng.choice([1, 2, 3, 4, 5, 8, 16]))
    kind = rng.choice(["blobs", "lattice", "uniform"])
    if kind == "lattice":
        X = rng.integers(0, 6, size=(n, d)).astype(np.float32)
        eps = float(rng.choice([1.0, np.sqrt(2.0), 2.0, 3.0]))
    else:
        centers = rng.uniform(0, 6 * np.sqrt(d), size=(4, d))
        X = centers[rng.integers(0, 4, n)] + rng.normal(size=(n, d))
        if kind == "uniform":
            X = rng.uniform(0, 6, size=(n, d))
        X = X.astype(np.float32)
        eps = float(rng.uniform(0.2, 2.0) * np.sqrt(d))
    return X, eps, int(rng.integers(1, 12))


def sklearn_reference(X, eps, min_samples, sample_weight=None, metric="euclidean"):
    # The ball tree computes exact float64 distances, as we do; "auto" switches to a
    # GEMM-based brute force above 15 features, which rounds ties at eps differently.
    algorithm = "brute" if metric == "cosine" else "ball_tree"
    return sklearn.cluster.DBSCAN(eps=eps, min_samples=min_samples, metric=metric, algorithm=algorithm).fit(
        X, sample_weight=sample_weight)


def assert_same(ours, theirs):
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(ours.core_sample_indices_, theirs.core_sample_indices_)
    np.testing.assert_array_equal(ours.components_, theirs.components_)


@pytest.mark.parametrize("seed", range(300))
def test_labels_equal_sklearn_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    X, eps, min_samples = random_case(rng)
    algorithm = ["auto", "kdtree", "brute", "grid"][seed % 4] if X.shape[1] <= 4 else "auto"
    ours = spatialembed.DBSCAN(eps=eps, min_samples=min_samples, algorithm=algorithm).fit(X)
    assert_same(ours, sklearn_reference(X, eps, min_samples))


@pytest.mark.parametrize("seed", range(40))
def test_sample_weight_equal_sklearn(seed):
    rng = np.random.default_rng(1000 + seed)
    X, eps, min_samples = random_case(rng)
    weights = rng.integers(-1, 4, size=X.shape[0]).astype(np.float64)
    if seed % 2:
        weights = rng.uniform(0, 3, size=X.shape[0])
    ours = spatialembed.DBSCAN(eps=eps, min_samples=min_samples).fit(X, sample_weight=weights)
    assert_same(ours, sklearn_reference(X, eps, min_samples, sample_weight=weights))


@pytest.mark.parametrize("seed", range(20))
def test_cosine_equal_sklearn(seed):
    rng = np.random.default_rng(2000 + seed)
    d = int(rng.choice([2, 3, 10]))
    X = (rng.normal(size=(4, d))[rng.integers(0, 4, 300)] + 0.3 * rng.normal(size=(300, d))).astype(np.float32)
    eps = float(rng.uniform(0.005, 0.1))
    ours = spatialembed.DBSCAN(eps=eps, min_samples=5, metric="cosine").fit(X)
    assert_same(ours, sklearn_reference(X, eps, 5, metric="cosine"))


def test_border_point_touching_two_clusters():
    # Point 0 is within eps of both groups but is not core itself; sklearn gives it the
    # cluster of the lowest-index core point, which is the right-hand group here.
    X = np.array([[5.0], [6.0], [6.1], [6.2], [6.3], [4.0], [3.9], [3.8], [3.7]], dtype=np.float32)
    ours = spatialembed.DBSCAN(eps=1.0, min_samples=4).fit(X)
    theirs = sklearn_reference(X, 1.0, 4)
    assert_same(ours, theirs)
    assert ours.labels_.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    # Reversed order: the left-hand group now owns the lowest-index core point.
    X2 = X[::-1].copy()
    assert_same(spatialembed.DBSCAN(eps=1.0, min_samples=4).fit(X2), sklearn_reference(X2, 1.0, 4))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.EfficiencyWarning")
@pytest.mark.parametrize("seed", range(30))
def test_precomputed_sparse_graph_equals_sklearn(seed):
    rng = np.random.default_rng(3000 + seed)
    X, eps, min_samples = random_case(rng)
    graph = radius_neighbors_graph(X.astype(np.float64), radius=1.3 * eps, mode="distance")
    ours = spatialembed.DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(graph)
    theirs = sklearn.cluster.DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(graph)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(ours.core_sample_indices_, theirs.core_sample_indices_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.EfficiencyWarning")
def test_precomputed_directed_graph_and_dense_matrix_equal_sklearn():
    rng = np.random.default_rng(5)
    dense = rng.uniform(0, 3, size=(60, 60))
    dense[rng.uniform(size=dense.shape) < 0.6] = 0
    graph = scipy.sparse.csr_matrix(dense)  # not symmetric, diagonal partly stored
    for X in (graph, dense):
        ours = spatialembed.DBSCAN(eps=1.0, min_samples=4, metric="precomputed").fit(X)
        theirs = sklearn.cluster.DBSCAN(eps=1.0, min_samples=4, metric="precomputed").fit(X)
        np.testing.assert_array_equal(ours.labels_, theirs.labels_)
        np.testing.assert_array_equal(ours.core_sample_indices_, theirs.core_sample_indices_)


def test_results_do_not_depend_on_n_jobs_or_algorithm():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(5, 3))[rng.integers(0, 5, 5000)] * 4 + rng.normal(size=(5000, 3))).astype(np.float32)
    reference = spatialembed.DBSCAN(eps=0.4, min_samples=8, n_jobs=1).fit(X).labels_
    for n_jobs in (2, -1, None):
        for algorithm in ("grid", "kdtree", "brute"):
            labels = spatialembed.DBSCAN(eps=0.4, min_samples=8, n_jobs=n_jobs, algorithm=algorithm).fit_predict(X)
            np.testing.assert_array_equal(labels, reference)


def test_pipeline_clone_params_and_pickle():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4)) * [1, 10, 100, 1000]
    ours = Pipeline([("scale", StandardScaler()), ("cluster", spatialembed.DBSCAN(eps=0.8, min_samples=6))])
    theirs = Pipeline([("scale", StandardScaler()), ("cluster", sklearn.cluster.DBSCAN(eps=0.8, min_samples=6))])
    # Both receive the same float32 values: the pipeline's scaler output, rounded as we round it.
    Xs = StandardScaler().fit_transform(X).astype(np.float32)
    np.testing.assert_array_equal(spatialembed.DBSCAN(eps=0.8, min_samples=6).fit_predict(Xs),
                                  sklearn.cluster.DBSCAN(eps=0.8, min_samples=6, algorithm="ball_tree").fit_predict(Xs))
    assert len(ours.fit_predict(X)) == len(theirs.fit_predict(X))

    model = spatialembed.DBSCAN(eps=0.3, min_samples=3, n_jobs=2)
    assert model.get_params() == {"eps": 0.3, "min_samples": 3, "metric": "euclidean", "algorithm": "auto",
                                  "n_jobs": 2}
    copy = clone(model).set_params(eps=0.9)
    assert copy.eps == 0.9 and model.eps == 0.3
    fitted = copy.fit(Xs)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.labels_, fitted.labels_)
    assert restored.n_features_in_ == 4


def test_input_conversion_non_contiguous_and_other_dtypes():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(200, 6)).astype(np.float32)
    expected = spatialembed.DBSCAN(eps=1.5, min_samples=4).fit_predict(np.ascontiguousarray(base[:, ::2]))
    for X in (base[:, ::2], np.asfortranarray(base[:, ::2]), base[:, ::2].astype(np.float64),
              base[:, ::2].tolist()):
        np.testing.assert_array_equal(spatialembed.DBSCAN(eps=1.5, min_samples=4).fit_predict(X), expected)
    ints = rng.integers(0, 5, size=(50, 2))
    np.testing.assert_array_equal(spatialembed.DBSCAN(eps=1, min_samples=3).fit_predict(ints),
                                  sklearn.cluster.DBSCAN(eps=1, min_samples=3).fit_predict(ints))


def test_empty_and_single_sample():
    assert spatialembed.DBSCAN().fit(np.zeros((0, 3), dtype=np.float32)).labels_.shape == (0,)
    assert spatialembed.DBSCAN(min_samples=1).fit_predict([[1.0, 2.0]]).tolist() == [0]
    assert spatialembed.DBSCAN(min_samples=2).fit_predict([[1.0, 2.0]]).tolist() == [-1]


@pytest.mark.parametrize("kwargs, X, message", [
    (dict(eps=0), [[0.0], [1.0]], "eps must be finite and > 0, got 0"),
    (dict(eps=-1), [[0.0], [1.0]], "eps must be finite and > 0"),
    (dict(eps=float("nan")), [[0.0], [1.0]], "eps must be finite"),
    (dict(min_samples=0), [[0.0], [1.0]], "min_samples must be >= 1, got 0"),
    (dict(min_samples=2.5), [[0.0], [1.0]], "min_samples must be an integer"),
    (dict(metric="chebyshev"), [[0.0], [1.0]], "metric must be one of"),
    (dict(metric="manhattan"), [[0.0], [1.0]], "DBSCAN metric must be"),
    (dict(algorithm="ball_tree"), [[0.0], [1.0]], "algorithm must be one of"),
    (dict(n_jobs=0), [[0.0], [1.0]], "n_jobs == 0"),
    (dict(), [[0.0], [float("nan")]], r"X\[1, 0\] = nan"),
    (dict(), [[0.0], [float("inf")]], r"X\[1, 0\] = inf"),
    (dict(), [[0.0], [1e300]], "outside the float32 range"),
    (dict(), [0.0, 1.0], "must be a 2-D array"),
    (dict(), np.zeros((2, 2, 2)), "must be a 2-D array"),
    (dict(), np.zeros((3, 0)), "at least one feature"),
    (dict(), [["a", "b"]], "must hold real numbers"),
    (dict(), np.ones((2, 2), dtype=complex), "must hold real numbers"),
    (dict(metric="cosine"), [[0.0, 0.0], [1.0, 1.0]], "row 0 is all zeros"),
    (dict(algorithm="grid"), np.ones((3, 5)), "got 5 features"),
    (dict(metric="precomputed"), np.ones((3, 2)), "must be square"),
    (dict(metric="precomputed"), np.array([[0.0, np.nan], [np.nan, 0.0]]), "NaN"),
    (dict(metric="precomputed"), scipy.sparse.csr_matrix(-np.ones((2, 2))), "must be finite and >= 0"),
])
def test_bad_input_raises_value_error(kwargs, X, message):
    with pytest.raises(ValueError, match=message):
        spatialembed.DBSCAN(**kwargs).fit(X)


def test_bad_sample_weight():
    X = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3,\)"):
        spatialembed.DBSCAN().fit(X, sample_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"sample_weight\[1\] = nan"):
        spatialembed.DBSCAN().fit(X, sample_weight=[1.0, np.nan, 1.0])
