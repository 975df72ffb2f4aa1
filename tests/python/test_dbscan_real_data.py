"""DBSCAN on real MSI data (the barley-seed ion-image stack) against scikit-learn."""
import numpy as np
import pytest
import sklearn.cluster
from PIL import Image

import spatialembed


@pytest.fixture(scope="module")
def barley_pixels(data_dir):
    """Measured pixels x m/z (3,422 x 101) from the PNG ion images, TIC-normalised, float32."""
    folder = data_dir / "msi" / "barley_png"
    files = sorted(folder.glob("*.png"), key=lambda p: float(p.stem))
    rgba = [np.asarray(Image.open(path).convert("RGBA")) for path in files]
    mask = rgba[0][..., 3] == 255
    pixels = np.stack([image[..., 0][mask] for image in rgba], axis=1).astype(np.float64)
    pixels /= np.maximum(pixels.sum(axis=1, keepdims=True), 1)
    return pixels.astype(np.float32)


def test_barley_pixels_shape(barley_pixels):
    assert barley_pixels.shape == (3422, 101)


@pytest.mark.parametrize("metric, eps", [("cosine", 0.02), ("cosine", 0.05), ("euclidean", 0.03), ("euclidean", 0.05)])
def test_real_spectra_labels_equal_sklearn(barley_pixels, metric, eps):
    ours = spatialembed.DBSCAN(eps=eps, min_samples=10, metric=metric).fit(barley_pixels)
    algorithm = "brute" if metric == "cosine" else "ball_tree"
    theirs = sklearn.cluster.DBSCAN(eps=eps, min_samples=10, metric=metric, algorithm=algorithm).fit(barley_pixels)
    assert ours.algorithm_ == "brute"  # 101 features
    assert ours.n_clusters_ >= 1
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
