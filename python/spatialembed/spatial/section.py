"""The :class:`Section`: an H&E image, the spots on it and their counts."""
import os

import numpy as np
import scipy.sparse

from .. import _core


class Section:
    """One spatial-transcriptomics section: spots paired with their count rows by id, the
    genes, the H&E image and where everything came from.

    Get one from :func:`read_her2st`, :func:`read_stimage1k4m`, :func:`read_visium` or
    :meth:`from_anndata`. Coordinates are full-resolution image pixels (x = column,
    y = row).

    Attributes
    ----------
    name : str
        Section or slide name.
    spots : pandas.DataFrame
        One row per spot, indexed by spot id: ``x``, ``y`` (float64, full-resolution pixels),
        ``array_row``, ``array_col`` (int64 grid position, -1 if unknown), ``in_tissue``
        (bool) and ``label`` when labels are set.
    counts : scipy.sparse.csr_matrix
        (n_spots, n_genes) float32 raw counts, rows in ``spots`` order.
    genes : pandas.Index
        Gene names (may repeat in Visium data, where ``gene_ids`` tell them apart).
    gene_ids : pandas.Index or None
        Ensembl ids where the layout has them.
    spot_diameter : float
        Spot diameter in full-resolution pixels.
    spots_without_counts, counts_without_spots : list of str
        Ids the reader could not pair (left out of the section).
    provenance : dict
        ``layout``, ``image_path``, ``counts_path``, ``spots_path``, ``scalefactors_path``,
        ``image_scale`` (image pixels per full-resolution pixel) and the Visium scale factors.
    """

    def __init__(self, cpp):
        if not isinstance(cpp, _core.Section):
            raise TypeError("use read_her2st, read_stimage1k4m, read_visium or Section.from_anndata")
        self._cpp = cpp
        self._spots = None
        self._counts = None

    # ------------------------------------------------------------------ plain data
    @property
    def name(self):
        return self._cpp.name

    @property
    def n_spots(self):
        return self._cpp.n_spots

    @property
    def n_genes(self):
        return self._cpp.n_genes

    @property
    def spots(self):
        if self._spots is None:
            import pandas as pd

            s = self._cpp.spots
            frame = pd.DataFrame({"x": s.x, "y": s.y, "array_row": s.array_row, "array_col": s.array_col,
                                  "in_tissue": s.in_tissue}, index=pd.Index(s.ids, name="spot"))
            if s.labels:
                frame["label"] = pd.Categorical(s.labels)
            self._spots = frame
        return self._spots

    @property
    def counts(self):
        if self._counts is None:
            indptr, indices, data, shape = self._cpp.counts_csr()
            self._counts = scipy.sparse.csr_matrix((data, indices, indptr), shape=shape)
        return self._counts

    @property
    def genes(self):
        import pandas as pd

        return pd.Index(self._cpp.gene_names, name="gene")

    @property
    def gene_ids(self):
        import pandas as pd

        ids = self._cpp.gene_ids
        return pd.Index(ids, name="gene_id") if ids else None

    @property
    def spot_diameter(self):
        return self._cpp.spot_diameter

    @property
    def spots_without_counts(self):
        return list(self._cpp.spots_without_counts)

    @property
    def counts_without_spots(self):
        return list(self._cpp.counts_without_spots)

    @property
    def warnings(self):
        return list(self._cpp.warnings)

    @property
    def provenance(self):
        p = self._cpp.provenance
        return {name: getattr(p, name) for name in ("layout", "image_path", "counts_path", "spots_path",
                                                     "scalefactors_path", "image_scale", "tissue_hires_scalef",
                                                     "tissue_lowres_scalef")}

    def __repr__(self):
        return (f"Section({self.name!r}: {self.n_spots} spots x {self.n_genes} genes, "
                f"spot diameter {self.spot_diameter:.1f} px, {self.provenance['layout']})")

    def set_labels(self, labels):
        """Attach one annotation per spot (e.g. pathologist regions) for plots and evaluation.

        Parameters
        ----------
        labels : mapping or pandas.Series (spot id -> label) or sequence of n_spots labels
            Spots missing from a mapping get the label ``""``.
        """
        import pandas as pd

        if isinstance(labels, (dict, pd.Series)):
            mapping = dict(labels)
            values = [str(mapping.get(i, "")) for i in self._cpp.spots.ids]
        else:
            values = [str(v) for v in labels]
            if len(values) != self.n_spots:
                raise ValueError(f"labels has {len(values)} entries for {self.n_spots} spots")
        spots = self._cpp.spots
        spots.labels = values
        self._cpp.spots = spots
        self._spots = None
        return self

    # ------------------------------------------------------------------ image and tiles
    @property
    def image(self):
        """The section's image, opened lazily: an ``ImageFile`` whose header is read but
        whose pixels are decoded only by ``read_region`` / tiles (``.info.width``,
        ``.info.height``, ``.info.format``). None when the section has no image."""
        path = self._cpp.provenance.image_path
        if not path:
            return None
        from ..spatial_image import open_image

        return open_image(path)

    def tiles(self, size=224, output_size=None, diameter_multiple=None, *, n_jobs=None, verbose=False, **options):
        """The H&E tile under every spot, in spot order.

        Parameters
        ----------
        size : int, default=224
            Crop side in full-resolution pixels, centred on the spot (``x0 =
            floor(x - size/2 + 1/2)``, likewise for rows).
        output_size : int, optional
            Side the crops are resampled to (antialiased, as PIL's ``resize(...,
            reducing_gap=None)``); default: no resampling.
        diameter_multiple : float, optional
            Crop side = round(multiple x spot diameter) instead of ``size``.
        n_jobs : int, optional
            Threads (None or -1 = all cores); the tiles do not depend on it.
        verbose : bool
            Show a progress bar.
        **options
            Other ``TileOptions`` fields: ``filter`` ("box", "bilinear" (default),
            "bicubic", "lanczos"), ``fill`` (255: white outside the image).

        Returns
        -------
        numpy.ndarray of shape (n_spots, H, W, 3), uint8

        Warns
        -----
        UserWarning
            Naming the spots whose crop crossed the image border (padded with ``fill``).

        Notes
        -----
        The image is decoded once, only the rows and columns the crops need; for a Visium
        section read with ``tissue_hires_image.png`` positions and ``size`` are scaled by
        ``provenance["image_scale"]``.
        """
        result = self._cut(size, output_size, diameter_multiple, n_jobs, verbose, options)
        if len(result.padded):
            import warnings

            ids = [self._cpp.spots.ids[i] for i in result.padded[:10]]
            warnings.warn(f"section {self.name!r}: {len(result.padded)} tile(s) cross the image border and are padded "
                          f"with fill: {', '.join(ids)}{' …' if len(result.padded) > 10 else ''}", UserWarning,
                          stacklevel=2)
        return result.pixels

    def iter_tiles(self, size=224, output_size=None, diameter_multiple=None, *, batch_size=256, n_jobs=None, **options):
        """Batches of tiles made on background threads while the caller works on the last one.

        Yields ``(spot_indices, pixels)`` with ``pixels`` of shape (batch, H, W, 3) uint8, in
        spot order; parameters as :meth:`tiles`.
        """
        from ..spatial_image import _tile_options

        opts = _tile_options(n_jobs, self._tile_fields(size, output_size, diameter_multiple, options,
                                                       batch_size=batch_size))
        for batch in _core.section_tile_loader(self._cpp, opts):
            yield batch.spots, batch.pixels

    def thumbnail(self, max_side=1000):
        """The whole image downscaled (antialiased) to at most ``max_side`` pixels on its long
        side. Returns ``(pixels (h, w, 3) uint8, scale)`` where ``scale`` maps full-resolution
        pixels to thumbnail pixels."""
        from ..spatial_image import cut_tiles

        image = self.image
        if image is None:
            raise ValueError(f"section {self.name!r} has no image")
        width, height = image.info.width, image.info.height
        side = max(width, height)
        out = min(int(max_side), side)
        tile = cut_tiles(image, [width / 2], [height / 2], size=side, output_size=out, filter="box").pixels[0]
        shrink = out / side
        crop = tile[: max(1, round(height * shrink)), : max(1, round(width * shrink))]
        return crop, shrink * self.provenance["image_scale"]

    def _tile_fields(self, size, output_size, diameter_multiple, options, **more):
        fields = dict(options, size=int(size), **more)
        if output_size is not None:
            fields["output_size"] = int(output_size)
        if diameter_multiple is not None:
            fields["diameter_multiple"] = float(diameter_multiple)
        return fields

    def _cut(self, size, output_size, diameter_multiple, n_jobs, verbose, options):
        from .._progress import ProgressBar
        from ..spatial_image import _tile_options

        opts = _tile_options(n_jobs, self._tile_fields(size, output_size, diameter_multiple, options))
        bar = ProgressBar("cutting tiles", "tiles") if verbose else None
        try:
            return _core.cut_section_tiles(self._cpp, opts, bar)
        finally:
            if bar is not None:
                bar.close()

    # ------------------------------------------------------------------ AnnData
    def to_anndata(self, library_id=None):
        """This section as an AnnData with scanpy/squidpy's spatial conventions.

        ``X`` = raw counts (CSR float32), ``obs`` = the spot table without x/y,
        ``obsm["spatial"]`` = (x, y) full-resolution pixels, ``var`` indexed by gene name
        (made unique with ``-1``, ``-2``… suffixes where names repeat, as AnnData's
        ``var_names_make_unique``) with ``gene_ids``, and
        ``uns["spatial"][library_id]`` with ``scalefactors`` (``spot_diameter_fullres``,
        ``tissue_hires_scalef``, ``tissue_lowres_scalef``) and ``metadata`` (the source
        files, so :meth:`from_anndata` can find the image again).
        """
        import anndata
        import pandas as pd

        library_id = library_id or self.name
        obs = self.spots.drop(columns=["x", "y"]).copy()
        obs.index = obs.index.astype(str)
        var = pd.DataFrame(index=pd.Index(self._cpp.gene_names, name=None).astype(str))
        if self.gene_ids is not None:
            var["gene_ids"] = list(self._cpp.gene_ids)
        adata = anndata.AnnData(X=self.counts.copy(), obs=obs, var=var)
        adata.var_names_make_unique()
        adata.obsm["spatial"] = self.spots[["x", "y"]].to_numpy(dtype=np.float64)
        p = self.provenance
        scalefactors = {"spot_diameter_fullres": float(self.spot_diameter)}
        for key in ("tissue_hires_scalef", "tissue_lowres_scalef"):
            if p[key] > 0:
                scalefactors[key] = float(p[key])
        metadata = {key: str(p[key]) for key in ("layout", "image_path", "counts_path", "spots_path")}
        metadata["image_scale"] = float(p["image_scale"])
        adata.uns["spatial"] = {library_id: {"images": {}, "scalefactors": scalefactors, "metadata": metadata}}
        return adata

    @classmethod
    def from_anndata(cls, adata, library_id=None, image=None, counts_layer=None):
        """A Section from an AnnData in scanpy/squidpy's spatial conventions.

        Parameters
        ----------
        adata : anndata.AnnData
            ``X`` (or ``layers[counts_layer]``) holds raw counts (spots x genes);
            ``obsm["spatial"]`` the (x, y) full-resolution pixel positions;
            ``uns["spatial"][library_id]["scalefactors"]["spot_diameter_fullres"]`` the spot
            diameter. ``obs`` columns ``in_tissue``, ``array_row``, ``array_col`` and
            ``label`` are used when present; ``var["gene_ids"]`` when present.
        library_id : str, optional
            Key in ``uns["spatial"]``; needed only when there are several.
        image : str or path, optional
            Full-resolution image for tiles; default: the ``metadata["image_path"]`` written
            by :meth:`to_anndata` when that file exists.
        counts_layer : str, optional
            Layer holding the raw counts instead of ``X``.

        Raises
        ------
        ValueError
            Missing ``obsm["spatial"]`` or scale factors, negative or non-finite counts.
        """
        if "spatial" not in adata.obsm:
            raise ValueError("adata.obsm['spatial'] (spot x, y in full-resolution pixels) is missing")
        spatial = adata.uns.get("spatial", {})
        if library_id is None:
            if len(spatial) > 1:
                raise ValueError(f"adata.uns['spatial'] holds several libraries {sorted(spatial)}; pass library_id")
            library_id = next(iter(spatial), None)
        entry = spatial.get(library_id, {}) if library_id is not None else {}
        scalefactors = entry.get("scalefactors", {})
        if "spot_diameter_fullres" not in scalefactors:
            raise ValueError(f"adata.uns['spatial'][{library_id!r}]['scalefactors']['spot_diameter_fullres'] is missing")
        metadata = entry.get("metadata", {})

        cpp = _core.Section()
        cpp.name = str(library_id or "section")
        spots = _core.Spots()
        obs = adata.obs
        n = adata.n_obs
        xy = np.asarray(adata.obsm["spatial"], dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] < 2:
            raise ValueError(f"adata.obsm['spatial'] must be (n_spots, 2), got shape {xy.shape}")
        spots.ids = [str(i) for i in adata.obs_names]
        spots.x, spots.y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
        spots.array_row = np.asarray(obs["array_row"] if "array_row" in obs else np.full(n, -1), dtype=np.int64)
        spots.array_col = np.asarray(obs["array_col"] if "array_col" in obs else np.full(n, -1), dtype=np.int64)
        spots.in_tissue = np.asarray(obs["in_tissue"] if "in_tissue" in obs else np.ones(n), dtype=np.uint8)
        if "label" in obs:
            spots.labels = [str(v) for v in obs["label"]]
        cpp.spots = spots

        counts = adata.layers[counts_layer] if counts_layer else adata.X
        counts = scipy.sparse.csr_matrix(counts, dtype=np.float32)
        counts.sort_indices()
        cpp.set_counts(counts.indptr.astype(np.int64), counts.indices.astype(np.int32), counts.data,
                       counts.shape[0], counts.shape[1])
        cpp.integer_counts = bool(np.all(np.mod(counts.data, 1) == 0))
        cpp.gene_names = [str(g) for g in adata.var_names]
        if "gene_ids" in adata.var:
            cpp.gene_ids = [str(g) for g in adata.var["gene_ids"]]
        cpp.spot_diameter = float(scalefactors["spot_diameter_fullres"])

        provenance = _core.Provenance()
        provenance.layout = "anndata"
        for key in ("counts_path", "spots_path"):
            setattr(provenance, key, str(metadata.get(key, "")))
        image_path = os.fspath(image) if image is not None else str(metadata.get("image_path", ""))
        if image is not None and not os.path.isfile(image_path):
            raise OSError(f"image not found: {image_path}")
        if image_path and os.path.isfile(image_path):
            provenance.image_path = image_path
            if image is None:
                provenance.image_scale = float(metadata.get("image_scale", 1.0))
        for key in ("tissue_hires_scalef", "tissue_lowres_scalef"):
            setattr(provenance, key, float(scalefactors.get(key, 0.0)))
        cpp.provenance = provenance
        cpp.validate()
        return cls(cpp)

    # ------------------------------------------------------------------ plots
    def plot(self, gene=None, label=None, ax=None, image=True, max_side=1500, cmap="viridis", spot_alpha=0.8):
        """The H&E image with the spots drawn at their size, coloured by a gene or a label.

        Parameters
        ----------
        gene : str, optional
            Colour by this gene's log1p(normalize_total) expression (scanpy's definitions,
            target 1e4 counts per spot).
        label : str or bool, optional
            Colour by the spot labels (``True``, or the name of a column of ``spots``).
        ax : matplotlib Axes, optional
        image : bool
            Draw the image under the spots (decoded at most ``max_side`` pixels on its long
            side).
        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt
        from matplotlib.collections import EllipseCollection

        if gene is not None and label is not None:
            raise ValueError("give gene or label, not both")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 7))
        spots = self.spots
        scale = 1.0
        if image and self.provenance["image_path"]:
            picture, scale = self.thumbnail(max_side)
            ax.imshow(picture)
        x, y = spots["x"].to_numpy() * scale, spots["y"].to_numpy() * scale
        size = np.full(len(x), self.spot_diameter * scale)
        collection = EllipseCollection(size, size, np.zeros(len(x)), units="xy", offsets=np.c_[x, y],
                                       offset_transform=ax.transData, alpha=spot_alpha)
        if gene is not None:
            collection.set_array(self._log_expression(gene))
            collection.set_cmap(cmap)
            ax.figure.colorbar(collection, ax=ax, shrink=0.7, label=f"{gene}, log1p(normalised counts)")
        elif label is not None:
            column = "label" if label is True else label
            if column not in spots:
                raise ValueError(f"no spot column {column!r}; set labels with Section.set_labels")
            values = spots[column].astype(str)
            names = sorted(values.unique())
            colours = plt.get_cmap("tab20")(np.arange(len(names)) % 20)
            collection.set_facecolor(colours[[names.index(v) for v in values]])
            for name, colour in zip(names, colours):
                ax.scatter([], [], color=colour, label=name)
            ax.legend(loc="upper right", fontsize="small", title=column)
        ax.add_collection(collection)
        if not (image and self.provenance["image_path"]):
            ax.set_xlim(x.min() - size[0], x.max() + size[0])
            ax.set_ylim(y.max() + size[0], y.min() - size[0])
            ax.set_aspect("equal")
        ax.set_title(self.name)
        ax.set_axis_off()
        return ax

    def _log_expression(self, gene):
        names = self._cpp.gene_names
        matches = [j for j, g in enumerate(names) if g == gene]
        if not matches:
            raise ValueError(f"gene {gene!r} is not in section {self.name!r}")
        from ..spatial_expression import log1p, normalize_total

        return np.asarray(log1p(normalize_total(self.counts))[:, matches[0]].todense()).ravel()
