"""Clustering estimators with scikit-learn's interface."""
import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClusterMixin

from . import _core
from ._validation import as_float32_matrix, as_sample_weight, num_threads


class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-based clustering (Ester, Kriegel, Sander & Xu, KDD 1996), labelled exactly
    as :class:`sklearn.cluster.DBSCAN` labels.

    A point is a core point when the (weighted) number of points within ``eps`` of it,
    itself included, is at least ``min_samples``. Clusters are the connected components of
    core points, numbered in the order of their lowest-index core point; a non-core point
    within ``eps`` of core points joins the lowest-numbered of their clusters, any other
    point is noise (label -1). Neighbourhoods are visited, never stored, so memory stays
    O(n) where scikit-learn stores every neighbourhood.

    Parameters
    ----------
    eps : float, default=0.5
        Neighbourhood radius in the metric's units; inclusive (distance <= eps).
    min_samples : int, default=5
        Neighbours (or their total ``sample_weight``) for a core point, itself counted.
    metric : {"euclidean", "cosine", "precomputed"}, default="euclidean"
        "cosine" is 1 - cosine similarity, in [0, 2]. "precomputed" takes X as a
        (n_samples, n_samples) distance matrix: scipy.sparse (stored entries are the only
        candidate neighbours, e.g. from ``sklearn.neighbors.radius_neighbors_graph``) or dense.
    algorithm : {"auto", "grid", "kdtree", "brute"}, default="auto"
        Neighbour search. "grid" uses cells of side eps/sqrt(d) (Wang, Gu & Shun,
        SIGMOD 2020) and needs 1-4 features; "auto" picks grid for 1-3 features, a KD-tree
        up to 16, brute force beyond. Results do not depend on it.
    n_jobs : int, default=None
        Threads; None or -1 = all cores, -2 = all but one. Results do not depend on it.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,), int32
        Cluster label of each sample, -1 for noise.
    core_sample_indices_ : ndarray of shape (n_core_samples,), int64
        Indices of the core samples.
    components_ : ndarray of shape (n_core_samples, n_features)
        Copy of each core sample (float32), as in scikit-learn.
    n_clusters_ : int
        Number of clusters found.
    algorithm_ : str
        The neighbour search that ran ("grid", "kdtree" or "brute").
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from spatialembed import DBSCAN
    >>> X = np.array([[1, 2], [2, 2], [2, 3], [8, 7], [8, 8], [25, 80]], dtype=np.float32)
    >>> DBSCAN(eps=3, min_samples=2).fit_predict(X)
    array([ 0,  0,  0,  1,  1, -1], dtype=int32)
    """

    def __init__(self, eps=0.5, *, min_samples=5, metric="euclidean", algorithm="auto", n_jobs=None):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def fit(self, X, y=None, sample_weight=None):
        """Cluster ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) if
            ``metric="precomputed"`` (dense or scipy.sparse)
            Converted to C-contiguous float32 (a copy only when needed).
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample towards its neighbours' ``min_samples``; may be negative.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For eps <= 0, min_samples < 1, an unknown metric or algorithm, NaN/inf in X,
            X not 2-D, a sample_weight of the wrong length, or "grid" with > 4 features.
        """
        if not np.isscalar(self.min_samples) or int(self.min_samples) != self.min_samples:
            raise ValueError(f"min_samples must be an integer, got {self.min_samples!r}")
        threads = num_threads(self.n_jobs)
        if self.metric == "precomputed":
            X, labels, core, n_clusters, algorithm = self._fit_precomputed(X, sample_weight, threads)
        else:
            X = as_float32_matrix(X)
            weights = as_sample_weight(sample_weight, X.shape[0])
            labels, core, n_clusters, algorithm = _core.dbscan(
                X, float(self.eps), int(self.min_samples), str(self.metric), str(self.algorithm), threads, weights)
        self.labels_ = labels
        self.core_sample_indices_ = np.flatnonzero(core)
        self.components_ = X[self.core_sample_indices_].copy()
        self.n_clusters_ = int(n_clusters)
        self.algorithm_ = algorithm
        self.n_features_in_ = X.shape[1]
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Cluster ``X`` and return ``labels_`` (see :meth:`fit`)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def _fit_precomputed(self, X, sample_weight, threads):
        if scipy.sparse.issparse(X):
            graph = scipy.sparse.csr_matrix(X)
            if graph.shape[0] != graph.shape[1]:
                raise ValueError(f"a precomputed distance matrix must be square, got shape {graph.shape}")
            indptr, indices, distances = graph.indptr, graph.indices, graph.data
        else:
            graph = np.asarray(X, dtype=np.float64)
            if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
                raise ValueError(f"a precomputed distance matrix must be square, got shape {graph.shape}")
            if not np.isfinite(graph).all():
                raise ValueError("the precomputed distance matrix holds NaN or infinity")
            # Keep the diagonal stored, so that a self-distance above eps excludes the point
            # from its own neighbourhood, as with dense input in scikit-learn.
            keep = (graph <= self.eps) | np.eye(graph.shape[0], dtype=bool)
            rows, indices = np.nonzero(keep)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=graph.shape[0]))])
            distances = graph[rows, indices]
        n = graph.shape[0]
        labels, core, n_clusters, algorithm = _core.dbscan_graph(
            np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
            np.asarray(distances, dtype=np.float64), n, float(self.eps), int(self.min_samples), threads,
            as_sample_weight(sample_weight, n))
        return graph, labels, core, n_clusters, algorithm
