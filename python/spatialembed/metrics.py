"""Embedding quality and neighbour-search accuracy."""
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
