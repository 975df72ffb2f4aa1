"""Clustering estimators with scikit-learn's interface."""
import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClusterMixin

from . import _core
from ._options import fill
from ._validation import as_float32_matrix, as_sample_weight, num_threads

_DBSCAN_DEFAULTS = _core.DbscanOptions()


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

    def __init__(self, eps=_DBSCAN_DEFAULTS.eps, *, min_samples=_DBSCAN_DEFAULTS.min_samples,
                 metric=_DBSCAN_DEFAULTS.metric, algorithm=_DBSCAN_DEFAULTS.algorithm, n_jobs=None):
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
        precomputed = self.metric == "precomputed"
        options = fill(_core.DbscanOptions(), dict(
            eps=self.eps, min_samples=self.min_samples, metric="euclidean" if precomputed else self.metric,
            algorithm="auto" if precomputed else self.algorithm, num_threads=num_threads(self.n_jobs)))
        options.validate()
        if precomputed:
            X, labels, core, n_clusters, algorithm = self._fit_precomputed(X, sample_weight, options)
        else:
            X = as_float32_matrix(X)
            weights = as_sample_weight(sample_weight, X.shape[0])
            labels, core, n_clusters, algorithm = _core.dbscan(X, options, weights)
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

    def _fit_precomputed(self, X, sample_weight, options):
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
            np.asarray(distances, dtype=np.float64), n, options, as_sample_weight(sample_weight, n))
        return graph, labels, core, n_clusters, algorithm


_HDBSCAN_DEFAULTS = _core.HdbscanOptions()


class HDBSCAN(ClusterMixin, BaseEstimator):
    """Hierarchical density-based clustering: HDBSCAN* (Campello, Moulavi & Sander, PAKDD
    2013; McInnes & Healy, ICDMW 2017), with the parameters and flat-clustering rules of
    :class:`sklearn.cluster.HDBSCAN` (scikit-learn 1.3), in C++.

    The core distance of a point is the distance to its ``min_samples``-th nearest point,
    itself counted first; the mutual reachability of two points is
    ``max(core(a), core(b), d(a, b) / alpha)``. The minimum spanning tree of that graph
    (ties broken by (distance, lower index, higher index), which makes it unique), its
    single-linkage tree, the tree condensed with ``min_cluster_size`` and the excess-of-mass
    or leaf selection give the clusters. No ``eps`` is needed. Results are identical for any
    ``n_jobs`` and ``algorithm``.

    Parameters
    ----------
    min_cluster_size : int, default=5
        Smallest number of points that counts as a cluster; >= 2.
    min_samples : int, default=None
        Neighbours that define the core distance, the point itself counted; None =
        ``min_cluster_size``. At most the number of samples.
    cluster_selection_epsilon : float, default=0.0
        Distance (metric units) below which clusters are not split: a selected cluster born
        below it is replaced by its ancestor that exists at this distance.
    max_cluster_size : int, default=None
        ``"eom"`` only: clusters with more points are never selected (their children are).
        None (or 0) = no limit.
    metric : {"euclidean", "cosine", "correlation", "manhattan"}, default="euclidean"
    alpha : float, default=1.0
        Distance scaling of robust single linkage; > 0.
    algorithm : {"auto", "brute", "kdtree"}, default="auto"
        Spanning-tree algorithm: Prim over all pairs (O(n^2) time, O(n) memory) or Borůvka
        with a KD-tree; "auto" = kdtree up to 16 features. Results do not depend on it.
    cluster_selection_method : {"eom", "leaf"}, default="eom"
        Excess of mass (the most stable non-nested clusters) or the condensed tree's leaves.
    allow_single_cluster : bool, default=False
        Allow the root (all points) to be the one cluster.
    n_jobs : int, default=None
        Threads; None or -1 = all cores. Results do not depend on it.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,), int32
        Cluster labels, -1 = noise. Clusters are numbered in increasing condensed-tree node
        id (breadth-first from the root), as scikit-learn numbers them.
    probabilities_ : ndarray of shape (n_samples,), float64
        Membership strength in [0, 1]; 0 for noise.
    n_clusters_ : int
    condensed_tree_ : numpy structured array with fields parent, child, lambda_val, child_size
        As the hdbscan library's ``condensed_tree_.to_numpy()``: each row says that ``child``
        (a point < n_samples, or a cluster node >= n_samples) left cluster ``parent`` at
        lambda = 1 / distance. Node n_samples is the root.
    single_linkage_tree_ : ndarray of shape (n_samples - 1, 4), float64
        SciPy linkage matrix (left, right, distance, size) of the mutual-reachability graph.
    cluster_nodes_ : ndarray of shape (n_clusters_,), int64
        Condensed-tree node of each label.
    core_distances_ : ndarray of shape (n_samples,), float64
    algorithm_ : str
        The spanning-tree algorithm that ran.
    n_features_in_ : int

    Raises
    ------
    ValueError
        From ``fit``: min_cluster_size < 2, min_samples larger than the number of samples,
        a negative cluster_selection_epsilon, alpha <= 0, an unknown metric, algorithm or
        selection method, NaN or infinity in X, X not 2-D.

    Examples
    --------
    >>> import numpy as np
    >>> from spatialembed import HDBSCAN
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]], dtype=np.float32)
    >>> HDBSCAN(min_cluster_size=3, min_samples=2).fit_predict(X)
    array([0, 0, 0, 1, 1, 1], dtype=int32)
    """

    def __init__(self, min_cluster_size=_HDBSCAN_DEFAULTS.min_cluster_size, min_samples=None,
                 cluster_selection_epsilon=_HDBSCAN_DEFAULTS.cluster_selection_epsilon, max_cluster_size=None,
                 metric=_HDBSCAN_DEFAULTS.metric, alpha=_HDBSCAN_DEFAULTS.alpha,
                 algorithm=_HDBSCAN_DEFAULTS.algorithm,
                 cluster_selection_method=_HDBSCAN_DEFAULTS.cluster_selection_method,
                 allow_single_cluster=_HDBSCAN_DEFAULTS.allow_single_cluster, n_jobs=None):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.max_cluster_size = max_cluster_size
        self.metric = metric
        self.alpha = alpha
        self.algorithm = algorithm
        self.cluster_selection_method = cluster_selection_method
        self.allow_single_cluster = allow_single_cluster
        self.n_jobs = n_jobs

    def _options(self):
        options = _core.HdbscanOptions()
        values = {name: getattr(self, name) for name in (
            "min_cluster_size", "cluster_selection_epsilon", "metric", "alpha", "algorithm",
            "cluster_selection_method", "allow_single_cluster")}
        values["min_samples"] = 0 if self.min_samples is None else self.min_samples
        values["max_cluster_size"] = 0 if self.max_cluster_size is None else self.max_cluster_size
        values["num_threads"] = num_threads(self.n_jobs)
        return fill(options, values)

    def fit(self, X, y=None):
        """Cluster ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Converted to C-contiguous float32 (a copy only when needed); distances are
            computed in float64.
        y : ignored

        Returns
        -------
        self
        """
        options = self._options()
        X = as_float32_matrix(X)
        result = _core.hdbscan_fit(X, options)
        tree = result.condensed_tree
        self.labels_ = np.array(result.labels)
        self.probabilities_ = np.array(result.probabilities)
        self.n_clusters_ = int(result.n_clusters)
        condensed = np.empty(len(tree), dtype=[("parent", np.int64), ("child", np.int64), ("lambda_val", np.float64),
                                              ("child_size", np.int64)])
        for name in condensed.dtype.names:
            condensed[name] = getattr(tree, name)
        self.condensed_tree_ = condensed
        slt = result.single_linkage_tree
        self.single_linkage_tree_ = np.column_stack([slt.left, slt.right, slt.distance, slt.size]).astype(np.float64)
        self.cluster_nodes_ = np.array(result.cluster_nodes)
        self.core_distances_ = np.array(result.core_distances)
        self.algorithm_ = result.algorithm
        self.n_features_in_ = X.shape[1]
        return self

    def fit_predict(self, X, y=None):
        """Cluster ``X`` and return ``labels_`` (see :meth:`fit`)."""
        return self.fit(X).labels_
