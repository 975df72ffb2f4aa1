"""Expression matrices of spatial-transcriptomics sections: normalisation, gene matching and
highly variable genes, computed in the C++ core (``spatial/expression``, ``genes``, ``hvg``).

Matrices are spots × genes, ``scipy.sparse`` CSR (dense arrays are converted), raw counts
unless a function says otherwise. ``normalize_total`` and ``log1p`` follow scanpy's
definitions; ``highly_variable_genes_from_counts`` follows
``scanpy.pp.highly_variable_genes`` (flavours ``"seurat"``, ``"seurat_v3"``) and
``scanpy.experimental.pp.highly_variable_genes`` (``"pearson_residuals"``). Formulas, tie
order and the differences from scanpy are in ``docs/spatial_expression.md``.
"""
import warnings
from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _core
from ._validation import num_threads

__all__ = ["GeneMatch", "filter_genes", "highly_variable_genes_from_counts", "log1p", "match_genes", "normalize_total"]

# Defaults come from the C++ option structs (their headers document them).
_NORMALIZE = _core.NormalizeTotalOptions()
_FILTER = _core.FilterGenesOptions()
_HVG = _core.HvgOptions()
_HVG_FIELDS = ("n_bins", "span", "theta", "clip")


def _fill(options, **values):
    """Set option fields by name; a value of the wrong type or sign raises ValueError naming
    the field (the ranges are checked by the C++ ``validate()``)."""
    for name, value in values.items():
        try:
            setattr(options, name, value)
        except TypeError:
            expected = type(getattr(options, name)).__name__
            raise ValueError(f"{name} must be a {'non-negative ' if expected == 'int' else ''}{expected}, "
                             f"got {value!r}") from None
    return options


def _as_csr(X, name):
    """``X`` as a scipy CSR matrix without duplicate entries (copies only when needed)."""
    if sp.issparse(X):
        X = X.tocsr()
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (spots, genes), got shape {X.shape}")
        X = sp.csr_matrix(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _parts(X):
    return X.indptr, X.indices, X.data, tuple(int(s) for s in X.shape)


def _from_parts(parts):
    indptr, indices, data, shape = parts
    return sp.csr_matrix((data, indices, indptr), shape=shape)


def normalize_total(counts, *, target_sum=_NORMALIZE.target_sum, n_jobs=None):
    """Scale every spot so that its counts sum to ``target_sum`` (scanpy.pp.normalize_total).

    Parameters
    ----------
    counts : scipy.sparse matrix or array-like of shape (n_spots, n_genes)
        Non-negative finite values (raw counts).
    target_sum : float or None, default=1e4
        Total of every spot afterwards; None = the median of the positive spot totals (as
        scanpy's ``target_sum=None``).
    n_jobs : int, optional
        Threads (None or -1 = all cores).

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_spots, n_genes)
        A new matrix; spots whose total is 0 stay 0.

    Raises
    ------
    ValueError
        Negative, NaN or infinite values (naming the spot, gene and value), bad ``target_sum``.
    """
    X = _as_csr(counts, "counts")
    options = _fill(_core.NormalizeTotalOptions(), target_sum=0.0 if target_sum is None else target_sum,
                    num_threads=num_threads(n_jobs))
    return _from_parts(_core.normalize_total(*_parts(X), options))


def log1p(X, *, n_jobs=None):
    """Natural ``log(1 + x)`` of every value (scanpy.pp.log1p), as a new float32 CSR matrix.

    Raises ``ValueError`` for negative, NaN or infinite values (naming spot, gene, value).
    """
    X = _as_csr(X, "X")
    return _from_parts(_core.log1p(*_parts(X), num_threads(n_jobs)))


def filter_genes(counts, *, min_spots=_FILTER.min_spots, min_counts=_FILTER.min_counts):
    """Genes to keep, as scanpy.pp.filter_genes(min_cells=…, min_counts=…, inplace=False).

    Parameters
    ----------
    counts : scipy.sparse matrix or array-like of shape (n_spots, n_genes)
    min_spots : int, default=0
        Keep genes with a value > 0 in at least this many spots (scanpy's ``min_cells``);
        0 = off.
    min_counts : float, default=0
        Keep genes whose values sum to at least this; 0 = off. Both criteria must hold.

    Returns
    -------
    numpy.ndarray of bool, shape (n_genes,)
    """
    X = _as_csr(counts, "counts")
    options = _fill(_core.FilterGenesOptions(), min_spots=min_spots, min_counts=min_counts)
    keep, _, _ = _core.filter_genes(*_parts(X), options)
    return keep


@dataclass
class GeneMatch:
    """Genes shared by every section (see :func:`match_genes`).

    Attributes
    ----------
    names : list of str
        The shared genes, in the first section's order (a name repeats where ids tell the
        genes apart).
    ids : list of str or None
        Their ids in the first section (None when no ids were given).
    columns : list of numpy.ndarray of int32
        ``columns[s][k]``: the column of shared gene ``k`` in section ``s``, so
        ``counts_s[:, columns[s]]`` aligns section ``s`` to ``names``.
    """

    names: List[str]
    ids: Optional[List[str]]
    columns: List[np.ndarray]


def match_genes(names, ids=None):
    """Match genes across sections by name, by id where a name repeats.

    Parameters
    ----------
    names : list of list of str
        Each section's gene names, one per column.
    ids : list of (list of str or None), optional
        Each section's gene ids (e.g. Visium's Ensembl ids), one per name. A name that
        repeats within a section (Visium features share a few names) is matched by
        (name, id) in every section that has it, so those sections need ids; other names
        are matched by name alone.

    Returns
    -------
    GeneMatch

    Raises
    ------
    ValueError
        No gene shared (naming the section), a name repeated without distinct ids (naming
        the gene), lengths that disagree.
    """
    names = [[str(g) for g in section] for section in names]
    given = ids is not None and any(section is not None for section in ids)
    id_lists = [] if not given else [[] if section is None else [str(i) for i in section] for section in ids]
    shared, shared_ids, columns = _core.match_genes(names, id_lists)
    return GeneMatch(names=list(shared), ids=list(shared_ids) if given else None, columns=list(columns))


def highly_variable_genes_from_counts(matrices, genes, *, n_top_genes=_HVG.n_top_genes, flavor=_HVG.flavor,
                                      target_sum=_NORMALIZE.target_sum, n_jobs=None, **options):
    """Highly variable genes of one or several sections from raw counts, as scanpy selects them.

    Parameters
    ----------
    matrices : scipy.sparse matrix / array-like, or a list of them, each (n_spots_s, n_genes)
        Raw counts per section ("batch"), columns aligned to ``genes`` (see
        :func:`match_genes`). Several sections give scanpy's ``batch_key`` behaviour.
    genes : sequence of str, length n_genes
        Gene names: the index of the result.
    n_top_genes : int, default=2000
        Genes to select; more than there are selects them all.
    flavor : {"seurat", "seurat_v3", "pearson_residuals"}, default="seurat"
        ``"seurat"`` (scanpy's default; Satija et al. 2015) runs on
        ``log1p(normalize_total(counts, target_sum))``; ``"seurat_v3"`` (Stuart et al. 2019)
        and ``"pearson_residuals"`` (Lause et al. 2021, as STimage-1K4M) on the counts.
    target_sum : float or None, default=1e4
        ``"seurat"`` only: the normalisation total (None = median spot total).
    n_jobs : int, optional
        Threads (None or -1 = all cores); results do not depend on it.
    **options
        ``n_bins`` (seurat, default 20), ``span`` (seurat_v3 loess span, default 0.3),
        ``theta`` (pearson_residuals, default 100), ``clip`` (pearson_residuals; None or
        ≤ 0 = √(spots of the section), ``numpy.inf`` = none).

    Returns
    -------
    pandas.DataFrame indexed by ``genes``
        scanpy's columns for the flavour: ``means``, ``dispersions``, ``dispersions_norm``
        (seurat); ``means``, ``variances``, ``highly_variable_rank``, ``variances_norm``
        (seurat_v3); ``means``, ``variances``, ``residual_variances``,
        ``highly_variable_rank`` (pearson_residuals); with several sections
        ``highly_variable_nbatches`` (and ``highly_variable_intersection`` except for
        seurat_v3); always ``highly_variable`` (bool).

    Raises
    ------
    ValueError
        Invalid options (naming the option and its range), negative/NaN/infinite values
        (naming section, spot, gene and value), sections whose gene counts differ.

    Warns
    -----
    UserWarning
        Non-integer values where raw counts are expected (as scanpy).
    """
    if not isinstance(matrices, (list, tuple)):
        matrices = [matrices]
    mats = [_as_csr(X, f"matrices[{i}]") for i, X in enumerate(matrices)]
    genes = pd.Index(genes)
    for i, X in enumerate(mats):
        if X.shape[1] != len(genes):
            raise ValueError(f"matrices[{i}] has {X.shape[1]} genes (columns) but {len(genes)} gene names were given")

    for name in options:
        if name not in _HVG_FIELDS:
            raise TypeError(f"unexpected option {name!r}; expected one of {', '.join(_HVG_FIELDS)}")
    if options.get("clip", 0.0) is None:
        options["clip"] = 0.0
    threads = num_threads(n_jobs)
    hvg = _fill(_core.HvgOptions(), n_top_genes=n_top_genes, flavor=str(flavor), num_threads=threads, **options)
    normalize = _fill(_core.NormalizeTotalOptions(), target_sum=0.0 if target_sum is None else target_sum,
                      num_threads=threads)

    r = _core.highly_variable_genes([_parts(X) for X in mats], hvg, True, normalize)
    for w in r.warnings:
        warnings.warn(w, UserWarning, stacklevel=2)

    several = len(mats) > 1
    if r.flavor == "seurat":
        columns = ["means", "dispersions", "dispersions_norm"]
    elif r.flavor == "seurat_v3":
        columns = ["means", "variances", "highly_variable_rank", "variances_norm"]
    else:
        columns = ["means", "variances", "residual_variances", "highly_variable_rank"]
    data = {c: getattr(r, c) for c in columns}
    if several:
        data["highly_variable_nbatches"] = r.highly_variable_nbatches.astype(np.int64)
        if r.flavor != "seurat_v3":
            data["highly_variable_intersection"] = r.highly_variable_intersection
    data["highly_variable"] = r.highly_variable
    return pd.DataFrame(data, index=genes)
