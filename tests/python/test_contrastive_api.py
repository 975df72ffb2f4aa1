"""ContrastiveTrainer on real her2st sections: fit(sections) against the pieces written out
here (scanpy seurat_v3 HVGs through highly_variable_genes, log1p(normalize_total) in NumPy,
tiles at the spot diameter), BLEEP retrieval over all shared genes in NumPy, the evaluation
table against scikit-learn recomputed here, save/load, colour jitter against torchvision's
functional adjust_* on a real H&E tile, thread / loader independence, and the CLI run folder.

Small settings keep it quick: three sections, ResNet-50 (real ImageNet weights) at a 64 px
input, a few hundred training genes, a few epochs."""
import json
import warnings

import numpy as np
import pytest

import spatialembed

if not spatialembed.nn.has_nn():
    pytest.skip("built without LibTorch", allow_module_level=True)

from spatialembed import ContrastiveTrainer, highly_variable_genes, read_her2st  # noqa: E402
from spatialembed.nn import _nn  # noqa: E402

# deterministic=False: batched oneDNN backbone passes (the one-image-per-thread pass is slow on a
# loaded machine); both paths compared below batch the same tiles, so they still agree.
SMALL = dict(input_size=64, n_top_genes=300, batch_size=64, epochs=3, latent_dim=32, n_jobs=2, deterministic=False)


@pytest.fixture(scope="module")
def her2st(data_dir):
    root = data_dir / "st" / "her2st"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: read_her2st(root, name) for name in ("C2", "C3", "C4")}


@pytest.fixture(scope="module")
def fitted(her2st, tmp_path_factory):
    cache = tmp_path_factory.mktemp("features")
    est = ContrastiveTrainer(**SMALL, feature_cache=str(cache))
    est.fit([her2st["C2"], her2st["C3"]])
    return est


def log_normalised(section):
    """scanpy normalize_total(target_sum=1e4) + log1p, dense, written out."""
    counts = section.counts.toarray().astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    return np.log1p(counts / np.where(total > 0, total, 1) * 1e4)


def columns(section, genes):
    position = {g: j for j, g in enumerate(section.genes)}
    return [position[g] for g in genes]


def test_fit_sections_uses_the_highly_expressed_genes_and_log_normalised_expression(fitted, her2st):
    c2, c3 = her2st["C2"], her2st["C3"]
    shared = [g for g in c2.genes if g in set(c3.genes)]
    x = np.concatenate([log_normalised(c2)[:, columns(c2, shared)], log_normalised(c3)[:, columns(c3, shared)]])
    mean = dict(zip(shared, x.mean(axis=0)))
    chosen = set(fitted.genes_)
    assert len(chosen) == 300 and fitted.genes_ == [g for g in shared if g in chosen]  # in C2's gene order
    # the 300 highest means (float32 sums inside: ties at the boundary within 1e-5)
    assert min(mean[g] for g in chosen) >= max(mean[g] for g in shared if g not in chosen) - 1e-5
    assert fitted.n_genes_ == 300 and fitted.result_.train_pairs == c2.n_spots + c3.n_spots
    assert fitted.result_.features_cached
    # encode_genes(section) == the model on the expression written out here
    expected = log_normalised(c2)[:, columns(c2, fitted.genes_)].astype(np.float32)
    np.testing.assert_allclose(fitted.encode_genes(c2), fitted.encode_genes(expected), atol=1e-5)


def test_fit_sections_with_hvg_training_genes_uses_seurat_v3(fitted, her2st):
    c2, c3 = her2st["C2"], her2st["C3"]
    est = ContrastiveTrainer(**dict(SMALL, epochs=1), training_genes="hvg", feature_cache=fitted.feature_cache)
    est.fit([c2, c3])
    table = highly_variable_genes([c2, c3], n_top_genes=300, flavor="seurat_v3")
    assert est.genes_ == list(table.index[table["highly_variable"]])
    with pytest.raises(ValueError, match="training_genes"):
        ContrastiveTrainer(**SMALL, training_genes="hvgs").fit([c2, c3])


def test_encode_images_of_a_section_equals_its_tiles(fitted, her2st):
    c4 = her2st["C4"]
    emb = fitted.encode_images(c4)
    assert emb.shape == (c4.n_spots, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiles = c4.tiles(diameter_multiple=1.0, output_size=64)
    np.testing.assert_allclose(emb, fitted.encode_images(tiles), atol=1e-5)
    zero = fitted.encode_images(c4, zero_shot=True, normalize=False)
    assert zero.shape == (c4.n_spots, 2048)
    np.testing.assert_allclose(zero, fitted.model_.image_features(tiles), rtol=1e-5, atol=1e-5)


def test_predict_expression_is_bleep_retrieval_over_all_shared_genes(fitted, her2st):
    c2, c3, c4 = her2st["C2"], her2st["C3"], her2st["C4"]
    pred = fitted.predict_expression(c4, [c2, c3], k=10)
    shared = [g for g in c2.genes if g in set(c3.genes)]
    assert list(pred.columns) == shared and list(pred.index) == list(c4.spots.index)
    assert pred.shape == (c4.n_spots, len(shared)) and len(shared) > 10000
    # NumPy reference: cosine between image embeddings of C4 and gene embeddings of C2 + C3,
    # mean of the 10 nearest spots' log-normalised expression.
    q = fitted.encode_images(c4)
    r = np.concatenate([fitted.encode_genes(c2), fitted.encode_genes(c3)])
    y = np.concatenate([log_normalised(c2)[:, columns(c2, shared)], log_normalised(c3)[:, columns(c3, shared)]])
    nearest = np.argsort(-(q @ r.T), axis=1, kind="stable")[:, :10]
    expected = y[nearest].mean(axis=1)
    np.testing.assert_allclose(pred.to_numpy(), expected, atol=2e-4)
    genes = ["ERBB2", "ACTB"]
    assert list(fitted.predict_expression(c4, [c2, c3], k=10, genes=genes).columns) == genes


def test_evaluate_table_against_sklearn(fitted, her2st):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score

    c2, c3, c4 = her2st["C2"], her2st["C3"], her2st["C4"]
    # Labels: expression clusters of C4 (the upstream lbl/ files hold such labels; the shared
    # data has no pathologist annotation for these sections).
    x = log_normalised(c4)
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(PCA(10, random_state=0).fit_transform(x))
    table = fitted.evaluate(c4, [c2, c3], labels=labels, genes=["ERBB2", "ACTB", "KRT19"], k=10)
    assert set(table["model"]) == {"trained", "zero-shot"}
    assert {"retrieval", "ridge", "linear_probe", "kmeans", "hdbscan"} <= set(table["task"])
    value = table.set_index(["model", "task", "metric"])["value"]
    # retrieval HEG-50 r recomputed: top-50 mean genes of C4 among the shared ones, Pearson per gene
    shared = [g for g in c4.genes if g in set(c2.genes) and g in set(c3.genes)]
    truth = x[:, columns(c4, shared)]
    heg = np.argsort(-truth.mean(axis=0), kind="stable")[:50]
    pred = fitted.predict_expression(c4, [c2, c3], k=10, genes=[shared[j] for j in heg]).to_numpy()
    r = [np.corrcoef(pred[:, i], truth[:, j])[0, 1] for i, j in enumerate(heg)]
    assert value["trained", "retrieval", "HEG-50 r"] == pytest.approx(np.nanmean(r), abs=1e-4)
    # the user list is scored
    assert np.isfinite(value["trained", "retrieval", "genes r"])
    # k-means ARI recomputed with scikit-learn on the same embeddings
    emb = fitted.encode_images(c4)
    ari = adjusted_rand_score(labels, KMeans(4, n_init=10, random_state=0).fit_predict(emb))
    assert value["trained", "kmeans", "ARI"] == pytest.approx(ari, abs=1e-9)
    f1 = table[(table.task == "linear_probe") & (table.model == "zero-shot")]
    assert len(f1) == 1 and 0 < f1["value"].iloc[0] <= 1 and f1["std"].iloc[0] >= 0
    for metric in ("HEG-50 r", "HVG-50 r"):
        assert -1 <= value["zero-shot", "ridge", metric] <= 1


def test_zero_shot_needs_no_fit(her2st):
    est = ContrastiveTrainer(input_size=64, n_jobs=2, deterministic=False)
    table = est.evaluate(her2st["C4"], [her2st["C2"]], k=10)
    assert set(table["model"]) == {"zero-shot"} and "linear_probe" not in set(table["task"])
    with pytest.raises(ValueError, match="not fitted"):
        est.evaluate(her2st["C4"], [her2st["C2"]], zero_shot=False)


def test_save_load_keeps_genes_and_embeddings(fitted, her2st, tmp_path):
    fitted.save(tmp_path / "model.pt")
    loaded = ContrastiveTrainer.load(tmp_path / "model.pt", n_jobs=2)
    assert loaded.genes_ == fitted.genes_ and loaded.tile_diameter_multiple == 1.0
    np.testing.assert_array_equal(loaded.encode_genes(her2st["C4"]), fitted.encode_genes(her2st["C4"]))
    np.testing.assert_allclose(loaded.encode_images(her2st["C4"]), fitted.encode_images(her2st["C4"]), atol=1e-6)


def test_bad_input(her2st):
    est = ContrastiveTrainer(**SMALL)
    with pytest.raises(ValueError, match="empty"):
        est.fit([her2st["C2"]], validation=[])
    with pytest.raises(ValueError, match="batch_size"):
        ContrastiveTrainer(**dict(SMALL, batch_size=4096)).fit([her2st["C2"]])
    with pytest.raises(ValueError, match="jitter"):
        ContrastiveTrainer(jitter_hue=0.7).fit([her2st["C2"]])
    with pytest.raises(ValueError, match="labels has 3 entries"):
        ContrastiveTrainer(input_size=64).evaluate(her2st["C4"], [her2st["C2"]], labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="Section"):
        ContrastiveTrainer(input_size=64).evaluate(np.zeros((2, 8, 8, 3), np.uint8), [her2st["C2"]])


# ---------------------------------------------------------------- colour jitter and the loader

def test_color_jitter_matches_torchvision(her2st):
    torch = pytest.importorskip("torch")
    TF = pytest.importorskip("torchvision.transforms.functional")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiles = her2st["C4"].tiles(diameter_multiple=1.0, output_size=96)[:6]
    rng = np.random.default_rng(0)
    adjust = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    exact = total = 0
    for tile in tiles:
        b, c, s = rng.uniform(0.5, 1.5, 3)
        h = rng.uniform(-0.5, 0.5)
        order = list(rng.permutation(4))
        ours = _nn().color_jitter(tile, b, c, s, h, order)
        ref = torch.from_numpy(tile).permute(2, 0, 1).contiguous()
        for op in order:
            ref = adjust[op](ref, [b, c, s, h][op])
        ref = ref.permute(1, 2, 0).numpy()
        diff = np.abs(ours.astype(int) - ref.astype(int))
        assert diff.max() <= 1
        exact += int((diff == 0).sum())
        total += diff.size
    assert exact / total > 0.995
    # one adjustment at a time, brightness written out: trunc(clamp(f * x, 0, 255))
    tile = tiles[0]
    np.testing.assert_array_equal(_nn().color_jitter(tile, 1.3, order=[0]),
                                  np.clip(np.float32(1.3) * tile.astype(np.float32), 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def small_tiles(her2st):
    c2 = her2st["C2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiles = c2.tiles(diameter_multiple=1.0, output_size=32)[:64]
    x = log_normalised(c2)[:64, :64].astype(np.float32)
    return tiles, x


@pytest.mark.parametrize("setting", [dict(n_jobs=1, loader_threads=0), dict(n_jobs=2, loader_threads=2,
                                                                          prefetch_batches=3)])
def test_jitter_training_is_independent_of_threads_and_loader(small_tiles, setting):
    tiles, x = small_tiles
    common = dict(weights="random", input_size=32, train_backbone="last_stage", flips=True, jitter_brightness=0.4,
                  jitter_contrast=0.4, jitter_saturation=0.4, jitter_hue=0.1, latent_dim=16, batch_size=16, epochs=1,
                  gene_encoder="linear")
    base = ContrastiveTrainer(**common, n_jobs=1, loader_threads=1).fit(tiles, x)
    other = ContrastiveTrainer(**common, **setting).fit(tiles, x)
    assert not base.result_.features_cached
    np.testing.assert_array_equal(base.encode_images(tiles[:8]), other.encode_images(tiles[:8]))
    np.testing.assert_array_equal(base.result_.epoch_loss, other.result_.epoch_loss)


def test_jitter_changes_training(small_tiles):
    tiles, x = small_tiles
    common = dict(weights="random", input_size=32, flips=True, latent_dim=16, batch_size=32, epochs=1,
                  gene_encoder="linear", n_jobs=2)
    plain = ContrastiveTrainer(**common).fit(tiles, x)
    jitter = ContrastiveTrainer(**common, jitter_brightness=0.5).fit(tiles, x)
    assert plain.result_.epoch_loss != jitter.result_.epoch_loss


# ---------------------------------------------------------------- command line

def test_cli_train_contrastive_run_folder(data_dir, tmp_path, capsys):
    from spatialembed.cli import main

    out = tmp_path / "run"
    status = main(["train-contrastive", "C2", "C3", "--root", str(data_dir / "st" / "her2st"), "--holdout", "C4",
                   "--out", str(out), "--input-size", "64", "--epochs", "2", "--batch-size", "64", "--fast",
                   "--n-top-genes", "200", "--latent-dim", "32", "--k", "10", "--genes", "ERBB2", "--threads", "2"])
    assert status == 0
    err = capsys.readouterr().err
    assert "step 1/" in err and "samples/s" in err
    names = {p.name for p in out.iterdir()}
    assert {"model.pt", "model.pt.json", "log.csv", "metrics.json", "report.html"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["holdout"] == "C4" and metrics["n_genes"] == 200
    rows = {(r["model"], r["task"], r["metric"]) for r in metrics["evaluation"]}
    assert ("trained", "retrieval", "HEG-50 r") in rows and ("zero-shot", "ridge", "HVG-50 r") in rows
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,epoch,loss") and len(log) == 1 + metrics["steps"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "ERBB2" in page
    loaded = ContrastiveTrainer.load(out / "model.pt")
    assert len(loaded.genes_) == 200
    # an existing folder is refused
    assert main(["train-contrastive", "C2", "--root", str(data_dir / "st" / "her2st"), "--out", str(out)]) == 1
