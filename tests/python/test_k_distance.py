"""spatialembed.k_distance against sklearn.neighbors.NearestNeighbors."""
import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import spatialembed


@pytest.mark.parametrize("d", [2, 3, 10, 40])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_k_distance_equals_sklearn(d, metric):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(500, d)).astype(np.float32)
    for k in (1, 5, 17):
        distances, _ = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(X).kneighbors(X)
        ours = spatialembed.k_distance(X, k, metric=metric, sort=False)
        np.testing.assert_allclose(ours, distances[:, k - 1], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(spatialembed.k_distance(X, k, metric=metric), np.sort(ours))


def test_k_distance_predicts_dbscan_core_points():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2000, 3)).astype(np.float32)
    kdist = spatialembed.k_distance(X, 10, sort=False)
    eps = float(np.median(kdist))
    core = np.zeros(len(X), dtype=bool)
    core[spatialembed.DBSCAN(eps=eps, min_samples=10).fit(X).core_sample_indices_] = True
    np.testing.assert_array_equal(core, kdist <= eps)


def test_k_distance_bad_k():
    with pytest.raises(ValueError, match=r"k must be in \[1, n_samples = 3\], got 4"):
        spatialembed.k_distance(np.zeros((3, 2)), 4)
