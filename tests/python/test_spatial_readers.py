"""Spatial readers: her2st (real data), STimage-1K4M and Visium folders written here from the
real her2st data, AnnData round trips, and bad input."""
import gzip
import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse

import spatialembed as se

SECTIONS = {"B4": (283, 15289, 284), "C2": (187, 15706, 187), "C3": (180, 15821, 182),
            "C4": (184, 15842, 187), "C5": (181, 15721, 183), "C6": (178, 15772, 179)}


@pytest.fixture(scope="module")
def her2st(data_dir):
    return data_dir / "st" / "her2st"


class _ignore:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def pandas_reference(root, name):
    """The section as pandas reads it: counts joined to spot positions by id."""
    counts = pd.read_csv(root / "counts" / f"{name}.tsv.gz", sep="\t", index_col=0)
    spots = pd.read_csv(root / "spots" / f"{name}_selection.tsv", sep="\t")
    spots.index = [f"{x}x{y}" for x, y in zip(spots["x"], spots["y"])]
    return counts, spots


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_her2st_sections_match_the_readme_and_pandas(her2st, name):
    n_spots, n_genes, spot_rows = SECTIONS[name]
    with pytest.warns(UserWarning) if n_spots < spot_rows else _ignore():
        section = se.read_her2st(her2st, name)
    assert (section.n_spots, section.n_genes) == (n_spots, n_genes)
    assert section.n_spots + len(section.spots_without_counts) == spot_rows
    counts, spots = pandas_reference(her2st, name)
    # Every pairing is by id: the reference rows in the section's spot order.
    expected = counts.loc[section.spots.index].to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(section.counts.toarray(), expected)
    assert list(section.genes) == list(counts.columns)
    np.testing.assert_array_equal(section.spots["x"], spots.loc[section.spots.index, "pixel_x"])
    np.testing.assert_array_equal(section.spots["y"], spots.loc[section.spots.index, "pixel_y"])
    assert sorted(section.spots_without_counts) == sorted(set(spots.index) - set(counts.index))


def test_her2st_unmatched_spot_is_reported_by_id(her2st):
    with pytest.warns(UserWarning, match="18x20"):
        section = se.read_her2st(her2st, "B4")
    assert section.spots_without_counts == ["18x20"]
    assert "18x20" not in section.spots.index


def test_her2st_spot_diameter_is_half_the_grid_spacing(her2st):
    section = se.read_her2st(her2st, "C2")
    spots = section.spots
    at = {(c, r): (x, y) for c, r, x, y in zip(spots.array_col, spots.array_row, spots.x, spots.y)}
    steps = [np.hypot(at[(c + dc, r + dr)][0] - x, at[(c + dc, r + dr)][1] - y)
             for (c, r), (x, y) in at.items() for dc, dr in ((1, 0), (0, 1)) if (c + dc, r + dr) in at]
    assert section.spot_diameter == pytest.approx(0.5 * np.sort(steps)[len(steps) // 2])
    assert 140 < section.spot_diameter < 150  # the data README: ≈289 px apart in C2


# ---------------------------------------------------------------------------- other layouts
def write_stimage1k4m(section, root, image_bytes):
    (root / "coord").mkdir(parents=True)
    (root / "gene_exp").mkdir()
    (root / "image").mkdir()
    coord = pd.DataFrame({"yaxis": section.spots["y"], "xaxis": section.spots["x"],
                          "r": section.spot_diameter / 2}, index=section.spots.index)
    coord.to_csv(root / "coord" / "S_coord.csv")
    dense = pd.DataFrame(section.counts.toarray().astype(int), index=section.spots.index, columns=section.genes)
    dense.iloc[::-1].to_csv(root / "gene_exp" / "S_count.csv")  # rows in another order: paired by id
    (root / "image" / "S.png").write_bytes(image_bytes)  # JPEG bytes under a .png name, as STimage-1K4M has


HIRES_SCALE = 0.1


@pytest.fixture(scope="module")
def c2_hires_png(her2st, tmp_path_factory):
    """C2's image downscaled 10x as Space Ranger's tissue_hires_image.png would be."""
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(her2st / "images" / "C2.jpg") as image:
        small = image.resize((round(image.width * HIRES_SCALE), round(image.height * HIRES_SCALE)), Image.BILINEAR)
    path = tmp_path_factory.mktemp("hires") / "tissue_hires_image.png"
    small.save(path)
    return path


def write_visium(section, folder, hires_png, version=2, hires_scale=HIRES_SCALE):
    spatial = folder / "spatial"
    spatial.mkdir(parents=True)
    shutil.copy(hires_png, spatial / "tissue_hires_image.png")
    barcodes = [f"AAAC{i:06d}-1" for i in range(section.n_spots)]
    genes = list(section.genes)
    # CSC genes x barcodes holds the same arrays as CSR barcodes x genes.
    csr = section.counts.tocsr()
    with h5py.File(folder / "filtered_feature_bc_matrix.h5", "w") as f:
        m = f.create_group("matrix")
        m["barcodes"] = np.array(barcodes, dtype="S")
        m["data"] = csr.data.astype(np.int32)
        m["indices"] = csr.indices.astype(np.int64)
        m["indptr"] = csr.indptr.astype(np.int64)
        m["shape"] = np.array([len(genes), len(barcodes)], dtype=np.int32)
        feat = m.create_group("features")
        feat["name"] = np.array(genes, dtype="S")
        feat["id"] = np.array([f"ENSG{i:011d}" for i in range(len(genes))], dtype="S")
        feat["feature_type"] = np.array(["Gene Expression"] * len(genes), dtype="S")
    positions = pd.DataFrame({"barcode": barcodes, "in_tissue": 1, "array_row": section.spots["array_row"].to_numpy(),
                              "array_col": section.spots["array_col"].to_numpy(),
                              "pxl_row_in_fullres": section.spots["y"].to_numpy(),
                              "pxl_col_in_fullres": section.spots["x"].to_numpy()})
    # An out-of-tissue spot without counts, as Space Ranger lists them.
    positions.loc[len(positions)] = ["TTTT000000-1", 0, 0, 0, 10.0, 10.0]
    if version == 2:
        positions.to_csv(spatial / "tissue_positions.csv", index=False)
    else:
        positions.to_csv(spatial / "tissue_positions_list.csv", index=False, header=False)
    (spatial / "scalefactors_json.json").write_text(json.dumps(
        {"spot_diameter_fullres": section.spot_diameter, "tissue_hires_scalef": hires_scale,
         "tissue_lowres_scalef": hires_scale / 4, "fiducial_diameter_fullres": 1.0}))
    return barcodes


@pytest.fixture(scope="module")
def c2(her2st):
    return se.read_her2st(her2st, "C2")


def test_stimage1k4m_layout_reads_back_identically(c2, her2st, tmp_path):
    write_stimage1k4m(c2, tmp_path, (her2st / "images" / "C2.jpg").read_bytes())
    s = se.read_stimage1k4m(tmp_path, "S")
    assert list(s.spots.index) == list(c2.spots.index)
    np.testing.assert_array_equal(s.spots[["x", "y"]], c2.spots[["x", "y"]])
    assert (s.counts != c2.counts).nnz == 0
    assert list(s.genes) == list(c2.genes)
    assert s.spot_diameter == pytest.approx(c2.spot_diameter)
    assert s.provenance["layout"] == "stimage1k4m"


@pytest.mark.parametrize("version", [1, 2])
def test_visium_layout_reads_back_identically(c2, c2_hires_png, tmp_path, version):
    barcodes = write_visium(c2, tmp_path, c2_hires_png, version)
    s = se.read_visium(tmp_path)
    assert list(s.spots.index) == barcodes
    np.testing.assert_array_equal(s.spots[["x", "y"]], c2.spots[["x", "y"]])
    assert (s.counts != c2.counts).nnz == 0
    assert list(s.genes) == list(c2.genes)
    assert s.gene_ids[0] == "ENSG00000000000"
    assert s.provenance["image_scale"] == HIRES_SCALE  # no full-resolution image: the hires one
    assert s.provenance["image_path"].endswith("tissue_hires_image.png")
    full = se.read_visium(tmp_path, image=c2.provenance["image_path"])
    assert full.provenance["image_scale"] == 1.0


def test_visium_keeps_out_of_tissue_spots_when_asked(c2, c2_hires_png, tmp_path):
    write_visium(c2, tmp_path, c2_hires_png)
    with pytest.warns(UserWarning, match="TTTT000000-1"):
        s = se.read_visium(tmp_path, only_in_tissue=False)
    assert s.spots_without_counts == ["TTTT000000-1"]


# ---------------------------------------------------------------------------- AnnData
def test_anndata_round_trip(c2):
    adata = c2.to_anndata()
    assert adata.shape == (c2.n_spots, c2.n_genes)
    np.testing.assert_array_equal(adata.obsm["spatial"], c2.spots[["x", "y"]].to_numpy())
    assert adata.uns["spatial"]["C2"]["scalefactors"]["spot_diameter_fullres"] == c2.spot_diameter
    back = se.Section.from_anndata(adata)
    assert (back.counts != c2.counts).nnz == 0
    assert list(back.spots.index) == list(c2.spots.index)
    assert back.provenance["image_path"] == c2.provenance["image_path"]
    c2_labels = se.Section.from_anndata(adata).set_labels({c2.spots.index[0]: "tumour"})
    assert c2_labels.spots["label"].iloc[0] == "tumour"
    assert se.Section.from_anndata(c2_labels.to_anndata()).spots["label"].iloc[0] == "tumour"


def test_anndata_without_spatial_information_is_refused(c2):
    adata = c2.to_anndata()
    del adata.obsm["spatial"]
    with pytest.raises(ValueError, match="obsm\\['spatial'\\]"):
        se.Section.from_anndata(adata)
    adata = c2.to_anndata()
    adata.X = adata.X.copy()
    adata.X.data[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        se.Section.from_anndata(adata)


# ---------------------------------------------------------------------------- bad input
def test_missing_files_name_the_path(tmp_path, her2st):
    with pytest.raises(OSError, match="counts not found: .*X1.tsv.gz"):
        se.read_her2st(her2st, "X1")
    with pytest.raises(OSError, match="Visium count matrix not found"):
        se.read_visium(tmp_path)
    with pytest.raises(OSError, match="STimage-1K4M"):
        se.read_stimage1k4m(tmp_path, "S")


def test_hdf5_without_10x_groups(c2, c2_hires_png, tmp_path):
    write_visium(c2, tmp_path, c2_hires_png)
    with h5py.File(tmp_path / "filtered_feature_bc_matrix.h5", "w") as f:
        f["something"] = np.arange(3)
    with pytest.raises(ValueError, match="not a 10x Genomics feature-barcode matrix"):
        se.read_visium(tmp_path)
    (tmp_path / "filtered_feature_bc_matrix.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        se.read_visium(tmp_path)


def her2st_copy(her2st, tmp_path, name="C2"):
    for sub, file in (("counts", f"{name}.tsv.gz"), ("spots", f"{name}_selection.tsv"), ("images", f"{name}.jpg")):
        (tmp_path / sub).mkdir(exist_ok=True)
        shutil.copy(her2st / sub / file, tmp_path / sub / file)
    return tmp_path


def rewrite_counts(root, name, edit):
    path = root / "counts" / f"{name}.tsv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().split("\n")
    path.write_bytes(gzip.compress("\n".join(edit(lines)).encode(), compresslevel=1))


def test_bad_counts_name_file_row_and_value(her2st, tmp_path):
    root = her2st_copy(her2st, tmp_path)

    def negative(lines):
        fields = lines[5].split("\t")
        fields[3] = "-1"
        lines[5] = "\t".join(fields)
        return lines
    rewrite_counts(root, "C2", negative)
    with pytest.raises(ValueError, match=r"C2.tsv.gz: row 6 .*-1"):
        se.read_her2st(root, "C2")

    root = her2st_copy(her2st, tmp_path)
    rewrite_counts(root, "C2", lambda lines: lines[:1] + [lines[1].replace("\t0\t", "\tinf\t", 1)] + lines[2:])
    with pytest.raises(ValueError, match="finite number, got 'inf'"):
        se.read_her2st(root, "C2")

    root = her2st_copy(her2st, tmp_path)
    rewrite_counts(root, "C2", lambda lines: [lines[0].replace("SAMD11", "NOC2L")] + lines[1:])
    with pytest.raises(ValueError, match="gene name 'NOC2L' occurs twice"):
        se.read_her2st(root, "C2")

    root = her2st_copy(her2st, tmp_path)
    rewrite_counts(root, "C2", lambda lines: lines[:1])
    with pytest.raises(ValueError, match="header but no rows"):
        se.read_her2st(root, "C2")

    root = her2st_copy(her2st, tmp_path)
    (root / "counts" / "C2.tsv.gz").write_bytes(gzip.compress(b"abc")[:10])
    with pytest.raises(ValueError, match="C2.tsv.gz"):
        se.read_her2st(root, "C2")


def test_spot_ids_matching_no_count_row(her2st, tmp_path):
    root = her2st_copy(her2st, tmp_path)
    rewrite_counts(root, "C2", lambda lines: [lines[0]] + ["z" + line for line in lines[1:] if line])
    with pytest.raises(ValueError, match="none of the 187 spot ids"):
        se.read_her2st(root, "C2")


def test_options_are_validated_in_cpp(her2st):
    with pytest.raises(ValueError, match="diameter_to_spacing"):
        se.read_her2st(her2st, "C2", diameter_to_spacing=0)
    with pytest.raises(TypeError, match="no option 'radius'"):
        se.read_her2st(her2st, "C2", radius=3)


# ---------------------------------------------------------------------------- tiles through sections
def test_tiles_land_on_tissue(c2):
    tiles = c2.tiles()
    assert tiles.shape == (c2.n_spots, 224, 224, 3) and tiles.dtype == np.uint8
    background = c2.image.read_region(0, 0, 200, 200).mean()  # the slide's corner: no tissue
    means = tiles.reshape(len(tiles), -1).mean(axis=1)
    assert background > 225
    assert np.median(means) < background - 40


def test_tiles_are_the_crops_pil_cuts(c2):
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    tiles = c2.tiles(size=100)
    with Image.open(c2.provenance["image_path"]) as image:
        for i in (0, len(tiles) // 2, len(tiles) - 1):
            x0 = int(np.floor(c2.spots["x"].iloc[i] - 50 + 0.5))
            y0 = int(np.floor(c2.spots["y"].iloc[i] - 50 + 0.5))
            np.testing.assert_array_equal(tiles[i], np.asarray(image.crop((x0, y0, x0 + 100, y0 + 100))))


def test_stimage1k4m_tiles_equal_her2st_tiles(c2, her2st, tmp_path):
    write_stimage1k4m(c2, tmp_path, (her2st / "images" / "C2.jpg").read_bytes())
    s = se.read_stimage1k4m(tmp_path, "S")
    np.testing.assert_array_equal(s.tiles(size=64), c2.tiles(size=64))


def test_visium_tiles_from_a_tiled_bigtiff_equal_her2st_tiles(c2, c2_hires_png, tmp_path):
    import tifffile
    write_visium(c2, tmp_path, c2_hires_png)
    full = tmp_path / "fullres.tif"
    tifffile.imwrite(full, c2.image.read_region(0, 0, c2.image.info.width, c2.image.info.height),
                     tile=(512, 512), bigtiff=True, photometric="rgb")
    s = se.read_visium(tmp_path, image=full)
    assert s.image.info.format == "tiff" and s.image.info.random_access
    np.testing.assert_array_equal(s.tiles(size=96, output_size=48), c2.tiles(size=96, output_size=48))


def test_visium_hires_tiles_are_scaled_crops(c2, c2_hires_png, tmp_path):
    from PIL import Image
    write_visium(c2, tmp_path, c2_hires_png)
    s = se.read_visium(tmp_path)
    tiles = s.tiles(size=200)  # 200 full-resolution px = 20 hires px
    assert tiles.shape[1:] == (20, 20, 3)
    hires = np.asarray(Image.open(c2_hires_png).convert("RGB"))
    x0 = int(np.floor(s.spots["x"].iloc[3] * HIRES_SCALE - 10 + 0.5))
    y0 = int(np.floor(s.spots["y"].iloc[3] * HIRES_SCALE - 10 + 0.5))
    np.testing.assert_array_equal(tiles[3], hires[y0:y0 + 20, x0:x0 + 20])


def test_iter_tiles_gives_the_same_tiles_in_batches(c2):
    batches = list(c2.iter_tiles(size=64, output_size=32, batch_size=50))
    assert [len(spots) for spots, _ in batches] == [50, 50, 50, 37]
    np.testing.assert_array_equal(np.concatenate([p for _, p in batches]), c2.tiles(size=64, output_size=32))


def test_border_tiles_are_reported(c2):
    adata = c2.to_anndata()
    adata.obsm["spatial"][1] = (20.0, 30.0)  # a spot at the top-left corner of the image
    section = se.Section.from_anndata(adata)
    with pytest.warns(UserWarning, match=f"1 tile\\(s\\) cross the image border .*: {c2.spots.index[1]}$"):
        tiles = section.tiles(size=100)
    assert (tiles[1, :20, :] == 255).all()  # rows above the image are filled white
    with pytest.raises(ValueError, match="tiles of 8000 × 8000 RGB pixels: .* more than this machine"):
        c2.tiles(size=8000)


def test_an_image_smaller_than_the_spots_is_refused(her2st, tmp_path):
    from PIL import Image
    root = her2st_copy(her2st, tmp_path)
    Image.new("RGB", (500, 500), "white").save(root / "images" / "C2.jpg")
    with pytest.raises(ValueError, match=r"C2.jpg: the image is 500 × 500 pixels .* smaller than the spot coordinates"):
        se.read_her2st(root, "C2")
    (root / "images" / "C2.jpg").write_bytes((her2st / "images" / "C2.jpg").read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt or truncated JPEG .*C2.jpg"):
        se.read_her2st(root, "C2")
    data = (her2st / "images" / "C2.jpg").read_bytes()
    (root / "images" / "C2.jpg").write_bytes(data[:len(data) // 2])  # header intact, pixels cut short
    section = se.read_her2st(root, "C2")
    with pytest.raises(ValueError, match="C2.jpg"):
        section.tiles()


# ---------------------------------------------------------------------------- HVGs across sections
def test_hvg_matches_genes_by_name_not_position(c2, her2st, tmp_path):
    c3 = se.read_her2st(her2st, "C3")
    expected = se.highly_variable_genes([c2, c3], 500, "pearson_residuals")
    # The same C3 counts with the gene columns in reverse order, in the STimage-1K4M layout.
    (tmp_path / "coord").mkdir()
    (tmp_path / "gene_exp").mkdir()
    (tmp_path / "image").mkdir()
    pd.DataFrame({"yaxis": c3.spots["y"], "xaxis": c3.spots["x"], "r": 70.0},
                 index=c3.spots.index).to_csv(tmp_path / "coord" / "C3_coord.csv")
    dense = pd.DataFrame(c3.counts.toarray().astype(int), index=c3.spots.index, columns=c3.genes)
    dense[dense.columns[::-1]].to_csv(tmp_path / "gene_exp" / "C3_count.csv")
    shutil.copy(her2st / "images" / "C3.jpg", tmp_path / "image" / "C3.png")
    shuffled = se.read_stimage1k4m(tmp_path, "C3")
    got = se.highly_variable_genes([c2, shuffled], 500, "pearson_residuals")
    pd.testing.assert_frame_equal(got, expected)
    assert got["highly_variable"].sum() == 500
    assert set(got.index) == set(c2.genes) & set(c3.genes)


def test_hvg_refuses_sections_without_shared_genes(c2):
    other = c2.to_anndata()
    other.var_names = [f"X{i}" for i in range(other.n_vars)]
    with pytest.raises(ValueError, match="no gene"):
        se.highly_variable_genes([c2, se.Section.from_anndata(other)], 10)


# ---------------------------------------------------------------------------- trainer pairs
def test_pairs_from_sections(c2, her2st):
    from spatialembed.spatial import pairs_from_sections
    c3 = se.read_her2st(her2st, "C3")
    genes = ["ERBB2", "GAPDH", "ACTB"]
    tiles, expression, group = pairs_from_sections([c2, c3], genes, size=64, output_size=32)
    assert tiles.shape == (c2.n_spots + c3.n_spots, 32, 32, 3)
    assert group.tolist() == [0] * c2.n_spots + [1] * c3.n_spots
    np.testing.assert_array_equal(tiles[c2.n_spots:], c3.tiles(size=64, output_size=32))
    counts = c3.counts.toarray().astype(np.float64)  # scanpy's normalize_total + log1p, written out
    expected = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)[:, c3.genes.get_indexer(genes)]
    np.testing.assert_allclose(expression[c2.n_spots:], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="section 'C2' has no gene 'NOT_A_GENE'"):
        pairs_from_sections([c2, c3], ["ERBB2", "NOT_A_GENE"])
