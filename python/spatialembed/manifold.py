"""UMAP with scikit-learn's interface."""
import numbers
import os
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from . import _core
from ._progress import ProgressBar
from ._options import fill
from ._validation import as_float32_matrix, num_threads

_DEFAULTS = _core.UmapOptions()
# Parameters that are C++ UmapOptions fields of the same name and meaning.
_SAME_NAME = ("n_neighbors", "n_components", "min_dist", "spread", "learning_rate", "negative_sample_rate",
              "repulsion_strength", "set_op_mix_ratio", "local_connectivity", "knn_method")


def umap_params(options):
    """The :class:`UMAP` parameters that give the C++ UmapOptions ``options`` (seed and
    num_threads aside)."""
    params = {name: getattr(options, name) for name in _SAME_NAME + ("metric", "init")}
    params["n_epochs"] = options.n_epochs or None
    if not np.isnan(options.a):
        params.update(a=options.a, b=options.b)
    return params


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

    The model is the C++ ``UMAP`` (``spatialembed._core.UMAP``): :meth:`transform`, :meth:`save`,
    :meth:`load` and pickling go through it. Defaults are the C++ ``UmapOptions``'.

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

    def __init__(self, n_neighbors=_DEFAULTS.n_neighbors, n_components=_DEFAULTS.n_components,
                 metric=_DEFAULTS.metric, *, min_dist=_DEFAULTS.min_dist, spread=_DEFAULTS.spread, n_epochs=None,
                 learning_rate=_DEFAULTS.learning_rate, init=_DEFAULTS.init,
                 negative_sample_rate=_DEFAULTS.negative_sample_rate, repulsion_strength=_DEFAULTS.repulsion_strength,
                 set_op_mix_ratio=_DEFAULTS.set_op_mix_ratio, local_connectivity=_DEFAULTS.local_connectivity, a=None,
                 b=None, knn_method=_DEFAULTS.knn_method, precomputed_knn=None, random_state=None, n_jobs=None,
                 verbose=False):
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

    def _options(self):
        """The C++ UmapOptions, filled by name; C++ ``validate()`` raises ValueError for bad values.
        Parameters without a C++ twin map as: n_epochs None -> 0 (auto), a/b None -> NaN (fitted),
        metric "precomputed" -> the distances are given, random_state -> seed, n_jobs -> num_threads."""
        values = {name: getattr(self, name) for name in _SAME_NAME}
        values["metric"] = "euclidean" if self.metric == "precomputed" else self.metric
        values["n_epochs"] = 0 if self.n_epochs is None else self.n_epochs
        values["a"] = float("nan") if self.a is None else self.a
        values["b"] = float("nan") if self.b is None else self.b
        values["num_threads"] = num_threads(self.n_jobs)
        if isinstance(self.random_state, numbers.Integral):
            values["seed"] = int(self.random_state) % 2**64
        else:
            values["seed"] = int(check_random_state(self.random_state).randint(0, 2**63 - 1, dtype=np.int64))
        if isinstance(self.init, str):
            values["init"] = self.init
        options = fill(_core.UmapOptions(), values)
        if not isinstance(self.init, str):
            options.set_init_embedding(as_float32_matrix(self.init, "init"))
        options.validate()
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
        model = _core.UMAP(self._options())
        progress = ProgressBar("UMAP epochs", "epoch") if self.verbose else None
        try:
            if self.metric == "precomputed" or self.precomputed_knn is not None:
                indices, dists, data = self._knn(X)
                model.fit_knn(indices, dists, data, progress)
            else:
                model.fit(as_float32_matrix(X), progress)
        finally:
            if progress is not None:
                progress.close()
        self._model = model  # the C++ UMAP: transform, save, pickling (its own serialisation)
        self._set_fitted(model)
        self.n_features_in_ = np.shape(X)[1]
        if model.spectral_fell_back:
            warnings.warn("spectral initialisation failed; the layout started from random coordinates")
        return self

    def _set_fitted(self, model):
        self.embedding_ = model.embedding
        indptr, indices, values, shape = model.graph
        self.graph_ = scipy.sparse.csr_matrix((values, indices, indptr), shape=shape)
        self.n_epochs_ = model.n_epochs

    def _knn(self, X):
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
        return np.ascontiguousarray(indices, dtype=np.int32), np.ascontiguousarray(dists, dtype=np.float32), data

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
        self._model.options.num_threads = num_threads(self.n_jobs)
        return self._model.transform(as_float32_matrix(X))

    def save(self, path, *, overwrite=False):
        """Write the fitted model (options, curve parameters, training data, embedding) to a
        binary file that :meth:`load` and the C++ ``UMAP::load`` read. Refuses to overwrite an
        existing file unless ``overwrite``. Raises OSError."""
        if not hasattr(self, "_model"):
            raise AttributeError("this UMAP instance is not fitted yet; call fit first")
        self._model.save(os.fspath(path), bool(overwrite))

    @classmethod
    def load(cls, path):
        """A fitted UMAP from :meth:`save` (or C++ ``UMAP::save``); ``graph_`` is not stored
        (None). Raises OSError, or ValueError naming the file and byte offset when it is corrupt."""
        model = _core.UMAP.load(os.fspath(path))
        est = cls(**umap_params(model.options), random_state=model.options.seed)
        est._model = model
        est.embedding_ = model.embedding
        est.graph_ = None
        est.n_epochs_ = model.n_epochs
        est.n_features_in_ = model.n_features
        return est
