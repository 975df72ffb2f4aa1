"""Clustering-quality metrics (ARI, NMI, silhouette) against scikit-learn's own functions."""
import numpy as np
import pytest
from sklearn import metrics as skm

import spatialembed

AVERAGE_METHODS = ["min", "geometric", "arithmetic", "max"]


def random_labelings(seed):
    """Two labelings of one random size, with -1 labels, huge values and sometimes one cluster."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 3, 7, 50, 333, 2000]))
    k_true, k_pred = (int(rng.choice([1, 2, 3, 10, 60])) for _ in range(2))
    a = rng.integers(-1, k_true - 1, n, endpoint=True)
    b = np.where(rng.random(n) < rng.random(), a, rng.integers(-1, k_pred - 1, n, endpoint=True))
    if seed % 4 == 1:
        b = b * 10**15 - 7  # large label values
    return a, b


def as_strings(labels):
    return np.array([f"cluster-{v}" for v in labels])


@pytest.mark.parametrize("seed", range(100))
def test_adjusted_rand_score_equals_sklearn(seed):
    a, b = random_labelings(seed)
    expected = skm.adjusted_rand_score(a, b)
    assert spatialembed.adjusted_rand_score(a, b) == pytest.approx(expected, abs=1e-12)
    assert spatialembed.adjusted_rand_score(as_strings(a), b.tolist()) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(100))
def test_normalized_mutual_info_score_equals_sklearn(seed):
    a, b = random_labelings(seed)
    method = AVERAGE_METHODS[seed % 4]
    expected = skm.normalized_mutual_info_score(a, b, average_method=method)
    got = spatialembed.normalized_mutual_info_score(a, b, average_method=method)
    assert got == pytest.approx(expected, abs=1e-12)
    assert spatialembed.normalized_mutual_info_score(as_strings(a), as_strings(b), average_method=method) == \
        pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("method", AVERAGE_METHODS)
def test_nmi_edge_cases_equal_sklearn(method):
    cases = [([3, 3, 3], [-1, -1, -1]), ([3, 3, 3], [0, 1, 1]), ([0, 1, 1], [5, 5, 5]), ([1], [2]),
             ([0, 0, 1, 1], [0, 1, 0, 1]), ([0, 0, 1, 1], [0, 0, 1, 2]), ([0, 1, 2, 3], [0, 0, 0, 0])]
    for a, b in cases:
        expected = skm.normalized_mutual_info_score(a, b, average_method=method)
        assert spatialembed.normalized_mutual_info_score(a, b, average_method=method) == \
            pytest.approx(expected, abs=1e-12), (a, b)


def test_ari_docstring_values_and_large_n():
    assert spatialembed.adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(4 / 7, abs=1e-15)
    assert spatialembed.adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) == -0.5
    assert spatialembed.adjusted_rand_score([5, 5], [1, 1]) == 1.0
    # n = 200 000: the pair products exceed 64 bits; sklearn uses Python integers.
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200_000)
    b = np.where(rng.random(a.size) < 0.7, a, rng.integers(0, 4, a.size))
    assert spatialembed.adjusted_rand_score(a, b) == pytest.approx(skm.adjusted_rand_score(a, b), abs=1e-12)


def test_label_kinds():
    a = np.array([0, 0, 1, 1, 2, 2], dtype=np.uint8)
    b = np.array([True, True, False, False, False, True])
    expected = skm.adjusted_rand_score(a, b)
    assert spatialembed.adjusted_rand_score(a, b) == pytest.approx(expected, abs=1e-12)
    big = np.array([0, 0, 2**63 + 5, 2**63 + 5, 1, 1], dtype=np.uint64)  # beyond int64
    assert spatialembed.adjusted_rand_score(big, a) == 1.0
    floats = np.array([0.5, 0.5, 1.5, 1.5, 2.5, 2.5])
    assert spatialembed.normalized_mutual_info_score(floats, a) == pytest.approx(1.0, abs=1e-12)


def blobs(n, d, centres, seed, duplicates=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centres, d)) * 3
    X = (C[rng.integers(0, centres, n)] + rng.normal(size=(n, d))).astype(np.float32)
    if duplicates:
        X[rng.integers(0, n, duplicates)] = X[rng.integers(0, n, duplicates)]
    return X


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "correlation"])
def test_silhouette_equals_sklearn(seed, metric):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([4, 30, 200, 500]))
    k = int(rng.integers(2, min(n - 1, 8), endpoint=True))
    X = blobs(n, int(rng.choice([1, 3, 16])) + (metric == "correlation"), 4, seed, duplicates=n // 5)
    labels = rng.integers(-1, k - 2, n, endpoint=True)
    labels[:k] = np.arange(-1, k - 1)  # every label present
    if seed % 3 == 0:
        labels = as_strings(labels)
    X64 = X.astype(np.float64)  # sklearn on the same values in float64
    expected = skm.silhouette_samples(X64, labels, metric=metric)
    got = spatialembed.silhouette_samples(X, labels, metric=metric)
    assert got.shape == (n,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert spatialembed.silhouette_score(X, labels, metric=metric) == \
        pytest.approx(skm.silhouette_score(X64, labels, metric=metric), abs=1e-6)


def test_silhouette_duplicates_and_singletons_equal_sklearn():
    X = np.array([[0, 0], [0, 0], [0, 0], [0, 0], [5, 5]], dtype=np.float32)
    labels = [0, 0, 1, 1, 2]  # a = b = 0 for the copies; a singleton
    np.testing.assert_allclose(spatialembed.silhouette_samples(X, labels), skm.silhouette_samples(X, labels),
                               atol=1e-12)


def test_silhouette_independent_of_n_jobs():
    X = blobs(400, 8, 5, 3, duplicates=40)
    labels = np.random.default_rng(1).integers(0, 5, 400)
    one = spatialembed.silhouette_samples(X, labels, n_jobs=1)
    two = spatialembed.silhouette_samples(X, labels, n_jobs=2)
    assert np.array_equal(one, two)
    assert spatialembed.silhouette_score(X, labels, n_jobs=1) == spatialembed.silhouette_score(X, labels, n_jobs=2)


def test_exported():
    for name in ["adjusted_rand_score", "normalized_mutual_info_score", "silhouette_samples", "silhouette_score"]:
        assert name in spatialembed.__all__


def test_errors():
    with pytest.raises(ValueError, match="same length.*3 and 2"):
        spatialembed.adjusted_rand_score([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        spatialembed.normalized_mutual_info_score([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        spatialembed.adjusted_rand_score([], [])
    with pytest.raises(ValueError, match="empty"):
        spatialembed.normalized_mutual_info_score([], [])
    with pytest.raises(ValueError, match="1-D"):
        spatialembed.adjusted_rand_score([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="average_method"):
        spatialembed.normalized_mutual_info_score([0, 1], [0, 1], average_method="mean")
    X = np.arange(8, dtype=np.float32).reshape(4, 2)
    with pytest.raises(ValueError, match="number of labels is 1"):
        spatialembed.silhouette_score(X, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="number of labels is 4"):
        spatialembed.silhouette_samples(X, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="4 rows but labels has 3"):
        spatialembed.silhouette_score(X, [0, 1, 1])
    with pytest.raises(ValueError, match="metric"):
        spatialembed.silhouette_score(X, [0, 0, 1, 1], metric="hamming")
    with pytest.raises(ValueError, match="NaN"):
        spatialembed.silhouette_score(np.array([[0.0], [np.nan], [1.0], [2.0]]), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="all zeros"):
        spatialembed.silhouette_score(np.zeros((4, 2)), [0, 0, 1, 1], metric="cosine")
    with pytest.raises(ValueError, match="2-D"):
        spatialembed.silhouette_score(np.zeros(4), [0, 0, 1, 1])
