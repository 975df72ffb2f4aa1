"""Embedder against an independent PyTorch reference (tests/python/keras_reference.py) built
from the same weights: the real npm ResNet-50 on real photos and ion images, Xception from a
Keras-layout HDF5 file written here with h5py, a TorchScript module, and the bad inputs."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import spatialembed
from spatialembed import Embedder, IonImageStack

torch = pytest.importorskip("torch")
import keras_reference as kr  # noqa: E402
from msi_reference import preprocess_image  # noqa: E402

if not spatialembed.nn.has_nn():
    pytest.skip("built without LibTorch", allow_module_level=True)

PHOTOS = Path("/usr/share/darknet/data")
torch.set_num_threads(2)


@pytest.fixture(scope="module")
def labels(resnet_dir):
    return json.loads((resnet_dir.parent / "assets" / "labels.json").read_text())


def photo(name):
    from PIL import Image
    path = PHOTOS / name
    assert path.is_file(), f"{path} missing: install the Debian package darknet"
    return np.asarray(Image.open(path).convert("RGB"))


def relative_difference(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def ref_caffe(planes255):
    """(N, 3, S, S) RGB on 0-255 (float64) -> torch caffe input."""
    bgr = planes255[:, ::-1] - kr.CAFFE_MEAN_BGR.astype(np.float64)[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(bgr, dtype=np.float32))


def test_resnet50_real_photos_match_reference(resnet_ref, resnet_dir, labels):
    features = Embedder(weights=resnet_dir)
    logits = Embedder(logits=True)
    for name, expected in (("dog.jpg", "malamute"), ("eagle.jpg", "bald_eagle")):
        rgb = photo(name)
        ours = features.transform(rgb[None])
        ours_logits = logits.transform(rgb[None])
        x = ref_caffe(kr.resize_bilinear(rgb.transpose(2, 0, 1)[None].astype(np.float64), 224))
        with torch.no_grad():
            ref = resnet_ref.features(x)
            ref_logits = resnet_ref.logits(ref).numpy()
        ref = ref.numpy()
        assert ours.shape == (1, 2048) and ours.dtype == np.float32
        diff = relative_difference(ours, ref)
        print(f"{name}: max relative feature difference vs PyTorch {diff:.2e}")
        assert diff < 1e-4
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
        p = torch.softmax(torch.from_numpy(ours_logits), 1).numpy()[0]
        top = int(p.argmax())
        print(f"{name}: top-1 {labels[str(top)]} p = {p[top]:.3f}")
        assert labels[str(top)] == expected
        assert top == int(ref_logits.argmax())
        assert relative_difference(ours_logits, ref_logits) < 1e-4


def reference_ion_features(net, images, mask, size=224, quantile=0.99):
    """Ion images -> reference features: mask -> 0, spike removal, clip at numpy's quantile of
    the non-zero measured pixels, min-max scale, numpy bilinear resize, 3 channels, caffe."""
    planes = [preprocess_image(image, mask, quantile) for image in images]
    resized = kr.resize_bilinear(np.array(planes)[:, None], size) * 255.0
    with torch.no_grad():
        return net.features(ref_caffe(np.repeat(resized, 3, axis=1))).numpy()


def test_bladder_ion_images_match_reference(resnet_ref, data_dir):
    stack = IonImageStack.from_png_dir(data_dir / "msi" / "mouse_bladder_png")
    pick = [3, 50, 97, 140]
    sub = IonImageStack(stack.images[pick], stack.mask, stack.mz[pick])
    ours = Embedder(batch_size=3).transform(sub)
    ref = reference_ion_features(resnet_ref, sub.images, sub.mask)
    assert ours.shape == (4, 2048)
    diff = relative_difference(ours, ref)
    print(f"bladder: max relative feature difference vs PyTorch {diff:.2e}")
    assert diff < 1e-4


def test_kidney_ion_images(resnet_ref, data_dir):
    path = data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML"
    with spatialembed.ImzMLReader(path) as reader:
        mz, mean = reader.mean_spectrum()
        peaks = spatialembed.pick_peaks(mz, mean, snr=3, half_window=20, top_n=4)
        stack = reader.ion_images(peaks["mz"], tol_ppm=1000)
    ours = Embedder().transform(stack)
    assert ours.shape == (len(stack), 2048) and np.isfinite(ours).all()
    ref = reference_ion_features(resnet_ref, stack.images, stack.mask)
    assert relative_difference(ours, ref) < 1e-4
    # A plain 3-D array means every pixel measured.
    assert Embedder().transform(stack.images[:1]).shape == (1, 2048)


def test_pipeline_before_umap(data_dir):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    stack = IonImageStack.from_png_dir(data_dir / "msi" / "mouse_bladder_png")
    sub = IonImageStack(stack.images[:12], stack.mask, stack.mz[:12])
    pipe = make_pipeline(Embedder(batch_size=16), spatialembed.UMAP(n_components=3, n_neighbors=4, random_state=0))
    Y = pipe.fit_transform(sub)
    assert Y.shape == (12, 3) and np.isfinite(Y).all()
    clone(pipe)
    assert pickle.loads(pickle.dumps(pipe.steps[0][1])).get_params()["batch_size"] == 16


def write_keras_h5(path, model_json, rng, drop=()):
    """Random weights in the Keras HDF5 layout (save_weights), names and shapes from the TF.js
    model.json (manifest names map to layers as the data README says)."""
    import h5py
    model = json.loads(Path(model_json).read_text())
    layers = [l["name"] for l in model["modelTopology"]["model_config"]["config"]["layers"]]
    weights = {}
    for w in model["weightsManifest"][0]["weights"]:
        scope, short = w["name"].rsplit("/", 1)
        layer = scope if scope in layers else scope.rsplit("_", 1)[0]
        shape = w["shape"]
        if short in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif short in ("beta", "moving_mean", "bias"):
            value = rng.normal(0, 0.1, shape)
        else:  # kernels: variance-preserving scale
            fan_in = int(np.prod(shape[:-1])) if short != "depthwise_kernel" else int(np.prod(shape[:2]))
            value = rng.normal(0, 1.0 / np.sqrt(fan_in), shape)
        weights.setdefault(layer, {})[short] = value.astype(np.float32)
    names = [l for l in layers if l in weights and l not in drop]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for name in names:
            g = f.create_group(name)
            g.attrs["weight_names"] = np.array([f"{name}/{k}:0".encode() for k in weights[name]])
            for k, v in weights[name].items():
                g.create_dataset(f"{name}/{k}:0", data=v)
    return {k: v for k, v in weights.items() if k not in drop}


@pytest.fixture(scope="module")
def xception_h5(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("xception") / "xception_weights_tf_dim_ordering_tf_kernels.h5"
    weights = write_keras_h5(path, data_dir / "weights" / "xception_keras_tfjs" / "model.json",
                             np.random.default_rng(0))
    return path, weights


def test_xception_h5_matches_reference(xception_h5):
    path, weights = xception_h5
    ref_net = kr.Xception(weights)
    ours = Embedder("xception", path, logits=False)
    assert ours.fit().input_size_ == 299
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (2, 120, 90, 3), dtype=np.uint8)
    features = ours.transform(tiles)
    planes = kr.resize_bilinear(tiles.transpose(0, 3, 1, 2).astype(np.float64), 299)
    x = torch.from_numpy((planes / 127.5 - 1.0).astype(np.float32))
    with torch.no_grad():
        ref = ref_net.features(x)
        ref_logits = ref_net.logits(ref).numpy()
    diff = relative_difference(features, ref.numpy())
    print(f"xception: max relative feature difference vs PyTorch {diff:.2e}")
    assert features.shape == (2, 2048) and diff < 1e-4
    logits = Embedder("xception", path, logits=True).transform(tiles)
    assert relative_difference(logits, ref_logits) < 1e-4
    # The same network on an input size whose pooling pads asymmetrically everywhere.
    odd = Embedder("xception", path, input_size=100).forward(x[:, :, :100, :100].numpy())
    with torch.no_grad():
        assert relative_difference(odd, ref_net.features(x[:, :, :100, :100]).numpy()) < 1e-4


def test_xception_notop_and_bad_h5(tmp_path, data_dir, xception_h5):
    model_json = data_dir / "weights" / "xception_keras_tfjs" / "model.json"
    notop = tmp_path / "xception_notop.h5"
    write_keras_h5(notop, model_json, np.random.default_rng(2), drop=("predictions",))
    assert Embedder("xception", notop).fit().n_features_out_ == 2048
    with pytest.raises(ValueError, match="predictions"):
        Embedder("xception", notop, logits=True).fit()
    missing = tmp_path / "missing_layer.h5"
    write_keras_h5(missing, model_json, np.random.default_rng(3), drop=("block7_sepconv2_bn",))
    with pytest.raises(ValueError, match="block7_sepconv2_bn"):
        Embedder("xception", missing).fit()
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(xception_h5[0].read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt.h5"):
        Embedder("xception", corrupt).fit()
    with pytest.raises(ValueError, match="conv1"):  # Xception weights into ResNet-50
        Embedder("resnet50", xception_h5[0]).fit()


def test_torchscript_backbone(tmp_path):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
            self.fc = torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    path = tmp_path / "net.pt"
    torch.jit.script(net).save(str(path))
    emb = Embedder("torchscript", path, input_size=64, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    tiles = np.random.default_rng(4).integers(0, 256, (3, 50, 70, 3), dtype=np.uint8)
    ours = emb.transform(tiles)
    planes = kr.resize_bilinear(tiles.transpose(0, 3, 1, 2).astype(np.float64), 64) / 255.0
    x = (planes - np.array([0.5, 0.4, 0.3])[None, :, None, None]) / np.array([0.2, 0.25, 0.3])[None, :, None, None]
    with torch.no_grad():
        ref = net(torch.from_numpy(x.astype(np.float32))).numpy()
    assert ours.shape == (3, 5)
    assert relative_difference(ours, ref) < 1e-4
    with pytest.raises(ValueError, match="input_size"):
        Embedder("torchscript", path).fit()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="bad.pt"):
        Embedder("torchscript", bad, input_size=64).fit()


def test_bad_input(tmp_path):
    emb = Embedder()
    with pytest.raises(ValueError, match="channels"):
        emb.transform(np.zeros((1, 8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        emb.transform(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        emb.transform(np.zeros((8, 8)))
    with pytest.raises(ValueError):
        emb.transform(np.zeros((1, 0, 8), np.float32))
    with pytest.raises(ValueError, match="nan"):
        emb.transform(np.full((1, 4, 4), np.nan, np.float32))
    with pytest.raises(ValueError, match="channel"):
        emb.forward(np.zeros((1, 1, 64, 64), np.float32))
    with pytest.raises(OSError, match="fetch_weights"):
        Embedder(weights=tmp_path / "nowhere").fit()
    with pytest.raises(ValueError, match="backbone"):
        Embedder("vgg").fit()
    with pytest.raises(ValueError, match="batch_size"):
        Embedder(batch_size=0).fit()
    if not spatialembed.nn.cuda_available():
        with pytest.raises(ValueError, match="CUDA"):
            Embedder(device="cuda").fit()
    with pytest.raises(ValueError, match="dtype"):
        Embedder(dtype="bfloat16").fit()


def test_reuse_freed_memory_keeps_features_identical():
    """The allocator setting changes speed only: the same features before and after."""
    import subprocess
    import sys
    code = ("import numpy as np, spatialembed as se\n"
            "from spatialembed.nn import reuse_freed_memory\n"
            "x = np.random.default_rng(0).random((3, 40, 40), dtype=np.float32)\n"
            "a = se.Embedder().transform(x)\n"
            "assert reuse_freed_memory()\n"
            "b = se.Embedder().transform(x)\n"
            "assert np.array_equal(a, b)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)  # own process: global setting
    assert result.returncode == 0, result.stderr
