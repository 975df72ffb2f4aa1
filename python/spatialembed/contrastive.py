"""Contrastive image–gene-expression learning (CLIP / STimage-1K4M / BLEEP style), trained
in C++ with LibTorch, and expression prediction by retrieval as BLEEP evaluates it.

``ContrastiveTrainer`` takes sections (``fit(sections)``: HVG training genes, log-normalised
expression, tiles at the spot diameter) or paired arrays: H&E tiles (n, height, width, 3)
uint8 under each spot and the spots' log-normalised expression (n, n_genes) float32; it
predicts expression from tiles and evaluates embeddings as BLEEP and STimage-1K4M do. See
docs/contrastive.md.
Importing this module loads LibTorch.
"""
import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator

from ._validation import as_float32_matrix, num_threads
from .nn import _nn, default_weights_path
from .spatial.hvg import highly_variable_genes
from .spatial.pairs import gene_columns
from .spatial.pairs import pairs_from_sections  # noqa: F401  (re-exported: the trainer's input)

__all__ = ["ContrastiveTrainer", "bleep_loss", "clip_loss", "highest_mean_genes", "nearest_by_cosine",
           "pearson_per_gene", "predict_expression"]

# The estimator's parameters that are ContrastiveOptions fields of the same name; their
# defaults are the C++ struct's (validated in C++, not here).
_FIELDS = ("loss", "latent_dim", "gene_encoder", "mlp_hidden", "dropout", "backbone", "weights", "input_size",
           "normalization", "train_backbone", "cache_features", "feature_batch_size", "logit_scale_init",
           "logit_scale_max", "learn_logit_scale", "temperature", "lr", "betas", "eps", "weight_decay",
           "warmup_steps", "schedule", "min_lr", "grad_clip", "batch_size", "epochs", "flips", "rotations",
           "jitter_brightness", "jitter_contrast", "jitter_saturation", "jitter_hue", "loader_threads",
           "prefetch_batches", "validation_groups", "patience", "restore_best", "checkpoint", "checkpoint_every",
           "resume", "log_csv", "device", "deterministic")
_TUPLES = ("mlp_hidden", "betas", "validation_groups")
_D = {name: getattr(_nn().ContrastiveOptions(), name) for name in _FIELDS}
for _name in _TUPLES:
    _D[_name] = tuple(_D[_name])
_META_SUFFIX = ".json"  # beside a saved model: training genes and tile settings
_FEATURE_CACHE_VERSION = 1


def _is_section(x):
    from .spatial.section import Section

    return isinstance(x, Section)


def _as_sections(sections, what):
    if sections is None:
        return []
    if _is_section(sections):
        return [sections]
    sections = list(sections)
    if not all(_is_section(s) for s in sections):
        raise ValueError(f"{what} must be a Section or a list of Sections "
                         "(read_her2st, read_stimage1k4m, read_visium, Section.from_anndata)")
    if not sections:
        raise ValueError(f"{what} is an empty list")
    return sections


def _log_normalised(section, n_jobs=None):
    """log1p(normalize_total(counts, 1e4)) of every gene: a float32 CSR (n_spots, n_genes)."""
    from .spatial_expression import log1p, normalize_total

    return log1p(normalize_total(section.counts, n_jobs=n_jobs), n_jobs=n_jobs)


def _shared_genes(sections):
    """Gene names every section has, in the first section's order."""
    shared = set(sections[0].genes)
    for s in sections[1:]:
        shared &= set(s.genes)
    genes = [g for g in dict.fromkeys(sections[0].genes) if g in shared]
    if not genes:
        raise ValueError(f"the sections {[s.name for s in sections]} share no gene name")
    return genes


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
    loss (CLIP / STimage-1K4M / BLEEP), then embed tiles and expression, predict expression
    from H&E tiles and evaluate the embeddings as the papers do.

    Every parameter is the ``ContrastiveOptions`` field of the same name (defaults, units and
    ranges in docs/contrastive.md and include/spatialembed/contrastive/options.hpp), except:

    Parameters
    ----------
    training_genes : {"heg", "hvg"}, default="heg"
        Which genes the gene encoder sees when fitting on sections (matched by name):
        ``"heg"``, the ``n_top_genes`` highly expressed genes — highest mean log-normalised
        expression over the training sections' spots, among the genes they all share (the her2st
        benchmarks' gene set: HisToGene, Hist2ST); ``"hvg"``, their highly variable genes,
        scanpy's ``seurat_v3`` flavour (:func:`spatialembed.highly_variable_genes`). On her2st
        leave-one-section-out, ``"heg"`` predicts held-out expression better (docs/results.md).
    n_top_genes : int or None, default=None
        How many training genes; None = 1000 for ``"heg"``, the C++ ``HvgOptions`` default
        (2000) for ``"hvg"``.
    tile_diameter_multiple : float, default=1.0
        Tiles cut from sections: a square of this many spot diameters around each spot,
        resampled to the network's input side (``Section.tiles``).
    feature_cache : str or path or None, default=None
        A folder where the frozen backbone's features of each section's tiles are kept
        (``.npy`` files named by a hash of the backbone, weights, input size, tile settings,
        image file and spot positions), so repeated fits and evaluations skip the backbone.
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
    genes_ : list of str or None
        The training genes (fits on sections); None after a fit on arrays.
    fit_seconds_ : float
        Wall time of ``fit`` (tiles, features, training).

    Raises
    ------
    ValueError
        From ``fit`` for invalid parameters or data (NaN expression, batch larger than the
        training pairs, sections that share no gene, a checkpoint of another architecture or
        data set).

    Examples
    --------
    >>> est = ContrastiveTrainer()                                   # doctest: +SKIP
    >>> est.fit([b4, c2, c3, c4, c5])                                # doctest: +SKIP
    >>> est.predict_expression(c6, [b4, c2, c3, c4, c5])            # doctest: +SKIP
    >>> est.evaluate(c6, [b4, c2, c3, c4, c5])                      # doctest: +SKIP
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
                 flips=_D["flips"], rotations=_D["rotations"], jitter_brightness=_D["jitter_brightness"],
                 jitter_contrast=_D["jitter_contrast"], jitter_saturation=_D["jitter_saturation"],
                 jitter_hue=_D["jitter_hue"], loader_threads=_D["loader_threads"],
                 prefetch_batches=_D["prefetch_batches"], validation_groups=_D["validation_groups"],
                 patience=_D["patience"], restore_best=_D["restore_best"], checkpoint=_D["checkpoint"],
                 checkpoint_every=_D["checkpoint_every"], resume=_D["resume"], log_csv=_D["log_csv"],
                 device=_D["device"], deterministic=_D["deterministic"], training_genes="heg", n_top_genes=None,
                 tile_diameter_multiple=1.0, feature_cache=None, random_state=0, n_jobs=None, verbose=False,
                 callback=None, distributed=None):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    def _options(self):
        options = _nn().ContrastiveOptions()
        for name in _FIELDS:
            value = getattr(self, name)
            if name in _TUPLES:
                value = list(value)
            try:
                setattr(options, name, value)
            except TypeError:
                kind = type(getattr(options, name)).__name__
                raise ValueError(f"{name} must be of type {kind}, got {value!r}") from None
        if not isinstance(self.random_state, numbers.Integral):
            raise ValueError(f"random_state must be an integer seed, got {self.random_state!r}")
        options.seed = int(self.random_state) % 2**64
        options.num_threads = num_threads(self.n_jobs)
        options.distributed = _distributed_options(self.distributed)
        options.validate()
        return options

    # ------------------------------------------------------------------ fit
    def fit(self, sections, validation=None, group=None, *, expression=None):
        """Train on sections (or on paired arrays).

        Parameters
        ----------
        sections : Section or list of Section
            Training sections. Training genes: their ``n_top_genes`` highly expressed or highly
            variable genes (``training_genes``, matched by name); expression: ``log1p(normalize_total(counts, 1e4))``
            at those genes; images: the tile under each spot (``tile_diameter_multiple`` spot
            diameters, resampled to the network input). Or, array form ``fit(tiles,
            expression, group=None)``: tiles (n, height, width, 3) uint8 (with
            ``backbone="features"`` a (n, feature_dim) float32 matrix) and log-normalised
            expression (n, n_genes) float32, ``group`` the section index of each pair (pairs
            of ``validation_groups`` are held out).
        validation : Section or list of Section, optional
            Held-out sections for the validation loss and early stopping (``patience``,
            ``restore_best``); they must have the training genes.

        Returns
        -------
        self
        """
        t0 = time.perf_counter()
        if not (_is_section(sections) or (isinstance(sections, (list, tuple)) and sections
                                           and all(_is_section(s) for s in sections))):
            if expression is None:
                expression, validation = validation, None
            if expression is None:
                raise ValueError("fit(tiles, expression): expression is missing (or pass Sections)")
            self._fit_arrays(sections, expression, group)
            self.genes_ = None
            self.fit_seconds_ = time.perf_counter() - t0
            return self
        train = _as_sections(sections, "sections")
        held = _as_sections(validation, "validation")
        genes = self._training_genes(train)
        options = self._options()
        tiles, features, expr, groups = [], [], [], []
        precomputed = self._frozen(options)
        for index, section in enumerate(train + held):
            expr.append(self._expression(section, genes))
            tiles.append(self._tiles(section, options))
            if precomputed:
                features.append(self._backbone_features(section, options))
            groups.append(np.full(section.n_spots, index, dtype=np.int32))
        group = np.concatenate(groups)
        if held:
            self.validation_groups = tuple(range(len(train), len(train) + len(held)))
        try:
            self._fit_arrays(np.concatenate(tiles), np.concatenate(expr), group,
                             features=np.concatenate(features) if precomputed else None)
        finally:
            if held:
                self.validation_groups = _D["validation_groups"]
        self.genes_ = genes
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _training_genes(self, train):
        if self.training_genes == "hvg":
            table = highly_variable_genes(train, n_top_genes=self.n_top_genes, flavor="seurat_v3")
            return [str(g) for g in table.index[table["highly_variable"].to_numpy()]]
        if self.training_genes != "heg":
            raise ValueError(f"training_genes must be 'heg' or 'hvg', got {self.training_genes!r}")
        n_top = 1000 if self.n_top_genes is None else self.n_top_genes
        if not isinstance(n_top, numbers.Integral) or n_top < 1:
            raise ValueError(f"n_top_genes must be a positive integer, got {n_top!r}")
        shared = _shared_genes(train)
        total = sum(np.asarray(self._expression(s)[:, gene_columns(s, shared)].sum(axis=0)).ravel() for s in train)
        top = np.argsort(-total, kind="stable")[:n_top]  # ties: the first section's gene order
        return [str(shared[j]) for j in np.sort(top)]

    def _fit_arrays(self, tiles, expression, group, features=None):
        options = self._options()
        expression = as_float32_matrix(expression, "expression")
        if features is None:
            features, images = self._image_input(tiles, options.backbone)
        else:
            images = self._image_input(tiles, options.backbone)[1]
            features = as_float32_matrix(features, "features")
        if group is not None:
            group = np.ascontiguousarray(group, dtype=np.int32).ravel()
        callback, bar = self._step_callback(options)
        try:
            trainer = _nn().ContrastiveTrainer(options)
            self.result_ = trainer.fit(expression, tiles=images, features=features, group=group, callback=callback)
        finally:
            if bar is not None:
                bar.close()
        self.model_ = trainer.model
        self._trainer = trainer  # owns model_
        self.n_genes_ = expression.shape[1]

    def _step_callback(self, options):
        user = self.callback
        if not self.verbose or _nn().resolve_distributed(options.distributed)["rank"] != 0:
            return user, None  # one bar per run, not one per rank
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

    # ------------------------------------------------------------------ sections → arrays
    @staticmethod
    def _frozen(options):
        """The backbone is a fixed function of the tiles: its features can be cached."""
        return (options.backbone != "features" and options.train_backbone == "none" and options.cache_features
                and not (options.flips or options.rotations or options.jitter_brightness or options.jitter_contrast
                         or options.jitter_saturation or options.jitter_hue))

    def _memo(self):
        if not hasattr(self, "_memo_store"):
            self._memo_store = {}
        return self._memo_store

    def _input_side(self, options):
        if options.input_size:
            return int(options.input_size)
        return {"xception": 299}.get(options.backbone, 224)

    def _tiles(self, section, options):
        import warnings

        side = self._input_side(options)
        key = ("tiles", id(section), float(self.tile_diameter_multiple), side)
        memo = self._memo()
        if key not in memo:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # border tiles padded white: expected at section edges
                memo[key] = section.tiles(diameter_multiple=float(self.tile_diameter_multiple), output_size=side,
                                          n_jobs=self.n_jobs)
        return memo[key]

    def _expression(self, section, genes=None):
        """Log-normalised expression: dense float32 at ``genes`` (None: the CSR of all genes)."""
        key = ("expression", id(section))
        memo = self._memo()
        if key not in memo:
            memo[key] = _log_normalised(section, self.n_jobs)
        if genes is None:
            return memo[key]
        return np.asarray(memo[key][:, gene_columns(section, genes)].todense(), dtype=np.float32)

    def _feature_key(self, section, options):
        import hashlib
        import json
        import os

        weights = options.weights or (default_weights_path(options.backbone)
                                      if options.backbone in ("resnet50", "xception") else "")
        image = section.provenance["image_path"]
        stat = os.stat(image) if image and os.path.exists(image) else None
        spots = section.spots
        h = hashlib.sha1()
        h.update(json.dumps([_FEATURE_CACHE_VERSION, options.backbone, str(weights), self._input_side(options),
                             options.normalization, float(self.tile_diameter_multiple), str(image),
                             stat.st_size if stat else 0, int(stat.st_mtime) if stat else 0,
                             float(section.spot_diameter)]).encode())
        h.update(np.ascontiguousarray(spots[["x", "y"]].to_numpy(np.float64)).tobytes())
        return f"{section.name}-{h.hexdigest()[:16]}"

    def _backbone_features(self, section, options=None):
        """Frozen backbone features (n_spots, feature_dim) float32 of a section's tiles, kept
        in memory and, with ``feature_cache``, on disk."""
        import os

        options = options or self._options()
        key = self._feature_key(section, options)
        memo = self._memo()
        if ("features", key) in memo:
            return memo[("features", key)]
        path = None
        if self.feature_cache:
            os.makedirs(self.feature_cache, exist_ok=True)
            path = os.path.join(str(self.feature_cache), key + ".npy")
            if os.path.exists(path):
                features = np.load(path)
                if features.shape[0] == section.n_spots:
                    memo[("features", key)] = features
                    return features
        features = self._backbone_model(options).image_features(self._tiles(section, options))
        if path is not None:
            tmp = f"{path}.{os.getpid()}.tmp.npy"  # ranks of one run may write the same entry at once
            np.save(tmp, features)
            os.replace(tmp, path)
        memo[("features", key)] = features
        return features

    def _backbone_model(self, options):
        """The pretrained backbone alone (the zero-shot baseline): a fresh model whose heads are
        never used."""
        memo = self._memo()
        if "backbone_model" not in memo:
            o = _nn().ContrastiveOptions()
            for name in ("backbone", "weights", "input_size", "normalization", "feature_batch_size", "device",
                         "deterministic", "seed", "num_threads"):
                setattr(o, name, getattr(options, name))
            o.gene_encoder = "linear"
            o.latent_dim = 1
            memo["backbone_model"] = _nn().ContrastiveModel(o, 1)
        return memo["backbone_model"]

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise ValueError("ContrastiveTrainer is not fitted: call fit or load first")

    # ------------------------------------------------------------------ embeddings
    def encode_images(self, section_or_tiles, normalize=True, zero_shot=False):
        """Image embeddings of a section's tiles (or of given tiles).

        Parameters
        ----------
        section_or_tiles : Section or ndarray (n, height, width, 3) uint8
            A section (its tiles as in ``fit``), tiles, or with ``backbone="features"`` a
            feature matrix.
        normalize : bool
            Unit rows.
        zero_shot : bool
            The pretrained backbone's pooled features instead (n, feature_dim), the baseline
            (needs no fit).

        Returns
        -------
        ndarray (n, latent_dim) float32
        """
        if _is_section(section_or_tiles):
            options = self._options() if not hasattr(self, "model_") else self.model_.options
            if zero_shot or self._frozen(self.model_.options if hasattr(self, "model_") else options):
                features = self._backbone_features(section_or_tiles, options)
            else:
                self._check_fitted()
                features = self.model_.image_features(self._tiles(section_or_tiles, options))
            if zero_shot:
                return _unit_rows(features) if normalize else features
            self._check_fitted()
            return self.model_.encode_features(features, normalize)
        if zero_shot:
            options = self._options()
            if options.backbone == "features":
                features = as_float32_matrix(section_or_tiles, "features")
            else:
                features = self._backbone_model(options).image_features(self._image_input(section_or_tiles,
                                                                                          options.backbone)[1])
            return _unit_rows(features) if normalize else features
        self._check_fitted()
        features, images = self._image_input(section_or_tiles, self.model_.options.backbone)
        if features is not None:
            return self.model_.encode_features(features, normalize)
        return self.model_.encode_images(images, normalize)

    def encode_genes(self, section_or_expression, normalize=True):
        """Gene embeddings (n, latent_dim) float32 of a section's spots (log-normalised
        expression at the training genes ``genes_``, matched by name) or of an expression
        matrix (n, n_genes) float32."""
        self._check_fitted()
        if _is_section(section_or_expression):
            if self.genes_ is None:
                raise ValueError("encode_genes(section) needs a model fitted on sections (genes_ is None)")
            expression = self._expression(section_or_expression, self.genes_)
        else:
            expression = as_float32_matrix(section_or_expression, "expression")
        return self.model_.encode_genes(expression, normalize)

    # ------------------------------------------------------------------ prediction
    def predict_expression(self, query, reference_sections, k=50, aggregation="mean", genes=None, zero_shot=False,
                           reference_output=None):
        """Expression of the query spots from their H&E tiles by retrieval (BLEEP).

        Each query tile's image embedding is compared by cosine with the gene embeddings of
        every reference spot (``zero_shot``: backbone features of query and reference tiles,
        image to image); the log-normalised expression of the ``k`` most similar reference
        spots is averaged (``aggregation="mean"``) or weighted as BLEEP's weighted average
        (``"weighted"``), over every gene the reference sections share.

        Parameters
        ----------
        query : Section or ndarray (n, height, width, 3) uint8
        reference_sections : Section or list of Section
            (Array form, as before: ``predict_expression(tiles, reference_expression,
            reference_output=None, k, aggregation)`` → ndarray.)
        k : int
        aggregation : {"mean", "weighted"}
        genes : list of str, optional
            Only these genes (default: all genes shared by the reference sections).
        zero_shot : bool
            The pretrained backbone, image-to-image retrieval.

        Returns
        -------
        pandas.DataFrame (n_spots, n_genes) float32
            Indexed by the query's spot ids (a RangeIndex for tiles), one column per gene.
        """
        import pandas as pd

        if not (_is_section(reference_sections) or isinstance(reference_sections, (list, tuple))):
            return self._predict_arrays(query, reference_sections, reference_output, k, aggregation)
        references = _as_sections(reference_sections, "reference_sections")
        names = _shared_genes(references) if genes is None else [str(g) for g in genes]
        output = np.concatenate([self._expression(s, names) for s in references])
        query_emb, reference_emb = self._retrieval_embeddings(query, references, zero_shot)
        pred = predict_expression(query_emb, reference_emb, output, k=k, aggregation=aggregation, n_jobs=self.n_jobs)
        index = query.spots.index if _is_section(query) else pd.RangeIndex(len(pred))
        return pd.DataFrame(pred, index=index, columns=pd.Index(names, name="gene"))

    def _predict_arrays(self, tiles, reference_expression, reference_output, k, aggregation):
        query = self.encode_images(tiles, normalize=False)
        reference = self.encode_genes(reference_expression, normalize=False)
        output = reference_expression if reference_output is None else reference_output
        return predict_expression(query, reference, output, k=k, aggregation=aggregation, n_jobs=self.n_jobs)

    def _retrieval_embeddings(self, query, references, zero_shot):
        if zero_shot:
            q = self.encode_images(query, normalize=False, zero_shot=True)
            r = np.concatenate([self.encode_images(s, normalize=False, zero_shot=True) for s in references])
            return q, r
        self._check_fitted()
        q = self.encode_images(query, normalize=False)
        r = np.concatenate([self.encode_genes(s, normalize=False) for s in references])
        return q, r

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, query, reference_sections, labels=None, genes=None, k=50, aggregation="mean", zero_shot=True,
                 n_top=50, n_clusters=None, probe_splits=5):
        """Score the embeddings on a held-out section as the papers do; also for the zero-shot
        backbone.

        - ``retrieval`` (BLEEP) and ``ridge`` (scikit-learn RidgeCV on standardised image
          embeddings of the reference spots, alpha by leave-one-out) expression prediction,
          scored by per-gene Pearson r on the query section, averaged over its top-``n_top``
          most expressed genes (``HEG-50``), its top-``n_top`` highly variable genes
          (``HVG-50``: seurat_v3 on the query's counts) and ``genes`` (``genes``), all among
          the genes every section shares;
        - ``linear_probe`` (STimage-1K4M): LogisticRegression on standardised embeddings, five
          random 80/10/10 splits (C chosen on the 10 %), macro-F1 on the test 10 %, when the
          spots carry labels;
        - ``kmeans`` (scikit-learn, as many clusters as label classes, or ``n_clusters``) and
          ``hdbscan`` (spatialembed): ARI and NMI against the labels, silhouette.

        Parameters
        ----------
        query : Section
            The held-out section.
        reference_sections : Section or list of Section
            Sections whose spots are retrieved / fit the ridge regression (the training ones).
        labels : str, array-like of n_spots, or None
            Per-spot classes of the query: an array, a column of ``query.spots``, or None =
            ``query.spots["label"]`` when the section has labels (``Section.set_labels``);
            spots labelled "" are left out of probing and ARI / NMI.
        genes : list of str, optional
            A user gene list, scored as ``genes`` r.
        zero_shot : bool
            Also (or, unfitted, only) the pretrained backbone: retrieval image to image,
            ridge / probing / clustering on its features.
        n_top, n_clusters, probe_splits : int

        Returns
        -------
        pandas.DataFrame
            Columns ``model`` ("trained", "zero-shot"), ``task`` (retrieval, ridge,
            linear_probe, kmeans, hdbscan), ``metric`` (HEG-50 r, HVG-50 r, genes r, macro-F1,
            ARI, NMI, silhouette, n_clusters), ``value``, ``std`` (over the probe splits, else
            NaN).
        """
        import pandas as pd

        from . import _contrastive_eval as ev

        if not _is_section(query):
            raise ValueError("evaluate needs the query as a Section (its measured expression is the truth)")
        references = _as_sections(reference_sections, "reference_sections")
        shared = _shared_genes([query] + references)
        truth_all = self._expression(query, shared)
        heg = np.argsort(-truth_all.mean(axis=0), kind="stable")[:n_top]
        table = highly_variable_genes(query, n_top_genes=min(len(shared), max(4 * n_top, 200)), flavor="seurat_v3")
        rank = table["highly_variable_rank"].reindex(shared).to_numpy(dtype=np.float64)
        ranked = np.flatnonzero(np.isfinite(rank))
        hvg = ranked[np.argsort(rank[ranked], kind="stable")][:n_top]
        lists = {f"HEG-{n_top} r": heg, f"HVG-{n_top} r": hvg}
        if genes is not None:
            position = {g: j for j, g in enumerate(shared)}
            missing = [g for g in genes if g not in position]
            if missing:
                raise ValueError(f"genes: {missing[:5]} not shared by the query and every reference section")
            lists["genes r"] = np.array([position[g] for g in genes], dtype=np.int64)
        scored = np.unique(np.concatenate(list(lists.values())))
        local = {name: np.searchsorted(scored, index) for name, index in lists.items()}
        scored_names = [shared[j] for j in scored]
        truth = truth_all[:, scored]
        reference_y = np.concatenate([self._expression(s, scored_names) for s in references])

        label_values = self._labels(query, labels)
        models = (["trained"] if hasattr(self, "model_") else []) + (["zero-shot"] if zero_shot else [])
        if not models:
            raise ValueError("ContrastiveTrainer is not fitted: call fit or load first, or use zero_shot=True")
        rows = []

        def add(model, task, metric, value, std=float("nan")):
            rows.append({"model": model, "task": task, "metric": metric, "value": value, "std": std})

        for model in models:
            zs = model == "zero-shot"
            q_emb, r_emb = self._retrieval_embeddings(query, references, zs)
            pred = predict_expression(q_emb, r_emb, reference_y, k=k, aggregation=aggregation, n_jobs=self.n_jobs)
            for name, value in ev.gene_means(ev.pearson_columns(pred, truth), local).items():
                add(model, "retrieval", name, value)
            q_img = self.encode_images(query, normalize=not zs, zero_shot=zs)
            r_img = np.concatenate([self.encode_images(s, normalize=not zs, zero_shot=zs) for s in references])
            ridge, alpha = ev.ridge_predict(r_img, reference_y, q_img)
            for name, value in ev.gene_means(ev.pearson_columns(ridge, truth), local).items():
                add(model, "ridge", name, value)
            add(model, "ridge", "alpha", alpha)
            keep = np.ones(len(q_img), dtype=bool) if label_values is None else label_values != ""
            y = None if label_values is None else label_values[keep]
            if y is not None and len(np.unique(y)) >= 2:
                scores = ev.linear_probe(q_img[keep], y, n_splits=probe_splits, random_state=self.random_state)
                add(model, "linear_probe", "macro-F1", float(np.mean(scores)) if scores else float("nan"),
                    float(np.std(scores)) if scores else float("nan"))
            k_clusters = n_clusters or (len(np.unique(y)) if y is not None else 5)
            for task, values in ev.cluster_scores(q_img[keep], y, k_clusters, random_state=self.random_state).items():
                for metric in ("ARI", "NMI", "silhouette", "n_clusters"):
                    if metric in ("ARI", "NMI") and y is None:
                        continue
                    add(model, task, metric, values[metric])
        return pd.DataFrame(rows, columns=["model", "task", "metric", "value", "std"])

    @staticmethod
    def _labels(query, labels):
        if labels is None:
            if "label" not in query.spots.columns:
                return None
            return query.spots["label"].astype(str).to_numpy()
        if isinstance(labels, str):
            if labels not in query.spots.columns:
                raise ValueError(f"labels: section {query.name!r} has no spot column {labels!r}")
            return query.spots[labels].astype(str).to_numpy()
        values = np.asarray([str(v) for v in labels])
        if len(values) != query.n_spots:
            raise ValueError(f"labels has {len(values)} entries for the {query.n_spots} spots of {query.name!r}")
        return values

    # ------------------------------------------------------------------ files
    def save(self, path):
        """Write the trained model (options, trained layers; a frozen backbone by reference) to
        ``path`` and, beside it (``path + ".json"``), the training genes and tile settings."""
        import json

        self._check_fitted()
        self.model_.save(str(path))
        meta = {"genes": self.genes_, "training_genes": self.training_genes, "n_top_genes": self.n_top_genes,
                "tile_diameter_multiple": self.tile_diameter_multiple}
        with open(str(path) + _META_SUFFIX, "w", encoding="utf-8") as f:
            json.dump(meta, f)

    @classmethod
    def load(cls, path, device="cpu", n_jobs=None):
        """A fitted ContrastiveTrainer from a file written by ``save`` or a checkpoint."""
        import json
        import os

        model = _nn().ContrastiveModel.load(str(path), device, num_threads(n_jobs))
        o = model.options
        params = {name: getattr(o, name) for name in _FIELDS}
        for name in _TUPLES:
            params[name] = tuple(params[name])
        meta = {}
        if os.path.exists(str(path) + _META_SUFFIX):
            with open(str(path) + _META_SUFFIX, encoding="utf-8") as f:
                meta = json.load(f)
        est = cls(**params, training_genes=meta.get("training_genes", "hvg"), n_top_genes=meta.get("n_top_genes"),
                  tile_diameter_multiple=meta.get("tile_diameter_multiple", 1.0), random_state=o.seed, n_jobs=n_jobs)
        est.device = device
        est.model_ = model
        est.n_genes_ = model.n_genes
        est.genes_ = meta.get("genes")
        return est


def _unit_rows(x):
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1)


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

