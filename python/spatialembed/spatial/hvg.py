"""Highly variable genes over sections, genes matched by name."""
from ..spatial_expression import highly_variable_genes_from_counts, match_genes


def highly_variable_genes(sections, n_top_genes=None, flavor=None, **options):
    """Highly variable genes of one or several sections, as scanpy selects them.

    Genes are matched across sections by name (by Ensembl id where Visium names repeat),
    never by column position; only the genes shared by every section are ranked. Several
    sections follow scanpy's ``batch_key`` rule: genes are ranked by the number of sections
    they are highly variable in, then by the flavour's tie-break (median rank for
    ``seurat_v3`` / ``pearson_residuals``, mean normalised dispersion for ``seurat``).

    Parameters
    ----------
    sections : Section or list of Section
        Their raw counts are used (``seurat`` normalises and log-transforms them itself).
    n_top_genes : int, optional
        Default: the C++ ``HvgOptions`` default (2000).
    flavor : {"seurat", "seurat_v3", "pearson_residuals"}, optional
        Default: the C++ default (``"seurat"``, scanpy's). STimage-1K4M used
        ``"pearson_residuals"``.
    **options
        Passed to :func:`spatialembed.spatial_expression.highly_variable_genes_from_counts`
        (``n_bins``, ``span``, ``theta``, ``clip``, ``target_sum``, ``n_jobs``).

    Returns
    -------
    pandas.DataFrame
        Indexed by gene name (the shared genes, in the first section's order), with scanpy's
        columns (``highly_variable``, ``highly_variable_rank``, the flavour's statistics; with
        several sections ``highly_variable_nbatches``); ``gene_ids`` when the sections have ids.

    Raises
    ------
    ValueError
        No gene shared by all sections (naming the section), a gene name repeated without ids,
        invalid options (from C++).
    """
    from .section import Section

    if isinstance(sections, Section):
        sections = [sections]
    sections = list(sections)
    if not sections:
        raise ValueError("highly_variable_genes needs at least one section")
    have_ids = [s.gene_ids is not None for s in sections]
    ids = [list(s.gene_ids) if s.gene_ids is not None else None for s in sections] if any(have_ids) else None
    match = match_genes([list(s.genes) for s in sections], ids)
    matrices = [s.counts[:, columns] for s, columns in zip(sections, match.columns)]
    if n_top_genes is not None:
        options["n_top_genes"] = n_top_genes
    if flavor is not None:
        options["flavor"] = flavor
    table = highly_variable_genes_from_counts(matrices, match.names, **options)
    if match.ids is not None:
        table.insert(0, "gene_ids", match.ids)
    return table
