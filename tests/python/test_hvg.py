"""Expression normalisation, gene matching and HVG selection on the real her2st counts,
against NumPy/pandas implementations of scanpy's formulas written out here (scanpy is not
installed; each reference follows scanpy 1.9's code step by step)."""
import gzip
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from spatialembed import spatial_expression as se

SECTIONS = ("C2", "C3", "C4")
N_TOP = 2000


def read_counts(path):
    """her2st counts: first row = tab + gene names, then ``XxY<TAB>counts…`` (int64 spots × genes)."""
    with gzip.open(path, "rt") as f:
        header, _, body = f.read().partition("\n")
    genes = header.rstrip("\r").split("\t")[1:]
    lines = body.rstrip("\n").split("\n")
    spots = [line.partition("\t")[0] for line in lines]
    values = np.fromstring("\t".join(line.partition("\t")[2] for line in lines), dtype=np.int64, sep="\t")
    return pd.DataFrame(values.reshape(len(lines), len(genes)), index=spots, columns=genes)


@pytest.fixture(scope="module")
def her2st(data_dir):
    folder = data_dir / "st" / "her2st" / "counts"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return {s: read_counts(folder / f"{s}.tsv.gz") for s in SECTIONS}


@pytest.fixture(scope="module")
def shared(her2st):
    """The three sections on their shared genes (pandas intersection in C2's order): the
    names, dense float64 counts and the same as CSR."""
    names = [set(her2st[s].columns) for s in SECTIONS]
    genes = [g for g in her2st[SECTIONS[0]].columns if all(g in n for n in names[1:])]
    dense = [her2st[s][genes].to_numpy(np.float64) for s in SECTIONS]
    return genes, dense, [sp.csr_matrix(x) for x in dense]


# ---------------------------------------------------------------- reference formulas


def ref_normalize_log(counts, target_sum=1e4):
    """normalize_total then log1p, stored as float32 (scanpy's recipe on float32 data)."""
    total = counts.sum(axis=1, keepdims=True)
    norm = (counts * (target_sum / np.where(total > 0, total, 1))).astype(np.float32)
    return np.log1p(norm.astype(np.float64)).astype(np.float32)


def ref_seurat_single(log_x, n_top, n_bins=20):
    """scanpy _highly_variable_genes_single_batch(flavor="seurat", n_top_genes=n_top)."""
    x = np.expm1(log_x.astype(np.float64))
    mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
    mean[mean == 0] = 1e-12
    dispersion = var / mean
    dispersion[dispersion == 0] = np.nan
    dispersion = np.log(dispersion)
    mean = np.log1p(mean)
    df = pd.DataFrame({"means": mean, "dispersions": dispersion})
    df["mean_bin"] = pd.cut(df["means"], bins=n_bins)
    grouped = df.groupby("mean_bin", observed=True)["dispersions"]
    bin_mean, bin_std = grouped.mean(), grouped.std(ddof=1)
    one_gene = bin_std.isnull()
    bin_std[one_gene.values] = bin_mean[one_gene.values].values
    bin_mean[one_gene.values] = 0
    df["dispersions_norm"] = (df["dispersions"].values - bin_mean[df["mean_bin"].values].values) / \
        bin_std[df["mean_bin"].values].values
    norm = df["dispersions_norm"].values
    finite = np.sort(norm[~np.isnan(norm)])[::-1]
    n = min(n_top, len(norm), finite.size)
    df["highly_variable"] = np.nan_to_num(norm) >= finite[n - 1]
    return df.drop(columns="mean_bin")


def ref_seurat_batches(logs, genes, n_top):
    """scanpy's batch_key path for flavor="seurat"."""
    frames = []
    for log_x in logs:
        keep = (log_x > 0).sum(axis=0) >= 1
        hvg = ref_seurat_single(log_x[:, keep], n_top)
        full = pd.DataFrame({"means": 0.0, "dispersions": 0.0, "dispersions_norm": 0.0, "highly_variable": False},
                            index=range(len(genes)))
        full.loc[np.where(keep)[0], ["means", "dispersions", "dispersions_norm", "highly_variable"]] = hvg[
            ["means", "dispersions", "dispersions_norm", "highly_variable"]].values
        full["gene"] = genes
        frames.append(full)
    df = pd.concat(frames, axis=0)
    df["highly_variable"] = df["highly_variable"].astype(int)
    df = df.groupby("gene").agg(dict(means=np.nanmean, dispersions=np.nanmean, dispersions_norm=np.nanmean,
                                     highly_variable="sum"))
    df = df.rename(columns=dict(highly_variable="highly_variable_nbatches"))
    df["highly_variable_intersection"] = df["highly_variable_nbatches"] == len(logs)
    df = df.sort_values(["highly_variable_nbatches", "dispersions_norm"], ascending=False, na_position="last")
    df["highly_variable"] = np.arange(len(df)) < n_top
    return df.loc[genes]


def ref_loess(x, y, span=0.3):
    """Direct loess, degree 2: per point a tricube-weighted quadratic fit over the
    floor(span·n) nearest points (weights (1 − (d/h)³)³, h = distance to the farthest of them)."""
    n = len(x)
    q = int(np.floor(n * span))
    xs, ys = np.sort(x, kind="stable"), y[np.argsort(x, kind="stable")]
    # The fit depends on the x value only (tied genes get one fit): fit at the distinct values.
    ux, inverse = np.unique(x, return_inverse=True)
    lo = np.empty(len(ux), dtype=np.int64)
    left = 0
    for i, x0 in enumerate(ux):  # the q nearest points of x0 are a contiguous window of the sorted x
        while left + q < n and x0 - xs[left] > xs[left + q] - x0:
            left += 1
        lo[i] = left
    fitted = np.empty(len(ux))
    chunk = 128
    for start in range(0, len(ux), chunk):
        p = np.arange(start, min(len(ux), start + chunk))
        a, b = lo[p[0]], lo[p[-1]] + q  # the union of the chunk's windows
        h = np.maximum(ux[p] - xs[lo[p]], xs[lo[p] + q - 1] - ux[p])
        u = np.abs(xs[None, a:b] - ux[p, None]) / h[:, None]
        w = np.where(u < 1, (1 - u ** 3) ** 3, 0.0)
        # Weighted normal equations of the quadratic in t = x − c (c = the chunk's centre; the
        # same fit as a quadratic in x − x0, reparametrised), evaluated at x0.
        c = ux[p].mean()
        t, t0 = xs[a:b] - c, ux[p] - c
        moments = w @ np.stack([t ** k for k in range(5)], axis=1)         # (chunk, 5)
        rhs = w @ np.stack([ys[a:b] * t ** k for k in range(3)], axis=1)  # (chunk, 3)
        lhs = np.stack([moments[:, i:i + 3] for i in range(3)], axis=1)   # (chunk, 3, 3)
        beta = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        fitted[p] = beta[:, 0] + beta[:, 1] * t0 + beta[:, 2] * t0 ** 2
    return fitted[inverse]


def ref_ranks_merge(values, n_top):
    """argsort twice (stable) per batch, count batches with rank < n_top, median of those ranks."""
    ranks = np.argsort(np.argsort(-values, axis=1, kind="stable"), axis=1, kind="stable").astype(np.float64)
    nbatches = (ranks < n_top).sum(axis=0)
    ranks[ranks >= n_top] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        median = np.nanmedian(ranks, axis=0)
    return nbatches, median


def ref_seurat_v3(batches, n_top, span=0.3):
    """scanpy _highly_variable_genes_seurat_v3 (flavor="seurat_v3"), loess done directly."""
    everything = np.vstack(batches)
    norm_vars = []
    for x in batches:
        n = x.shape[0]
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        varying = var > 0
        estimated = np.zeros(x.shape[1])
        estimated[varying] = ref_loess(np.log10(mean[varying]), np.log10(var[varying]), span)
        reg_std = np.sqrt(10 ** estimated)
        clipped = np.minimum(x, reg_std * np.sqrt(n) + mean)
        norm_vars.append((n * mean ** 2 + (clipped ** 2).sum(axis=0) - 2 * clipped.sum(axis=0) * mean)
                         / ((n - 1) * reg_std ** 2))
    norm_vars = np.array(norm_vars)
    nbatches, median = ref_ranks_merge(norm_vars, n_top)
    df = pd.DataFrame({"means": everything.mean(axis=0), "variances": everything.var(axis=0, ddof=1),
                       "highly_variable_nbatches": nbatches, "highly_variable_rank": median,
                       "variances_norm": norm_vars.mean(axis=0)})
    order = df.sort_values(["highly_variable_rank", "highly_variable_nbatches"], ascending=[True, False],
                           na_position="last").index
    df["highly_variable"] = df.index.isin(order[:n_top])
    return df


def ref_pearson(batches, n_top, theta=100.0):
    """scanpy.experimental _highly_variable_pearson_residuals, clip = sqrt(spots of each batch)."""
    everything = np.vstack(batches)
    residual_vars = []
    for x in batches:
        keep = (x > 0).sum(axis=0) >= 1
        xk = x[:, keep]
        mu = np.outer(xk.sum(axis=1), xk.sum(axis=0)) / xk.sum()
        residuals = np.clip((xk - mu) / np.sqrt(mu + mu ** 2 / theta), -np.sqrt(x.shape[0]), np.sqrt(x.shape[0]))
        full = np.zeros(x.shape[1])
        full[keep] = residuals.var(axis=0)
        residual_vars.append(full)
    residual_vars = np.array(residual_vars)
    nbatches, median = ref_ranks_merge(residual_vars, n_top)
    df = pd.DataFrame({"means": everything.mean(axis=0), "variances": everything.var(axis=0, ddof=1),
                       "residual_variances": residual_vars.mean(axis=0), "highly_variable_rank": median,
                       "highly_variable_nbatches": nbatches,
                       "highly_variable_intersection": nbatches == len(batches)})
    order = df.sort_values(["highly_variable_nbatches", "highly_variable_rank"], ascending=[False, True],
                           na_position="last").index
    df["highly_variable"] = df.index.isin(order[:n_top])
    return df


def assert_columns(ours, ref, columns, rtol=1e-6, atol=1e-9):
    for c in columns:
        a, b = ours[c].to_numpy(np.float64), np.asarray(ref[c], dtype=np.float64)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=c)
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=rtol, atol=atol, err_msg=c)


def assert_selection(ours, ref, n_top):
    np.testing.assert_array_equal(ours["highly_variable"].to_numpy(), np.asarray(ref["highly_variable"]))
    assert ours["highly_variable"].sum() >= min(n_top, len(ours))


# ---------------------------------------------------------------- normalisation


def test_normalize_total_and_log1p_equal_the_formula(her2st):
    counts = her2st["C2"].to_numpy()
    X = sp.csr_matrix(counts)
    norm = se.normalize_total(X)
    assert isinstance(norm, sp.csr_matrix) and norm.dtype == np.float32
    np.testing.assert_array_equal(norm.indptr, X.indptr)  # the structure is kept
    np.testing.assert_array_equal(norm.indices, X.indices)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    expected = X.data / counts.sum(axis=1)[rows] * 1e4
    np.testing.assert_allclose(norm.data, expected, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(norm.sum(axis=1)).ravel(), 1e4, rtol=1e-5)
    logged = se.log1p(norm)
    np.testing.assert_allclose(logged.data, np.log1p(expected), rtol=1e-6, atol=1e-7)
    # target_sum=None: the median spot total (scanpy's default); an empty spot stays empty.
    with_empty = np.vstack([counts[:5], np.zeros((1, counts.shape[1]), dtype=counts.dtype)])
    median = np.median(counts[:5].sum(axis=1))
    out = se.normalize_total(with_empty, target_sum=None).toarray()
    np.testing.assert_allclose(out[:5], counts[:5] / counts[:5].sum(axis=1, keepdims=True) * median, rtol=1e-6)
    assert not out[5].any()


def test_filter_genes_as_scanpy(her2st):
    counts = her2st["C3"].to_numpy()
    keep = se.filter_genes(sp.csr_matrix(counts), min_spots=3)
    np.testing.assert_array_equal(keep, (counts > 0).sum(axis=0) >= 3)
    keep = se.filter_genes(counts, min_counts=10)
    np.testing.assert_array_equal(keep, counts.sum(axis=0) >= 10)
    assert 0 < keep.sum() < counts.shape[1]


# ---------------------------------------------------------------- gene matching


def test_match_genes_on_real_sections(her2st, shared):
    genes = shared[0]
    match = se.match_genes([list(her2st[s].columns) for s in SECTIONS])
    assert match.names == genes and match.ids is None
    for s, cols in zip(SECTIONS, match.columns):
        assert list(her2st[s].columns[cols]) == genes
    assert len(genes) < min(her2st[s].shape[1] for s in SECTIONS)


def test_match_genes_by_id_where_names_repeat():
    match = se.match_genes([["TBCE", "ACTB", "TBCE"], ["TBCE", "TBCE", "ACTB"]],
                           ids=[["E1", "E2", "E3"], ["E3", "E1", "E2"]])
    assert match.names == ["TBCE", "ACTB", "TBCE"] and match.ids == ["E1", "E2", "E3"]
    np.testing.assert_array_equal(match.columns[1], [1, 2, 0])


# ---------------------------------------------------------------- HVG: one section


def test_seurat_single_section_equals_scanpy_formula(her2st):
    counts = her2st["C2"]
    ours = se.highly_variable_genes_from_counts(sp.csr_matrix(counts.to_numpy()), counts.columns)
    assert list(ours.columns) == ["means", "dispersions", "dispersions_norm", "highly_variable"]
    assert list(ours.index) == list(counts.columns)
    ref = ref_seurat_single(ref_normalize_log(counts.to_numpy(np.float64)), N_TOP)
    assert_columns(ours, ref, ["means", "dispersions", "dispersions_norm"])
    assert_selection(ours, ref, N_TOP)


@pytest.mark.parametrize("flavor", ["seurat_v3", "pearson_residuals"])
def test_count_flavours_single_section_equal_formula(her2st, flavor):
    counts = her2st["C2"]
    x = counts.to_numpy(np.float64)
    ours = se.highly_variable_genes_from_counts(sp.csr_matrix(x), counts.columns, flavor=flavor)
    if flavor == "seurat_v3":
        ref = ref_seurat_v3([x], N_TOP)
        columns = ["means", "variances", "highly_variable_rank", "variances_norm"]
    else:
        ref = ref_pearson([x], N_TOP)
        columns = ["means", "variances", "residual_variances", "highly_variable_rank"]
    assert list(ours.columns) == columns + ["highly_variable"]
    assert_columns(ours, ref, columns)
    assert_selection(ours, ref, N_TOP)
    assert ours["highly_variable"].sum() == N_TOP


# ---------------------------------------------------------------- HVG: three sections


def test_seurat_three_sections_equal_scanpy_batch_formula(shared):
    genes, batches, csr = shared
    ours = se.highly_variable_genes_from_counts(csr, genes)
    ref = ref_seurat_batches([ref_normalize_log(x) for x in batches], genes, N_TOP)
    assert_columns(ours, ref, ["means", "dispersions", "dispersions_norm"])
    np.testing.assert_array_equal(ours["highly_variable_nbatches"], ref["highly_variable_nbatches"])
    np.testing.assert_array_equal(ours["highly_variable_intersection"], ref["highly_variable_intersection"])
    assert_selection(ours, ref, N_TOP)
    assert ours["highly_variable"].sum() == N_TOP


@pytest.mark.parametrize("flavor", ["seurat_v3", "pearson_residuals"])
def test_count_flavours_three_sections_equal_formula(shared, flavor):
    genes, batches, csr = shared
    ours = se.highly_variable_genes_from_counts(csr, genes, flavor=flavor)
    if flavor == "seurat_v3":
        ref = ref_seurat_v3(batches, N_TOP)
        columns = ["means", "variances", "highly_variable_rank", "variances_norm"]
        assert list(ours.columns) == columns[:2] + ["highly_variable_rank", "variances_norm",
                                                    "highly_variable_nbatches", "highly_variable"]
    else:
        ref = ref_pearson(batches, N_TOP)
        columns = ["means", "variances", "residual_variances", "highly_variable_rank"]
        np.testing.assert_array_equal(ours["highly_variable_intersection"], ref["highly_variable_intersection"])
    assert_columns(ours, ref, columns)
    np.testing.assert_array_equal(ours["highly_variable_nbatches"], ref["highly_variable_nbatches"])
    assert_selection(ours, ref, N_TOP)


# ---------------------------------------------------------------- planted genes


@pytest.mark.parametrize("flavor", ["seurat", "seurat_v3", "pearson_residuals"])
def test_planted_genes_are_found(her2st, flavor):
    """C2's spots with ≥ 1000 counts (as after scanpy's filter_cells); ten genes with mean
    counts 1–4 replaced by Poisson counts 8× their mean on the left half of the section
    (grid x below the median) and none on the right: every flavour selects all ten among
    its top 300 of 15,706 genes (her2st's tumour sections hold many spatially variable genes
    of their own)."""
    counts = her2st["C2"]
    x = counts.to_numpy(np.float64)
    spots = x.sum(axis=1) >= 1000
    x, names = x[spots], counts.index[spots]
    mean = x.mean(axis=0)
    rng = np.random.default_rng(7)
    planted = rng.choice(np.where((mean > 1) & (mean < 4))[0], size=10, replace=False)
    grid_x = np.array([float(s.split("x")[0]) for s in names])
    left = grid_x < np.median(grid_x)
    size = x.sum(axis=1) / x.sum(axis=1).mean()
    for j in planted:
        x[:, j] = rng.poisson(mean[j] * size * np.where(left, 8.0, 0.0))
    ours = se.highly_variable_genes_from_counts(sp.csr_matrix(x), counts.columns, flavor=flavor, n_top_genes=300)
    assert ours["highly_variable"].iloc[planted].all(), ours.iloc[planted]
    assert ours["highly_variable"].sum() == 300


# ---------------------------------------------------------------- errors


def test_errors_name_the_value():
    good = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0], [5.0, 0.0, 1.0]]))
    bad = good.copy()
    bad.data[2] = np.nan  # spot 1, gene 1
    with pytest.raises(ValueError, match=r"spot 1, gene 1 is nan"):
        se.normalize_total(bad)
    bad.data[2] = -2.0
    with pytest.raises(ValueError, match=r"spot 1, gene 1 is -2"):
        se.log1p(bad)
    with pytest.raises(ValueError, match=r"batch 1.*spot 1, gene 1 is -2"):
        se.highly_variable_genes_from_counts([good, bad], ["a", "b", "c"], flavor="pearson_residuals")
    with pytest.raises(ValueError, match=r"no gene is shared: section 1"):
        se.match_genes([["a", "b"], ["c"]])
    with pytest.raises(ValueError, match=r"'b'"):
        se.match_genes([["a", "b", "b"], ["b"]])
    with pytest.raises(ValueError, match=r"n_top_genes must be ≥ 1, got 0"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c"], n_top_genes=0)
    with pytest.raises(ValueError, match=r"n_top_genes"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c"], n_top_genes=-3)
    with pytest.raises(ValueError, match=r"'cell_ranger'"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c"], flavor="cell_ranger")
    with pytest.raises(ValueError, match=r"theta must be > 0"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c"], flavor="pearson_residuals", theta=0.0)
    with pytest.raises(ValueError, match=r"3 genes \(columns\) but 4 gene names"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c", "d"])
    with pytest.raises(TypeError, match=r"'alpha'"):
        se.highly_variable_genes_from_counts(good, ["a", "b", "c"], alpha=1)
    with pytest.warns(UserWarning, match=r"non-integer"):
        se.highly_variable_genes_from_counts(good * 0.5, ["a", "b", "c"], flavor="pearson_residuals", n_top_genes=1)
