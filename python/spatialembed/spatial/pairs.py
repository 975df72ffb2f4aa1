"""Training pairs for the image–gene contrastive trainer, from sections."""
import numpy as np

from ..spatial_expression import log1p, normalize_total


def gene_columns(section, genes):
    """The columns of ``genes`` (names) in ``section``'s count matrix, (len(genes),) int64.

    Raises ValueError naming the section and gene when one is missing, or when the section
    repeats gene names (select genes by id first)."""
    names = list(section.genes)
    if len(set(names)) != len(names):
        raise ValueError(f"section {section.name!r} repeats gene names; select genes by id first")
    column = {name: j for j, name in enumerate(names)}
    missing = [g for g in genes if g not in column]
    if missing:
        raise ValueError(f"section {section.name!r} has no gene {missing[0]!r} ({len(missing)} of the "
                         f"{len(genes)} genes are missing)")
    return np.array([column[g] for g in genes], dtype=np.int64)


def pairs_from_sections(sections, genes, *, size=224, diameter_multiple=None, output_size=None, n_jobs=None):
    """Training pairs from sections: the tile under each spot and its expression.

    Parameters
    ----------
    sections : list of Section
    genes : sequence of str
        The genes of the expression vectors (e.g. the highly variable ones from
        :func:`spatialembed.highly_variable_genes`), matched in every section by name.
    size, diameter_multiple, output_size, n_jobs
        As :meth:`Section.tiles`.

    Returns
    -------
    tiles : ndarray (n_pairs, H, W, 3) uint8
        Spots of all sections, in section then spot order.
    expression : ndarray (n_pairs, len(genes)) float32
        ``log1p(normalize_total(counts, 1e4))`` (scanpy's definitions, over all of a section's
        genes) at ``genes``.
    group : ndarray (n_pairs,) int32
        Index of each pair's section (for ``validation_groups`` and held-out evaluation).

    Raises
    ------
    ValueError
        A gene missing from a section (naming both) or repeated there without ids.
    """
    genes = [str(g) for g in genes]
    tiles, expression, group = [], [], []
    for index, section in enumerate(sections):
        values = log1p(normalize_total(section.counts, n_jobs=n_jobs))[:, gene_columns(section, genes)]
        expression.append(np.asarray(values.todense(), dtype=np.float32))
        tiles.append(section.tiles(size=size, diameter_multiple=diameter_multiple, output_size=output_size,
                                   n_jobs=n_jobs))
        group.append(np.full(section.n_spots, index, dtype=np.int32))
    return np.concatenate(tiles), np.concatenate(expression), np.concatenate(group)
