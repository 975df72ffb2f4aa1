"""Contrastive image–gene-expression learning (CLIP / STimage-1K4M / BLEEP style), trained
in C++ with LibTorch, and expression prediction by retrieval as BLEEP evaluates it.

``ContrastiveTrainer`` takes paired arrays: H&E tiles (n, height, width, 3) uint8 under each
spot and the spots' log-normalised expression (n, n_genes) float32. See docs/contrastive.md.
Importing this module loads LibTorch.
"""
import numbers

import numpy as np
from sklearn.base import BaseEstimator

from ._validation import as_float32_matrix, num_threads
from .nn import _nn
from .spatial.pairs import pairs_from_sections  # noqa: F401  (re-exported: the trainer's input)

__all__ = ["ContrastiveTrainer", "bleep_loss", "clip_loss", "highest_mean_genes", "nearest_by_cosine",
           "pearson_per_gene", "predict_expression"]

# The estimator's parameters that are ContrastiveOptions fields of the same name; their
# defaults are the C++ struct's (validated in C++, not here).
_FIELDS = ("loss", "latent_dim", "gene_encoder", "mlp_hidden", "dropout", "backbone", "weights", "input_size",
           "normalization", "train_backbone", "cache_features", "feature_batch_size", "logit_scale_init",
           "logit_scale_max", "learn_logit_scale", "temperature", "lr", "betas", "eps", "weight_decay",
           "warmup_steps", "schedule", "min_lr", "grad_clip", "batch_size", "epochs", "flips", "rotations",
           "validation_groups", "patience", "restore_best", "checkpoint", "checkpoint_every", "resume", "log_csv",
           "device", "deterministic")
_D = {name: getattr(_nn().ContrastiveOptions(), name) for name in _FIELDS}
for _name in ("mlp_hidden", "betas", "validation_groups"):
    _D[_name] = tuple(_D[_name])


def _distributed_options(value):
    """A DistributedOptions from None (the environment), a dict of its fields or itself."""
    if isinstance(value, _nn().DistributedOptions):
        return value
    options = _nn().DistributedOptions()
    if value is None:
        return options
    if not isinstance(value, dict):
        raise ValueError(f"distributed must be None, a dict of DistributedOptions fields or a DistributedOptions, "
                         f"got {value!r}")
    for name, field in value.items():
        if not hasattr(options, name) or name.startswith("_") or name == "validate":
            raise ValueError(f"distributed: unknown DistributedOptions field {name!r}")
        setattr(options, name, field)
    return options


class ContrastiveTrainer(BaseEstimator):
    """Train an image encoder and a gene encoder into one embedding space with a contrastive
    loss, then embed tiles / expression and predict expression from tiles by retrieval.

    Every parameter is the ``ContrastiveOptions`` field of the same name (defaults, units and
    ranges in docs/contrastive.md and include/spatialembed/contrastive/options.hpp), except:

    Parameters
    ----------
    random_state : int, default=0
        ``seed``: initialisation, data order, dropout and augmentation.
    n_jobs : int or None, default=None
        ``num_threads`` (None or -1: all cores). Results do not depend on it on the CPU
        (``deterministic=True``).
    verbose : bool, default=False
        Show a progress bar over the steps (tqdm) with the loss and samples/s.
    callback : callable or None
        Called with each ``ContrastiveStep`` (step, epoch, loss, logit_scale, lr,
        samples_per_second, validation_loss); returning False stops training (KeyboardInterrupt,
        after writing ``checkpoint``).
    distributed : dict, DistributedOptions or None, default=None
        Data-parallel training (docs/distributed.md): ``DistributedOptions`` fields by name
        (``world_size``, ``rank``, ``master_addr``, ``master_port``, ``backend``,
        ``interface``, ``timeout``, ``bucket_mb``, ``drop_last``, ``enabled``). None: read
        torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), so
        ``torchrun --nproc_per_node 2 script.py`` needs no change to the script;
        ``batch_size`` is then per process.

    Attributes
    ----------
    model_ : spatialembed._nn.ContrastiveModel
    result_ : spatialembed._nn.ContrastiveFitResult
        Steps, epoch losses, validation losses, best epoch, timings.
    n_genes_ : int

    Raises
    ------
    ValueError
        From ``fit`` for invalid parameters or data (NaN expression, batch larger than the
        training pairs, a checkpoint of another architecture or data set).
    """

    def __init__(self, *, loss=_D["loss"], latent_dim=_D["latent_dim"], gene_encoder=_D["gene_encoder"],
                 mlp_hidden=_D["mlp_hidden"], dropout=_D["dropout"], backbone=_D["backbone"], weights=_D["weights"],
                 input_size=_D["input_size"], normalization=_D["normalization"],
                 train_backbone=_D["train_backbone"], cache_features=_D["cache_features"],
                 feature_batch_size=_D["feature_batch_size"], logit_scale_init=_D["logit_scale_init"],
                 logit_scale_max=_D["logit_scale_max"], learn_logit_scale=_D["learn_logit_scale"],
                 temperature=_D["temperature"], lr=_D["lr"], betas=_D["betas"], eps=_D["eps"],
                 weight_decay=_D["weight_decay"], warmup_steps=_D["warmup_steps"], schedule=_D["schedule"],
                 min_lr=_D["min_lr"], grad_clip=_D["grad_clip"], batch_size=_D["batch_size"], epochs=_D["epochs"],
                 flips=_D["flips"], rotations=_D["rotations"], validation_groups=_D["validation_groups"],
                 patience=_D["patience"], restore_best=_D["restore_best"], checkpoint=_D["checkpoint"],
                 checkpoint_every=_D["checkpoint_every"], resume=_D["resume"], log_csv=_D["log_csv"],
                 device=_D["device"], deterministic=_D["deterministic"], random_state=0, n_jobs=None,
                 verbose=False, callback=None, distributed=None):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    def _options(self):
        options = _nn().ContrastiveOptions()
        for name in _FIELDS:
            value = getattr(self, name)
            if name in ("mlp_hidden", "betas", "validation_groups"):
                value = list(value)
            setattr(options, name, value)
        if not isinstance(self.random_state, numbers.Integral):
            raise ValueError(f"random_state must be an integer seed, got {self.random_state!r}")
        options.seed = int(self.random_state) % 2**64
        options.num_threads = num_threads(self.n_jobs)
        options.distributed = _distributed_options(self.distributed)
        options.validate()
        return options

    def fit(self, tiles, expression, group=None):
        """Train on pairs.

        Parameters
        ----------
        tiles : ndarray of shape (n, height, width, 3), uint8
            RGB tiles under the spots; with ``backbone="features"`` a (n, feature_dim) float32
            feature matrix instead (e.g. ``Embedder`` output).
        expression : array-like of shape (n, n_genes)
            Log-normalised expression (float32).
        group : array-like of shape (n,), int, optional
            Section index of each pair; pairs of ``validation_groups`` are held out.

        Returns
        -------
        self
        """
        options = self._options()
        expression = as_float32_matrix(expression, "expression")
        features, images = self._image_input(tiles, options.backbone)
        if group is not None:
            group = np.ascontiguousarray(group, dtype=np.int32).ravel()
        callback, bar = self._step_callback()
        try:
            trainer = _nn().ContrastiveTrainer(options)
            self.result_ = trainer.fit(expression, tiles=images, features=features, group=group, callback=callback)
        finally:
            if bar is not None:
                bar.close()
        self.model_ = trainer.model
        self._trainer = trainer  # owns model_
        self.n_genes_ = expression.shape[1]
        return self

    def _step_callback(self):
        user = self.callback
        if not self.verbose:
            return user, None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return user, None
        bar = tqdm(unit="step", desc="contrastive")

        def step(info):
            if bar.total is None:
                bar.total = info.total_steps
            bar.set_postfix(loss=f"{info.loss:.4f}", samples_s=f"{info.samples_per_second:.0f}", refresh=False)
            bar.update(1)
            return True if user is None else user(info)
        return step, bar

    @staticmethod
    def _image_input(tiles, backbone):
        if backbone == "features":
            return as_float32_matrix(tiles, "features"), None
        tiles = np.ascontiguousarray(tiles)
        if tiles.dtype != np.uint8 or tiles.ndim != 4 or tiles.shape[3] != 3:
            raise ValueError(f"tiles must be uint8 of shape (n, height, width, 3), got {tiles.dtype} {tiles.shape}")
        return None, tiles

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ValueError("ContrastiveTrainer is not fitted: call fit or load first")

    def encode_images(self, tiles, normalize=True):
        """Tiles (n, height, width, 3) uint8 (or features with backbone "features") ->
        (n, latent_dim) float32 image embeddings, unit rows when ``normalize``."""
        self._check_fitted()
        features, images = self._image_input(tiles, self.model_.options.backbone)
        if features is not None:
            return self.model_.encode_features(features, normalize)
        return self.model_.encode_images(images, normalize)

    def encode_genes(self, expression, normalize=True):
        """Expression (n, n_genes) -> (n, latent_dim) float32 gene embeddings."""
        self._check_fitted()
        return self.model_.encode_genes(as_float32_matrix(expression, "expression"), normalize)

    def predict_expression(self, tiles, reference_expression, reference_output=None, k=50, aggregation="mean"):
        """Expression of query tiles by retrieval (BLEEP): the query's image embedding against
        the gene embeddings of reference spots (``reference_expression``, the trained genes),
        mean (or BLEEP's distance-weighted mean) of the k most similar spots' rows of
        ``reference_output`` (default ``reference_expression``; e.g. every gene of the
        reference). Returns (n_query, n_output_genes) float32."""
        query = self.encode_images(tiles, normalize=False)
        reference = self.encode_genes(reference_expression, normalize=False)
        output = reference_expression if reference_output is None else reference_output
        return predict_expression(query, reference, output, k=k, aggregation=aggregation,
                                  n_jobs=self.n_jobs)

    def save(self, path):
        """Write the trained model (options, trained layers; a frozen backbone by reference)."""
        self._check_fitted()
        self.model_.save(str(path))

    @classmethod
    def load(cls, path, device="cpu", n_jobs=None):
        """A fitted ContrastiveTrainer from a file written by ``save`` or a checkpoint."""
        model = _nn().ContrastiveModel.load(str(path), device, num_threads(n_jobs))
        o = model.options
        params = {name: getattr(o, name) for name in _FIELDS}
        for name in ("mlp_hidden", "betas", "validation_groups"):
            params[name] = tuple(params[name])
        est = cls(**params, random_state=o.seed, n_jobs=n_jobs)
        est.device = device
        est.model_ = model
        est.n_genes_ = model.n_genes
        return est


def clip_loss(image, gene, logit_scale):
    """CLIP's symmetric InfoNCE of paired rows (L2-normalised inside), scale exp(logit_scale)."""
    return _nn().clip_loss(as_float32_matrix(image, "image"), as_float32_matrix(gene, "gene"), float(logit_scale))


def bleep_loss(image, gene, temperature=1.0):
    """BLEEP's soft-target contrastive loss of paired rows (used as given)."""
    return _nn().bleep_loss(as_float32_matrix(image, "image"), as_float32_matrix(gene, "gene"), float(temperature))


def nearest_by_cosine(query, reference, k, n_jobs=None):
    """(n_query, k) uint32 indices of the k reference rows most similar by cosine, best first."""
    return _nn().nearest_by_cosine(as_float32_matrix(query, "query"), as_float32_matrix(reference, "reference"),
                                   int(k), num_threads(n_jobs))


def predict_expression(query, reference, reference_expression, k=50, aggregation="mean", n_jobs=None):
    """Mean (``"mean"``) or BLEEP's distance-weighted mean (``"weighted"``) of the
    ``reference_expression`` rows of the k reference embeddings most similar to each query
    embedding by cosine. Returns (n_query, n_genes) float32."""
    return _nn().predict_expression(as_float32_matrix(query, "query"), as_float32_matrix(reference, "reference"),
                                    as_float32_matrix(reference_expression, "reference_expression"), int(k),
                                    str(aggregation), num_threads(n_jobs))


def pearson_per_gene(predicted, measured):
    """Pearson r of each column (gene) over the rows (spots); NaN for a constant column."""
    return _nn().pearson_per_gene(as_float32_matrix(predicted, "predicted"), as_float32_matrix(measured, "measured"))


def highest_mean_genes(expression, count=50):
    """Indices of the ``count`` genes with the highest mean expression (top-k HEG)."""
    return _nn().highest_mean_genes(as_float32_matrix(expression, "expression"), int(count))

