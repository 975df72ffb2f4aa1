"""Embedding quality, neighbour-search accuracy and clustering quality."""
import numpy as np

from . import _core
from ._validation import as_float32_matrix, num_threads


def trustworthiness(X, X_embedded, *, n_neighbors=5, metric="euclidean", max_queries=None, random_state=0,
                    n_jobs=None):
    """How well an embedding keeps local neighbourhoods (Venna & Kaski 2001), in [0, 1].

    Equals :func:`sklearn.manifold.trustworthiness` (ties broken by index), in O(n) memory
    instead of an n x n distance matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    X_embedded : array-like of shape (n_samples, n_components)
    n_neighbors : int, default=5
        ``1 <= n_neighbors < n_samples / 2``.
    metric : {"euclidean", "cosine", "correlation", "manhattan"}, default="euclidean"
        Input-space distance; the embedding is compared in euclidean distance.
    max_queries : int, default=None
        Average over a random subset of this many points instead of all (for large n).
    random_state : int, default=0
        Seed of that subset.
    n_jobs : int, default=None

    Returns
    -------
    float
    """
    X = as_float32_matrix(X)
    Y = as_float32_matrix(X_embedded, "X_embedded")
    return _core.trustworthiness(X, Y, int(n_neighbors), metric, int(max_queries or 0), int(random_state),
                                 num_threads(n_jobs))


def knn_recall(approximate, exact):
    """Share of the exact k nearest neighbours found by an approximate search.

    Parameters
    ----------
    approximate, exact : array-like of shape (n_samples, k), int
        Neighbour indices per row (order within a row does not matter).

    Returns
    -------
    float in [0, 1]
    """
    return _core.knn_recall(np.ascontiguousarray(approximate, dtype=np.int32),
                            np.ascontiguousarray(exact, dtype=np.int32))


def nearest_neighbors(X, n_neighbors, *, metric="euclidean", method="exact", random_state=0, n_jobs=None):
    """k nearest neighbours of every row of ``X``, the row itself first.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_neighbors : int
    metric : {"euclidean", "cosine", "correlation", "manhattan"}, default="euclidean"
    method : {"exact", "nn_descent"}, default="exact"
        Exact blocked-GEMM search, or approximate NN-descent (as UMAP uses for large n).
    random_state : int, default=0
    n_jobs : int, default=None

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int32
    distances : ndarray of shape (n_samples, n_neighbors), float32
    """
    return _core.nearest_neighbors(as_float32_matrix(X), int(n_neighbors), metric, method, int(random_state),
                                   num_threads(n_jobs))


_AVERAGE_METHODS = ("min", "geometric", "arithmetic", "max")
# scikit-learn's other names for the metrics the C++ core knows.
_METRIC_ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}


def _as_label_codes(labels, name):
    """Return ``labels`` as a 1-D int64 array that keeps the partition.

    Integer labels pass through unchanged (any values, -1 included); others (strings, floats,
    objects, integers beyond int64) become their index in ``np.unique(labels)``, as
    scikit-learn's ``LabelEncoder`` numbers them.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array (n_samples,), got shape {labels.shape}")
    if labels.dtype.kind in "bi" or (labels.dtype.kind == "u" and labels.dtype.itemsize < 8):
        return np.ascontiguousarray(labels, dtype=np.int64)
    return np.unique(labels, return_inverse=True)[1].astype(np.int64, copy=False).reshape(-1)


def adjusted_rand_score(labels_true, labels_pred):
    """Rand index adjusted for chance (Hubert & Arabie 1985), as :func:`sklearn.metrics.adjusted_rand_score`.

    ``ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))`` over the ordered
    sample pairs (tp: same class and same cluster, fp: same cluster only, fn: same class only,
    tn: neither); 1.0 when fn = fp = 0. Symmetric, invariant to renaming labels, 1.0 for
    identical partitions, about 0.0 for independent ones, at least -0.5. Pair counts are
    exact (128-bit integers); O(n log n).

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference labels: integers (any values; -1 is an ordinary label, not noise) or any
        other hashable, sortable values such as strings.
    labels_pred : array-like of shape (n_samples,)
        Labels to evaluate, same kinds of values.

    Returns
    -------
    float in [-0.5, 1]

    Raises
    ------
    ValueError
        If the labelings are not 1-D, differ in length, or are empty (scikit-learn returns
        1.0 for empty input).
    """
    return _core.adjusted_rand_score(_as_label_codes(labels_true, "labels_true"),
                                     _as_label_codes(labels_pred, "labels_pred"))


def normalized_mutual_info_score(labels_true, labels_pred, *, average_method="arithmetic"):
    """Normalized mutual information, as :func:`sklearn.metrics.normalized_mutual_info_score`.

    ``NMI = MI(U, V) / mean(H(U), H(V))`` with natural logarithms. As scikit-learn: 1.0 when
    neither labeling splits the data (one cluster each), 0.0 when MI = 0 (in particular
    when exactly one of them has a single cluster). Symmetric; O(n log n).

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Reference labels: integers (any values, -1 included) or strings and other sortable values.
    labels_pred : array-like of shape (n_samples,)
        Labels to evaluate.
    average_method : {"min", "geometric", "arithmetic", "max"}, default="arithmetic"
        The mean of the two entropies that normalises MI.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ValueError
        If the labelings are not 1-D, differ in length or are empty, or ``average_method``
        is not one of the four names.
    """
    if average_method not in _AVERAGE_METHODS:
        raise ValueError(f"average_method must be one of {_AVERAGE_METHODS}, got {average_method!r}")
    return _core.normalized_mutual_info_score(_as_label_codes(labels_true, "labels_true"),
                                              _as_label_codes(labels_pred, "labels_pred"), average_method)


def silhouette_samples(X, labels, *, metric="euclidean", n_jobs=None):
    """Silhouette coefficient of every sample (Rousseeuw 1987), as :func:`sklearn.metrics.silhouette_samples`.

    ``s(i) = (b - a) / max(a, b)``, with ``a`` the mean distance from sample i to the other
    members of its cluster and ``b`` the smallest mean distance from i to the members of
    another cluster; 0 for a sample alone in its cluster and where ``a = b = 0``.
    Distances are computed in float64, a row at a time: O(n^2 d) time and O(n) memory per
    thread (no n x n distance matrix). The result does not depend on ``n_jobs``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Converted to float32 (row-major); must be finite.
    labels : array-like of shape (n_samples,)
        Cluster labels: integers (any values; -1 is an ordinary cluster, not noise: drop noise
        points first if they should not count) or strings and other sortable values.
    metric : {"euclidean", "cosine", "correlation", "manhattan"}, default="euclidean"
        Also scikit-learn's aliases "l2", "l1" and "cityblock".
    n_jobs : int, default=None
        Threads; None or -1 = all cores.

    Returns
    -------
    ndarray of shape (n_samples,), float64, values in [-1, 1]

    Raises
    ------
    ValueError
        If the number of distinct labels is not in [2, n_samples - 1], ``labels`` does not
        have n_samples entries, ``X`` is not 2-D or holds NaN/inf, or a row is all zeros
        (cosine) or constant (correlation).
    """
    X = as_float32_matrix(X)
    codes = _as_label_codes(labels, "labels")
    return _core.silhouette_samples(X, codes, _METRIC_ALIASES.get(metric, metric), num_threads(n_jobs))


def silhouette_score(X, labels, *, metric="euclidean", n_jobs=None):
    """Mean silhouette coefficient over all samples, as :func:`sklearn.metrics.silhouette_score`.

    The mean of :func:`silhouette_samples` (no sub-sampling); near 1 for dense, well
    separated clusters, near 0 for overlapping ones, negative for wrong assignments.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)
    metric : {"euclidean", "cosine", "correlation", "manhattan"}, default="euclidean"
    n_jobs : int, default=None

    Returns
    -------
    float in [-1, 1]

    Raises
    ------
    ValueError
        As :func:`silhouette_samples`.
    """
    return float(np.mean(silhouette_samples(X, labels, metric=metric, n_jobs=n_jobs)))
