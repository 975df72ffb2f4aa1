"""spatialembed.HDBSCAN against a reference written from the definitions (hdbscan_reference.py).

scikit-learn 1.2 (Debian 12) has no HDBSCAN and no HDBSCAN package is installable here, so
the reference is the paper's algorithm in NumPy: dense mutual reachability, Kruskal,
single linkage, condensed tree, excess-of-mass/leaf selection, probabilities.
"""
import pickle

import numpy as np
import pytest
from sklearn.base import clone

import spatialembed
from hdbscan_reference import reference_hdbscan


def blobs(rng, n, d, centers=4, spread=1.0):
    c = rng.uniform(0, 5 * np.sqrt(d) + 4, size=(centers, d))
    X = c[rng.integers(0, centers, n)] + spread * rng.normal(size=(n, d))
    noise = rng.uniform(X.min(0), X.max(0), size=(n // 10, d))
    return np.vstack([X, noise]).astype(np.float32)


def lattice(rng, n, d, side=6):
    """Integer points in a few patches: exact distances, many ties and duplicates."""
    X = rng.integers(0, side, size=(n, d)).astype(np.float32)
    X[: n // 3, 0] += 3 * side
    X[n // 3: n // 2, -1] += 2 * side
    return X


def check_equal(X, **params):
    ours = spatialembed.HDBSCAN(**params, n_jobs=2).fit(X)
    want = reference_hdbscan(X, **params)
    condensed = [tuple(r) for r in ours.condensed_tree_.tolist()]
    assert condensed == [(int(p), int(c), float(lam), int(s)) for p, c, lam, s in want["condensed"]]
    np.testing.assert_array_equal(ours.core_distances_, want["core"])
    np.testing.assert_array_equal(ours.single_linkage_tree_, np.array(want["linkage"], dtype=np.float64))
    np.testing.assert_array_equal(ours.labels_, want["labels"])
    np.testing.assert_allclose(ours.probabilities_, want["probabilities"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours.cluster_nodes_, want["cluster_nodes"])
    assert ours.n_clusters_ == len(want["cluster_nodes"])
    return ours


def test_equals_reference_on_random_blobs():
    n_clusters = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        d = int(rng.choice([1, 2, 3, 5]))
        X = blobs(rng, int(rng.integers(30, 260)), d, spread=float(rng.uniform(0.4, 1.5)))
        params = dict(min_cluster_size=int(rng.choice([2, 3, 5, 10, 20])),
                      min_samples=[None, 1, 3, 8][seed % 4],
                      cluster_selection_method=["eom", "leaf"][seed % 2],
                      allow_single_cluster=bool(seed % 3 == 0))
        n_clusters.append(check_equal(X, **params).n_clusters_)
    assert sum(c >= 2 for c in n_clusters) >= 6, n_clusters  # not a set of trivial cases


@pytest.mark.parametrize("seed", range(8))
def test_equals_reference_on_tied_lattice(seed):
    rng = np.random.default_rng(100 + seed)
    d = [1, 2, 2, 3][seed % 4]
    X = lattice(rng, int(rng.integers(40, 240)), d, side=int(rng.choice([3, 5, 8])))
    assert len(np.unique(X, axis=0)) < len(X)  # duplicates: zero distances, infinite lambdas
    check_equal(X, min_cluster_size=int(rng.choice([2, 4, 8])), min_samples=[None, 1, 2, 5][seed % 4],
                cluster_selection_method=["eom", "leaf"][seed // 4], allow_single_cluster=bool(seed % 3 == 1))


@pytest.mark.parametrize("method", ["eom", "leaf"])
@pytest.mark.parametrize("allow_single_cluster", [False, True])
def test_cluster_selection_epsilon_equals_reference(method, allow_single_cluster):
    rng = np.random.default_rng(7)
    X = blobs(rng, 240, 2, centers=6, spread=0.6)
    base = spatialembed.HDBSCAN(min_cluster_size=6, cluster_selection_method=method).fit(X)
    births = 1.0 / base.condensed_tree_["lambda_val"][base.condensed_tree_["child"] >= len(X)]
    counts = []
    for eps in np.quantile(births, [0.2, 0.5, 0.8, 1.0]) * 1.01:
        ours = check_equal(X, min_cluster_size=6, cluster_selection_epsilon=float(eps), cluster_selection_method=method,
                           allow_single_cluster=allow_single_cluster)
        counts.append(ours.n_clusters_)
    assert counts[0] <= base.n_clusters_
    assert counts[-1] <= 1 + (not allow_single_cluster)  # at the largest birth distance only the top clusters stay


def test_max_cluster_size_and_alpha_equal_reference():
    rng = np.random.default_rng(3)
    X = blobs(rng, 200, 3, centers=3, spread=1.2)
    for max_cluster_size in (None, 15, 40):
        for alpha in (1.0, 0.7, 1.5):
            check_equal(X, min_cluster_size=5, min_samples=4, max_cluster_size=max_cluster_size, alpha=alpha)


def test_eom_and_leaf_differ_where_a_parent_is_stable():
    # A and B (1.5 apart) merge long before C: eom keeps AB whole, leaf keeps A and B apart.
    X = np.array([0, 1, 2, 3.5, 4.5, 5.5, 100, 101, 102], dtype=np.float32)[:, None]
    eom = spatialembed.HDBSCAN(min_cluster_size=3, min_samples=2).fit_predict(X)
    leaf = spatialembed.HDBSCAN(min_cluster_size=3, min_samples=2, cluster_selection_method="leaf").fit_predict(X)
    np.testing.assert_array_equal(eom, [0, 0, 0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(leaf, [1, 1, 1, 2, 2, 2, 0, 0, 0])
    for method in ("eom", "leaf"):
        want = reference_hdbscan(X, min_cluster_size=3, min_samples=2, cluster_selection_method=method)["labels"]
        np.testing.assert_array_equal(eom if method == "eom" else leaf, want)


def test_allow_single_cluster_on_one_blob():
    X = np.random.default_rng(5).normal(size=(300, 2)).astype(np.float32)
    # min_cluster_size above half the points: no split can make two clusters.
    assert spatialembed.HDBSCAN(min_cluster_size=160).fit(X).n_clusters_ == 0
    single = check_equal(X, min_cluster_size=160, allow_single_cluster=True)
    assert single.n_clusters_ == 1 and (single.labels_ == 0).any()


def test_results_do_not_depend_on_threads_or_algorithm():
    rng = np.random.default_rng(11)
    X = blobs(rng, 4000, 3, centers=8, spread=0.8)
    want = spatialembed.HDBSCAN(min_cluster_size=10, algorithm="brute", n_jobs=1).fit(X)
    assert want.n_clusters_ > 2
    for n_jobs in (1, 2, 4):
        for algorithm in ("kdtree", "auto"):
            got = spatialembed.HDBSCAN(min_cluster_size=10, algorithm=algorithm, n_jobs=n_jobs).fit(X)
            np.testing.assert_array_equal(got.labels_, want.labels_)
            np.testing.assert_array_equal(got.probabilities_, want.probabilities_)
            np.testing.assert_array_equal(got.condensed_tree_, want.condensed_tree_)
    assert got.algorithm_ == "kdtree" and want.algorithm_ == "brute"


def test_other_metrics_run_and_agree_across_algorithms():
    X = blobs(np.random.default_rng(2), 300, 6, centers=3, spread=0.5) + 1.0
    for metric in ("cosine", "correlation", "manhattan"):
        a = spatialembed.HDBSCAN(min_cluster_size=8, metric=metric, algorithm="brute").fit(X)
        b = spatialembed.HDBSCAN(min_cluster_size=8, metric=metric, algorithm="kdtree").fit(X)
        np.testing.assert_array_equal(a.labels_, b.labels_)
        assert a.n_clusters_ >= 1


@pytest.mark.parametrize("params, X, match", [
    (dict(min_cluster_size=1), None, "min_cluster_size must be >= 2, got 1"),
    (dict(min_cluster_size=2.5), None, "min_cluster_size must be of type int"),
    (dict(min_samples=50), None, r"min_samples \(50\) must be at most the number of samples in X \(20\)"),
    (dict(cluster_selection_epsilon=-1.0), None, "cluster_selection_epsilon must be finite and >= 0, got -1"),
    (dict(alpha=0.0), None, "alpha must be finite and > 0, got 0"),
    (dict(cluster_selection_method="excess"), None, "cluster_selection_method must be 'eom' or 'leaf'"),
    (dict(metric="chebyshev"), None, "metric"),
    (dict(algorithm="ball_tree"), None, "algorithm must be one of"),
    (dict(), np.array([[0.0, 1.0]] * 9 + [[np.nan, 0.0]]), r"X\[9, 0\] = nan"),
    (dict(), np.zeros(10), "2-D"),
])
def test_bad_input_raises_value_error(params, X, match):
    if X is None:
        X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=match):
        spatialembed.HDBSCAN(**params).fit(X)


def test_sklearn_estimator_conventions():
    est = spatialembed.HDBSCAN(min_cluster_size=7, cluster_selection_method="leaf")
    params = est.get_params()
    assert params["min_cluster_size"] == 7 and params["min_samples"] is None and params["metric"] == "euclidean"
    assert params["cluster_selection_method"] == "leaf" and params["alpha"] == 1.0
    defaults = spatialembed.HDBSCAN().get_params()
    assert defaults["min_cluster_size"] == 5 and defaults["cluster_selection_epsilon"] == 0.0
    assert defaults["allow_single_cluster"] is False and defaults["max_cluster_size"] is None
    X = blobs(np.random.default_rng(1), 150, 2)
    fitted = clone(est).fit(X)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    assert fitted.condensed_tree_.dtype.names == ("parent", "child", "lambda_val", "child_size")
    assert fitted.single_linkage_tree_.shape == (len(X) - 1, 4)
    np.testing.assert_array_equal(est.fit_predict(X), fitted.labels_)
