"""Ion-image clustering pipelines (NN-based and UMAP-only) with scikit-learn's interface."""
import numbers
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, clone

from . import _core
from ._options import fields, fill, struct_params, struct_values, to_dict
from ._result import IonImageClusteringResult
from ._validation import num_threads
from .cluster import HDBSCAN
from .manifold import UMAP, umap_params
from .msi import IonImageStack, ion_image_options, png_stack_options, preprocess_options

__all__ = ["IonImageClustering", "IonImageClusteringResult", "PreparedIonImages", "default_embedder"]

_DEFAULTS = _core.IonImageClusteringOptions()  # the C++ defaults, read once
_PREPROCESS_DEFAULTS = _core.PreprocessOptions()
# The Embedder's own clipping, off: the pipeline hands it images it has clipped already
# (spikes, hotspots; the quantile's pixel set then does not matter).
_ALREADY_CLIPPED = {"remove_spikes": False, "hotspot_quantile": 1.0, "hotspot_ignore_zeros": True}
_ION_IMAGES = _core.IonImageOptions()


#: The pooling of the default :class:`Embedder` of ``method="nn"`` (chosen by
#: bench/ion_features/study.py, docs/results.md: with ``feature_set="cnn*pixels"`` the pixel
#: view carries where a structure sits, and the paper's global average does best).
DEFAULT_POOLING = "avg"


def default_umap():
    """The UMAP the pipelines use unless given one: C++ ``IonImageClusteringOptions::default_umap()``
    (3-D as Zhang et al. 2021, ``min_dist=0`` for tight clusters, ``metric="cosine"`` chosen by
    bench/ion_features/study.py; :meth:`IonImageClustering.paper` uses the paper's euclidean)."""
    return UMAP(**umap_params(_core.IonImageClusteringOptions.default_umap()))


def default_embedder():
    """The :class:`Embedder` of ``method="nn"`` unless given one: ResNet-50 (fetched ImageNet
    weights) with ``pooling=DEFAULT_POOLING``."""
    from .nn import Embedder
    return Embedder(pooling=DEFAULT_POOLING)


class PreparedIonImages:
    """Ion images preprocessed once for :class:`IonImageClustering`, held by C++.

    Preprocessing (TIC normalisation, hotspot clipping, median filter, scaling to [0, 1]) runs
    in place on the stack's own memory, then the images that came out all zero are left out
    by moving the others to the front of the same buffer. Any number of runs (both methods,
    other UMAP/DBSCAN settings) read this one copy: ``IonImageClustering(...).fit(prepared)``.
    Python sees it through read-only NumPy views that keep it alive, never a second copy.

    Build it with :meth:`from_png_dir` (the PNGs are decoded in C++ straight into the buffer:
    the only copy of the images there is) or from an :class:`IonImageStack` or array (one
    copy, then the input may be dropped); or with :meth:`IonImageClustering.prepare`.

    Parameters
    ----------
    X : IonImageStack or array-like of shape (n_images, height, width)
        An array is taken as every pixel measured, m/z = 0, 1, 2, ….
    **preprocess
        Any field of the C++ ``PreprocessOptions`` by name (``tic_normalize``,
        ``hotspot_quantile``, ``median_filter``, ``scale``; defaults from C++), as
        :class:`IonImageClustering`'s; a run checks that its own are the same.
    n_jobs : int, optional
    progress : callable (stage, done, total), optional

    Attributes
    ----------
    images : ndarray of shape (n_kept, height, width), float32, read-only
        The non-empty images, preprocessed, in input order (a view of the C++ buffer).
    kept : ndarray of shape (n_kept,), int64
        Input index of each row of ``images``.
    mz : ndarray of shape (n_images,), float64, read-only
        m/z of every input image.
    empty : ndarray of shape (n_images,), bool, read-only
        Input images that were all zero after preprocessing (left out).
    mean_intensity : ndarray of shape (n_images,), float64, read-only
        Each input image's mean over the measured pixels *before* preprocessing.
    mask : ndarray of shape (height, width), bool, read-only
    pixel_size, origin : tuple
    preprocess : dict
        The preprocessing applied: every PreprocessOptions field but num_threads.
    seconds : float
        Wall time of the preparation.
    nbytes : int
        Bytes of the image buffer.

    Raises
    ------
    ValueError
        NaN/inf in a measured pixel; every image empty; inconsistent shapes.
    OSError
        (from_png_dir) the folder cannot be read.
    """

    def __init__(self, X, *, n_jobs=None, progress=None, **preprocess):
        if isinstance(X, _core.PreparedIonImages):
            self._p = X
            return
        options = preprocess_options(n_jobs, **preprocess)
        stack = X if isinstance(X, IonImageStack) else IonImageStack(np.asarray(X, dtype=np.float32))
        (px, py), (ox, oy) = stack.pixel_size, stack.origin
        self._p = _core.PreparedIonImages.from_arrays(
            stack.images, stack.mask, stack.mz, float(px), float(py), int(ox), int(oy), options, progress)

    @classmethod
    def from_png_dir(cls, path, *, n_jobs=None, progress=None, max_image_pixels=None, **preprocess):
        """Read a folder of ``<m/z>.png`` ion images (as :meth:`IonImageStack.from_png_dir`,
        with its ``max_image_pixels``) and prepare them, in C++ and without a second copy:
        peak memory ≈ the stack (n_images × height × width × 4 bytes) plus O(n_images + height·width)."""
        options = preprocess_options(n_jobs, **preprocess)
        return cls(_core.PreparedIonImages.from_png_dir(os.fspath(path), options, progress,
                                                        png_stack_options(max_image_pixels)))

    @classmethod
    def from_imzml(cls, reader, mz, *, tol_ppm=None, tol_da=None, aggregate=_ION_IMAGES.aggregate,
                   normalization=_ION_IMAGES.normalization,
                   n_jobs=None, progress=None, **preprocess):
        """Cut the ion images of ``mz`` from an imzML dataset (as :meth:`IonImageStack.from_imzml`)
        and prepare them, in C++ and without a second copy: peak memory ≈ the stack plus one
        spectrum per thread. ``reader`` is an :class:`ImzMLReader` or a path. An m/z outside
        the data gives an empty image and a ``UserWarning``."""
        from .msi import ImzMLReader
        options = preprocess_options(n_jobs, **preprocess)
        cut = ion_image_options(tol_ppm, tol_da, aggregate, normalization, n_jobs)
        reader = reader if isinstance(reader, ImzMLReader) else ImzMLReader(reader)
        mz = np.ascontiguousarray(np.atleast_1d(np.asarray(mz, dtype=np.float64)))
        core, messages = _core.PreparedIonImages.from_imzml(reader._r, mz, cut, options, progress)
        for message in messages:
            warnings.warn(message, UserWarning, stacklevel=2)
        return cls(core)

    images = property(lambda self: self._p.images)
    mask = property(lambda self: self._p.mask)
    mz = property(lambda self: self._p.mz)
    empty = property(lambda self: self._p.empty)
    mean_intensity = property(lambda self: self._p.mean_intensity)
    kept = property(lambda self: self._p.kept)
    pixel_size = property(lambda self: self._p.pixel_size)
    origin = property(lambda self: self._p.origin)
    preprocess = property(lambda self: to_dict(self._p.preprocess, exclude=("num_threads",)))
    seconds = property(lambda self: self._p.seconds)
    nbytes = property(lambda self: self._p.nbytes)

    @property
    def n_images(self):
        return len(self._p.mz)

    @property
    def shape(self):
        """(n_images, height, width) of the input."""
        return (self.n_images,) + self._p.mask.shape

    def __len__(self):
        return self.n_images

    def image(self, k):
        """Input image ``k`` preprocessed: a read-only (height, width) view, or zeros if it was empty."""
        k = int(k)
        if not -self.n_images <= k < self.n_images:
            raise IndexError(f"image {k} out of range for {self.n_images} ion images")
        k %= self.n_images
        kept = self._p.kept
        i = int(np.searchsorted(kept, k))
        if i < len(kept) and kept[i] == k:
            return self._p.images[i]
        return np.zeros(self._p.mask.shape, np.float32)

    def __repr__(self):
        n, h, w = self.shape
        return (f"PreparedIonImages({n} images of {h} x {w} pixels, {len(self.kept)} non-empty, "
                f"{self.nbytes / 2**30:.2f} GiB)")


@struct_params(_core.PreprocessOptions, exclude=("num_threads",))
class IonImageClustering(ClusterMixin, BaseEstimator):
    """Groups the ion images of one MSI section by shared spatial structure.

    Zhang, Claesen, Moerman, Groseclose, Waelkens, De Moor & Verbeeck, *Anal Bioanal Chem*
    413:2803 (2021). Two pipelines, both run in C++ from the public components:

    - ``method="nn"``: preprocess → CNN features of each ion image (:class:`Embedder`,
      ImageNet ResNet-50 by default, 2048-d) → :class:`UMAP` to 3-D → :class:`DBSCAN`;
    - ``method="umap_only"`` (the paper's baseline): preprocess → the raw ion-image vectors
      (measured pixels) → UMAP to 3-D → DBSCAN.

    Either pipeline can end in :class:`HDBSCAN` (the default: no eps to choose, the condensed
    tree kept in ``result_.condensed_tree``) or :class:`DBSCAN` (the paper).

    The defaults — HDBSCAN, ResNet-50 with global average pooling (:func:`default_embedder`),
    and the UMAP graphs of the CNN features and of the pixels intersected
    (``feature_set="cnn*pixels"``, ``pixel_weight=0.5``) — were chosen by
    bench/ion_features/study.py (simulated tissue with ground truth, GRINE groupings, isotopes;
    docs/results.md). :meth:`paper` gives the published configuration (CNN features only,
    DBSCAN).

    Ion images that are all zero after preprocessing (empty or constant) are not clustered
    and get label −1.

    Parameters
    ----------
    method : {"nn", "umap_only"}, default="nn"
    clusterer : {"hdbscan", "dbscan"}, default="hdbscan"
        The clustering of the UMAP coordinates: HDBSCAN (``hdbscan``; no eps) or DBSCAN (the
        paper; ``eps``, ``min_samples``, ``dbscan_algorithm``).
    hdbscan : HDBSCAN, default=None
        The HDBSCAN settings of ``clusterer="hdbscan"``; None = ``HDBSCAN()`` (scikit-learn's
        defaults, min_cluster_size=5). Its ``metric`` (euclidean in the UMAP space) and
        ``n_jobs`` are replaced by this estimator's.
    feature_set : {"cnn*pixels", "cnn+pixels", "cnn"}, default="cnn*pixels"
        What UMAP sees in ``method="nn"``: per image the CNN features and the preprocessed
        measured pixels, each L2-normalised, concatenated (``[f / |f|, pixel_weight * x / |x|]``);
        or two views, one graph (``"cnn*pixels"``): UMAP's fuzzy kNN graph of the CNN features
        intersected with the one of the pixels (the ``umap_only`` input), as umap-learn's
        ``model_a * model_b`` composes two models, so images are neighbours only where both
        views agree; or the CNN features alone (the paper).
    pixel_weight : float, default=0.5
        Weight of the pixels against the CNN features (>= 0): of the pixel part for
        ``"cnn+pixels"``; for ``"cnn*pixels"`` the exponent ratio of the intersection
        (umap-learn's mix weight ``pixel_weight / (1 + pixel_weight)``; memberships
        ``mu_cnn * mu_pixels ** 0.5`` at 0.5, ``mu_cnn * mu_pixels`` at 1).
    embedder : Embedder, default=None
        The feature extractor of ``method="nn"``; None = :func:`default_embedder`
        (ResNet-50 with the fetched ImageNet weights, ``pooling="avg"``). Its
        ``remove_spikes``, ``hotspot_quantile`` and ``hotspot_ignore_zeros`` are ignored: images
        arrive clipped.
    umap : UMAP, default=None
        The reduction; None = ``UMAP(n_components=3, min_dist=0.0, metric="cosine")``. Its ``random_state`` and
        ``n_jobs`` are replaced by this estimator's.
    eps : float, default=None
        DBSCAN radius in the UMAP space; None = the knee of the k-distance curve
        (k = ``min_samples``, :func:`k_distance_knee`), reported as ``result_.params["eps"]``.
    min_samples : int, default=5
        DBSCAN core-point threshold (the image itself counted).
    dbscan_algorithm : {"auto", "grid", "kdtree", "brute"}, default="auto"
    tic_normalize : bool, default=False
        Divide each pixel by its sum over the ion images first.
    remove_spikes : bool, default=True
        Clip each measured pixel to the largest of its measured 8-neighbours: removes
        single-pixel hotspots, which the quantile clip misses in sparse images.
    hotspot_quantile : float, default=0.99
        Clip each ion image at this quantile of its measured pixels (1 = off).
    hotspot_ignore_zeros : bool, default=True
        Take that quantile over the non-zero measured pixels (METASPACE's convention); False
        takes it over all of them (the paper), which clips an ion present in under 1 % of the
        pixels to 0, so its image is dropped as empty.
    median_filter : int, default=0
        Side of a median filter applied to each image (odd >= 3; 0 = off).
    scale : bool, default=True
        Min-max scale each image to [0, 1]. This and every other field of the C++
        ``PreprocessOptions`` (docs/msi.md) is a keyword parameter, with the C++ default.
    isotope_tolerance : float, default=10.0
        Tolerance of the isotope spacing (1.00336 Da) when pairing ion images for the
        isotope co-clustering score, in ``isotope_unit``.
    isotope_unit : {"ppm", "da"}, default="ppm"
    max_charge : int, default=1
        Isotope spacings 1.00336 / z for z = 1 … max_charge.
    random_state : int, default=0
        Seed of UMAP; same seed ⇒ same result whatever ``n_jobs`` is.
    n_jobs : int, default=None
        Threads (None or -1 = all cores).
    verbose : bool, default=False
        A progress bar per stage (tqdm).

    Attributes
    ----------
    result_ : IonImageClusteringResult
        Everything the run found (labels, embedding, features, cluster mean images, members,
        parameters, timings, evaluation).
    labels_ : ndarray of shape (n_images,), int64
    embedding_ : ndarray of shape (n_images, 3), float32
    features_ : ndarray of shape (n_images, D), float32, or None (umap_only)

    Every default is the C++ ``IonImageClusteringOptions``' (read from the bound struct); every
    check is C++ ``validate()``'s.

    Raises
    ------
    ValueError
        Invalid parameters (naming the field); NaN/inf in a measured pixel; no non-empty ion image; fewer
        non-empty ion images than UMAP's ``n_neighbors`` needs.
    OSError
        Missing CNN weights (the message says how to fetch them).

    Examples
    --------
    >>> from spatialembed import IonImageClustering, IonImageStack        # doctest: +SKIP
    >>> stack = IonImageStack.from_png_dir("mouse_bladder_png")
    >>> model = IonImageClustering(method="nn").fit(stack)
    >>> model.result_.evaluation["n_clusters"], model.result_.params["eps"]
    """

    def __init__(self, method=_DEFAULTS.method, *, embedder=None, umap=None, clusterer=_DEFAULTS.clusterer,
                 hdbscan=None, eps=None, min_samples=_DEFAULTS.dbscan.min_samples,
                 dbscan_algorithm=_DEFAULTS.dbscan.algorithm, tic_normalize=_PREPROCESS_DEFAULTS.tic_normalize,
                 hotspot_quantile=_PREPROCESS_DEFAULTS.hotspot_quantile,
                 median_filter=_PREPROCESS_DEFAULTS.median_filter, isotope_tolerance=_DEFAULTS.isotopes.tolerance,
                 isotope_unit=_DEFAULTS.isotopes.unit, max_charge=_DEFAULTS.isotopes.max_charge,
                 random_state=_DEFAULTS.seed, n_jobs=None, verbose=False, feature_set=_DEFAULTS.feature_set,
                 pixel_weight=_DEFAULTS.pixel_weight):
        self.method = method
        self.feature_set = feature_set
        self.pixel_weight = pixel_weight
        self.clusterer = clusterer
        self.hdbscan = hdbscan
        self.embedder = embedder
        self.umap = umap
        self.eps = eps
        self.min_samples = min_samples
        self.dbscan_algorithm = dbscan_algorithm
        self.tic_normalize = tic_normalize
        self.hotspot_quantile = hotspot_quantile
        self.median_filter = median_filter
        self.isotope_tolerance = isotope_tolerance
        self.isotope_unit = isotope_unit
        self.max_charge = max_charge
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @classmethod
    def paper(cls, **params):
        """The faithful configuration of Zhang et al. (2021), C++ ``IonImageClusteringOptions::paper()``:
        hotspot clip at the 0.99 quantile of all measured pixels without spike removal,
        ``method="nn"``, ResNet-50 with global average pooling (``Embedder(pooling="avg")``),
        ``feature_set="cnn"``, UMAP 3-D (``min_dist=0``) on euclidean distances, DBSCAN with
        ``min_samples=5`` and eps at the k-distance knee. ``params`` override any of these (e.g.
        ``random_state``)."""
        from .nn import Embedder
        paper = _core.IonImageClusteringOptions.paper()
        settings = dict(to_dict(paper.preprocess, exclude=("num_threads",)), method=paper.method,
                        embedder=Embedder(pooling="avg"), feature_set=paper.feature_set,
                        clusterer=paper.clusterer, umap=UMAP(**umap_params(paper.umap)), eps=None,
                        min_samples=paper.dbscan.min_samples)
        settings.update(params)
        return cls(**settings)

    def _preprocess(self):
        """This estimator's C++ PreprocessOptions: one parameter per field (num_threads from n_jobs)."""
        return preprocess_options(self.n_jobs, **struct_values(self, _core.PreprocessOptions, exclude=("num_threads",)))

    def _options(self):
        """The C++ IonImageClusteringOptions, filled by name (checks are C++ ``validate()``'s)."""
        o = _core.IonImageClusteringOptions()
        seed = self.random_state % 2**64 if isinstance(self.random_state, numbers.Integral) else self.random_state
        fill(o, dict(method=self.method, feature_set=self.feature_set, pixel_weight=self.pixel_weight,
                     clusterer=self.clusterer, eps_auto=self.eps is None, seed=seed,
                     num_threads=num_threads(self.n_jobs)))
        o.preprocess = self._preprocess()
        o.umap = self._umap_options()
        fill(o.dbscan, dict(min_samples=self.min_samples, algorithm=self.dbscan_algorithm,
                            **({} if self.eps is None else {"eps": self.eps})), prefix="dbscan.")
        o.hdbscan = self._hdbscan_options()
        fill(o.isotopes, dict(tolerance=self.isotope_tolerance, unit=self.isotope_unit, max_charge=self.max_charge),
             prefix="isotope ")
        return o

    def _umap_options(self):
        umap = default_umap() if self.umap is None else self.umap
        if not isinstance(umap, UMAP):
            raise ValueError(f"umap must be a spatialembed.UMAP, got {type(umap).__name__}")
        if umap.metric == "precomputed" or not isinstance(umap.init, str):
            raise ValueError("umap: the pipeline computes its own input; metric='precomputed' and array init "
                             "are not available here")
        return umap._options()

    def _hdbscan_options(self):
        hdbscan = HDBSCAN() if self.hdbscan is None else self.hdbscan
        if not isinstance(hdbscan, HDBSCAN):
            raise ValueError(f"hdbscan must be a spatialembed.HDBSCAN, got {type(hdbscan).__name__}")
        return hdbscan._options()

    def _features(self):
        if self.method != "nn":
            return None
        embedder = default_embedder() if self.embedder is None else clone(self.embedder)
        embedder.set_params(**_ALREADY_CLIPPED)
        return lambda images, mask: embedder.transform(IonImageStack(images, mask))

    def prepare(self, X):
        """Preprocess ``X`` once with this estimator's preprocessing (see
        :class:`PreparedIonImages`), for :meth:`fit` of any number of estimators with the same
        preprocessing parameters (``tic_normalize``, ``hotspot_quantile``, ``median_filter``, ``scale``).

        Parameters
        ----------
        X : IonImageStack, array-like of shape (n_images, height, width), str or os.PathLike
            A path is read as a folder of PNG ion images, in C++ (no copy in Python).

        Returns
        -------
        PreparedIonImages

        Raises
        ------
        ValueError
            ``X`` is a PreparedIonImages made with other preprocessing (C++ ``same_preprocessing``).
        """
        mine = self._preprocess()
        if isinstance(X, PreparedIonImages):
            used = X._p.preprocess
            if not used.same_preprocessing(mine):
                raise ValueError(f"the ion images were prepared with {used.describe()}; this estimator preprocesses "
                                 f"with {mine.describe()}: prepare them with its prepare()")
            return X
        with _StageBars(self.verbose) as bars:
            progress = bars.update if self.verbose else None
            if isinstance(X, (str, os.PathLike)):
                return PreparedIonImages(_core.PreparedIonImages.from_png_dir(os.fspath(X), mine, progress))
            stack = X if isinstance(X, IonImageStack) else IonImageStack(np.asarray(X, dtype=np.float32))
            (px, py), (ox, oy) = stack.pixel_size, stack.origin
            return PreparedIonImages(_core.PreparedIonImages.from_arrays(
                stack.images, stack.mask, stack.mz, float(px), float(py), int(ox), int(oy), mine, progress))

    def fit(self, X, y=None):
        """Cluster the ion images of ``X``.

        Parameters
        ----------
        X : IonImageStack, PreparedIonImages or array-like of shape (n_images, height, width)
            An array is taken as every pixel measured, m/z = 0, 1, 2, … A
            :class:`PreparedIonImages` (from :meth:`prepare`) is used as it is, so several
            estimators share one preprocessed copy; its preprocessing must match this one's.
        y : ignored

        Returns
        -------
        self
        """
        options = self._options()
        prepared = self.prepare(X)
        with _StageBars(self.verbose) as bars:
            raw = _core.fit_prepared(prepared._p, options, self._features(), bars.update if self.verbose else None)
        self.result_ = self._result(raw)
        self.labels_ = self.result_.labels
        self.embedding_ = self.result_.embedding
        self.features_ = self.result_.features
        return self

    def fit_predict(self, X, y=None):
        """Cluster ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    def _result(self, raw):
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ("embedder", "umap", "hdbscan")}
        umap = default_umap() if self.umap is None else self.umap
        params.update({f"umap__{k}": v for k, v in umap.get_params().items() if k not in ("random_state", "n_jobs")})
        params["umap__n_neighbors"] = raw.n_neighbors
        if self.method == "nn":
            embedder = default_embedder() if self.embedder is None else self.embedder
            params.update({f"embedder__{k}": v for k, v in embedder.get_params().items() if k not in _ALREADY_CLIPPED})
        condensed = None
        if raw.clusterer == "hdbscan":
            hdbscan = HDBSCAN() if self.hdbscan is None else self.hdbscan
            params.update({f"hdbscan__{k}": v for k, v in hdbscan.get_params().items() if k not in ("n_jobs", "metric")})
            for name in ("eps", "min_samples", "dbscan_algorithm"):
                params.pop(name, None)
            tree = raw.condensed_tree
            condensed = np.empty(len(tree), dtype=[("parent", np.int64), ("child", np.int64),
                                                            ("lambda_val", np.float64), ("child_size", np.int64)])
            for name in condensed.dtype.names:
                condensed[name] = getattr(tree, name)
        else:
            params.update(eps=raw.eps, eps_auto=raw.eps_auto)
        evaluation = {name: getattr(raw.evaluation, name) for name in fields(raw.evaluation)}
        evaluation["isotope_pair_mz"] = raw.mz[evaluation["isotope_pair_index"]]  # (n_pairs, 2), as the report shows
        return IonImageClusteringResult(
            method=raw.method, mz=raw.mz, labels=raw.labels.astype(np.int64), empty=raw.empty,
            embedding=raw.embedding, features=raw.features, mask=raw.mask,
            cluster_mean_images=raw.cluster_mean_images, members=list(raw.members), params=params,
            timings=dict(raw.timings), evaluation=dict(evaluation, k_distances=raw.k_distances),
            clusterer=raw.clusterer, probabilities=raw.probabilities, condensed_tree=condensed,
            cluster_nodes=raw.cluster_nodes)


class _StageBars:
    """One tqdm bar per pipeline stage, fed by the C++ progress callback."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close()

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def update(self, stage, done, total):
        if stage != self.stage:
            from tqdm.auto import tqdm
            self._close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, leave=False)
        self.bar.n = done
        self.bar.refresh()
        return True
