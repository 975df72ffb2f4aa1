"""UMAP with scikit-learn's interface."""
import numbers
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from . import _core
from ._progress import ProgressBar
from ._validation import as_float32_matrix, num_threads


class UMAP(TransformerMixin, BaseEstimator):
    """Uniform Manifold Approximation and Projection (McInnes, Healy & Melville 2018,
    arXiv:1802.03426), computed as umap-learn 0.5 computes it, in C++.

    The output is bit-identical for a given ``random_state`` whatever ``n_jobs`` is: the
    layout updates each point from its own edges against the previous epoch's positions
    and draws negative samples from per-point random streams (umap-learn is reproducible
    only single-threaded).

    Parameters
    ----------
    n_neighbors : int, default=15
        Neighbours per point, the point itself included; ``2 <= n_neighbors < n_samples``.
    n_components : int, default=2
        Output dimensions.
    metric : {"euclidean", "cosine", "correlation", "manhattan", "precomputed"}, default="euclidean"
        Input distance. "precomputed": ``X`` is a dense (n_samples, n_samples) distance matrix.
    min_dist : float, default=0.1
        Output distance at which similarity starts to fall, in ``[0, spread]``.
    spread : float, default=1.0
        Output scale of the similarity curve.
    n_epochs : int, default=None
        Layout epochs; None = 500 for up to 10,000 points, else 200.
    learning_rate : float, default=1.0
        Initial SGD step.
    init : {"spectral", "pca", "random"} or ndarray of shape (n_samples, n_components), default="spectral"
    negative_sample_rate : float, default=5
    repulsion_strength : float, default=1.0
    set_op_mix_ratio : float, default=1.0
        1 = fuzzy union of the directed memberships, 0 = intersection.
    local_connectivity : float, default=1.0
    a, b : float, default=None
        Output curve parameters; fitted from ``min_dist`` and ``spread`` when None.
    knn_method : {"auto", "exact", "nn_descent"}, default="auto"
        "auto": exact below 4,096 points, NN-descent above (umap-learn's switch).
    precomputed_knn : tuple (indices, distances) of arrays (n_samples, k), default=None
        A kNN graph of the data (each row's first neighbour the point itself), k >= n_neighbors.
    random_state : int, RandomState or None, default=None
    n_jobs : int, default=None
        Threads; None or -1 = all cores.
    verbose : bool, default=False
        Show a progress bar over the epochs (tqdm).

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components), float32
    graph_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples), float32
        The fuzzy simplicial set.
    n_features_in_ : int

    Raises
    ------
    ValueError
        From ``fit`` for invalid parameters, fewer than 2 samples, n_neighbors >= n_samples,
        NaN/inf in X, all-zero rows (cosine) or constant rows (correlation).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from spatialembed import UMAP
    >>> X = load_digits().data
    >>> UMAP(n_components=3, random_state=0).fit_transform(X).shape
    (1797, 3)
    """

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", *, min_dist=0.1, spread=1.0,
                 n_epochs=None, learning_rate=1.0, init="spectral", negative_sample_rate=5, repulsion_strength=1.0,
                 set_op_mix_ratio=1.0, local_connectivity=1.0, a=None, b=None, knn_method="auto",
                 precomputed_knn=None, random_state=None, n_jobs=None, verbose=False):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.metric = metric
        self.min_dist = min_dist
        self.spread = spread
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.negative_sample_rate = negative_sample_rate
        self.repulsion_strength = repulsion_strength
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.a = a
        self.b = b
        self.knn_method = knn_method
        self.precomputed_knn = precomputed_knn
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _options(self, a=None, b=None):
        for name in ("n_neighbors", "n_components"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.n_epochs is not None and (not isinstance(self.n_epochs, numbers.Integral) or self.n_epochs < 1):
            raise ValueError(f"n_epochs must be a positive integer or None, got {self.n_epochs!r}")
        options = _core.UmapOptions()
        options.n_neighbors = int(self.n_neighbors)
        options.n_components = int(self.n_components)
        options.metric = "euclidean" if self.metric == "precomputed" else str(self.metric)
        options.min_dist = float(self.min_dist)
        options.spread = float(self.spread)
        options.n_epochs = 0 if self.n_epochs is None else int(self.n_epochs)
        options.learning_rate = float(self.learning_rate)
        options.negative_sample_rate = float(self.negative_sample_rate)
        options.repulsion_strength = float(self.repulsion_strength)
        options.set_op_mix_ratio = float(self.set_op_mix_ratio)
        options.local_connectivity = float(self.local_connectivity)
        a = self.a if a is None else a
        b = self.b if b is None else b
        options.a = float("nan") if a is None else float(a)
        options.b = float("nan") if b is None else float(b)
        options.knn_method = str(self.knn_method)
        options.num_threads = num_threads(self.n_jobs)
        if isinstance(self.random_state, numbers.Integral):
            options.seed = int(self.random_state) % 2**64
        else:
            options.seed = int(check_random_state(self.random_state).randint(0, 2**63 - 1, dtype=np.int64))
        return options

    def fit(self, X, y=None):
        """Fit the embedding of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Converted to C-contiguous float32 (a copy only when needed); with
            ``metric="precomputed"`` a (n_samples, n_samples) distance matrix.
        y : ignored

        Returns
        -------
        self
        """
        options = self._options()
        if isinstance(self.init, str):
            options.init = self.init
        else:
            options.set_init_embedding(as_float32_matrix(self.init, "init"))
        progress = ProgressBar("UMAP epochs", "epoch") if self.verbose else None
        try:
            if self.metric == "precomputed" or self.precomputed_knn is not None:
                data, result = self._fit_knn(X, options, progress)
            else:
                data = as_float32_matrix(X)
                result = _core.umap_fit(data, options, progress)
        finally:
            if progress is not None:
                progress.close()
        embedding, (indptr, indices, values, shape), self._a, self._b, self.n_epochs_, fell_back = result
        self.embedding_ = embedding
        self.graph_ = scipy.sparse.csr_matrix((values, indices, indptr), shape=shape)
        self.n_features_in_ = np.shape(X)[1]
        self._raw_data = data  # for transform; None with precomputed distances
        if fell_back:
            warnings.warn("spectral initialisation failed; the layout started from random coordinates")
        return self

    def _fit_knn(self, X, options, progress):
        if self.precomputed_knn is not None:
            indices, dists = self.precomputed_knn[:2]
            data = None if self.metric == "precomputed" or X is None else as_float32_matrix(X)
        else:
            D = np.asarray(X, dtype=np.float32)
            if D.ndim != 2 or D.shape[0] != D.shape[1]:
                raise ValueError(f"a precomputed distance matrix must be square, got shape {D.shape}")
            if not np.isfinite(D).all() or (D < 0).any():
                raise ValueError("the precomputed distance matrix must be finite and >= 0")
            k = min(int(self.n_neighbors), D.shape[0])
            D = D.copy()
            np.fill_diagonal(D, -1.0)  # each point first, as umap-learn's graph has it
            indices = np.argsort(D, axis=1, kind="stable")[:, :k]
            dists = np.take_along_axis(D, indices, axis=1)
            dists[:, 0] = 0.0
            data = None
        indices = np.ascontiguousarray(indices, dtype=np.int32)
        dists = np.ascontiguousarray(dists, dtype=np.float32)
        return data, _core.umap_fit_knn(indices, dists, options, data, progress)

    def fit_transform(self, X, y=None):
        """Fit and return ``embedding_``, of shape (n_samples, n_components), float32."""
        return self.fit(X).embedding_

    def transform(self, X):
        """Embed new points into the fitted space, as umap-learn's ``transform`` does.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features)

        Returns
        -------
        ndarray of shape (n_new, n_components), float32
        """
        if not hasattr(self, "embedding_"):
            raise AttributeError("this UMAP instance is not fitted yet; call fit first")
        if self._raw_data is None:
            raise ValueError("transform needs the training data; it is unavailable with precomputed distances")
        options = self._options(a=self._a, b=self._b)
        return _core.umap_transform(self._raw_data, self.embedding_, as_float32_matrix(X), options)
