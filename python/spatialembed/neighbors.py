"""Neighbour-distance helpers."""
import numpy as np

from . import _core
from ._validation import as_float32_matrix, num_threads


def k_distance(X, k=5, *, metric="euclidean", sort=True, n_jobs=None):
    """Distance from each sample to its k-th nearest sample, the sample itself counted first.

    Equals column ``k - 1`` of
    ``sklearn.neighbors.NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)``. With
    ``k = min_samples``, an unweighted point is a DBSCAN core point exactly when its
    k-distance is ``<= eps``, so the knee of the sorted curve is the usual choice of eps
    (Ester et al., KDD 1996, section 4.2).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Converted to float32.
    k : int, default=5
        Neighbour rank, ``1 <= k <= n_samples``.
    metric : {"euclidean", "cosine"}, default="euclidean"
    sort : bool, default=True
        Return the distances sorted ascending (the k-distance plot) instead of per sample.
    n_jobs : int, default=None
        Threads; None or -1 = all cores.

    Returns
    -------
    ndarray of shape (n_samples,), float64

    Raises
    ------
    ValueError
        For k out of range, NaN/inf in X, or an all-zero row with the cosine metric.
    """
    X = as_float32_matrix(X)
    return _core.k_distance(X, int(k), metric, bool(sort), num_threads(n_jobs))


def k_distance_knee(sorted_distances):
    """The knee of an ascending k-distance curve: a DBSCAN ``eps`` chosen without a parameter.

    The "Kneedle" point (Satopää et al., ICDCS workshops 2011): on the curve scaled to the
    unit square, the distance ``d_i`` maximising ``i / (n - 1) - (d_i - d_0) / (d_{n-1} - d_0)``,
    where the slowly rising part (points inside clusters) turns into the steep tail (noise).

    Parameters
    ----------
    sorted_distances : array-like of shape (n_samples,)
        Ascending k-distances, e.g. ``k_distance(X, k=min_samples)``.

    Returns
    -------
    float
        A distance > 0, in the curve's units.

    Raises
    ------
    ValueError
        For an empty, unsorted or non-finite curve, or one that is 0 everywhere.
    """
    return _core.k_distance_knee(np.ascontiguousarray(sorted_distances, dtype=np.float64))
