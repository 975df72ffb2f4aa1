"""Independent reference for the Keras-layout backbones: Keras weights read with json/numpy
(TF.js layers model) or h5py (Keras HDF5), networks written with torch.nn.functional in
Python (PyTorch, Debian's python3-torch), nothing shared with the C++ code.

Used by the tests (features and logits to 1e-4 relative) and by bench/embedder.
"""
import json
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)


def read_tfjs(path):
    """{layer: {weight: ndarray}} and {layer: epsilon} from a TF.js layers model folder."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.json"
    model = json.loads(path.read_text())
    layers = model["modelTopology"]["model_config"]["config"]["layers"]
    names = {layer["name"] for layer in layers}
    eps = {layer["name"]: layer["config"]["epsilon"] for layer in layers if layer["class_name"] == "BatchNormalization"}
    weights = {}
    for group in model["weightsManifest"]:
        blob = b"".join((path.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"]))
            value = np.frombuffer(blob, np.float32, n, offset).reshape(w["shape"]).copy()
            offset += 4 * n
            scope, short = w["name"].rsplit("/", 1)
            if scope not in names:
                scope = re.sub(r"_\d+$", "", scope)
            weights.setdefault(scope, {})[short] = value
    return weights, eps


def read_h5(path):
    """{layer: {weight: ndarray}} from a Keras HDF5 weights file (h5py)."""
    import h5py
    weights = {}
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            for name in root[layer].attrs["weight_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                weights.setdefault(layer, {})[name.split("/")[-1].split(":")[0]] = np.array(root[layer][name])
    return weights, {}


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


class KerasNet:
    """Weights converted to PyTorch's layout once, on first use (contiguous tensors)."""

    def __init__(self, weights, eps=None):
        self.w = weights
        self.eps = eps or {}
        self._torch = {}

    def _param(self, name, key, convert):
        if (name, key) not in self._torch:
            self._torch[name, key] = convert(_t(self.w[name][key])).contiguous()
        return self._torch[name, key]

    def conv(self, x, name, stride=1, padding=0):
        kernel = self._param(name, "kernel", lambda k: k.permute(3, 2, 0, 1))
        bias = self._param(name, "bias", lambda b: b) if "bias" in self.w[name] else None
        return F.conv2d(x, kernel, bias, stride=stride, padding=padding)

    def bn(self, x, name):
        p = [self._param(name, k, lambda v: v) for k in ("moving_mean", "moving_variance", "gamma", "beta")]
        return F.batch_norm(x, *p, training=False, eps=self.eps.get(name, 1e-3))

    def sepconv(self, x, name):
        dw = self._param(name, "depthwise_kernel", lambda k: k.permute(2, 3, 0, 1))  # (in, 1, kh, kw)
        pw = self._param(name, "pointwise_kernel", lambda k: k.permute(3, 2, 0, 1))
        x = F.conv2d(x, dw, None, padding=dw.shape[-1] // 2, groups=dw.shape[0])
        return F.conv2d(x, pw)

    def dense(self, x, name):
        return x @ self._param(name, "kernel", lambda k: k) + self._param(name, "bias", lambda b: b)


class ResNet50(KerasNet):
    def features(self, x):
        return self.stage_maps(x)[-1].mean((2, 3))

    def stage_maps(self, x):
        """Outputs of stages 3, 4 and 5 (the last one the final feature map)."""
        maps = []
        x = F.pad(x, (3, 3, 3, 3))
        x = F.relu(self.bn(self.conv(x, "conv1", 2), "bn_conv1"))
        x = F.max_pool2d(F.pad(x, (1, 1, 1, 1)), 3, 2)
        for stage, blocks in ((2, "abc"), (3, "abcd"), (4, "abcdef"), (5, "abc")):
            for b in blocks:
                s = 2 if (b == "a" and stage > 2) else 1
                p = f"{stage}{b}"
                y = F.relu(self.bn(self.conv(x, f"res{p}_branch2a", s), f"bn{p}_branch2a"))
                y = F.relu(self.bn(self.conv(y, f"res{p}_branch2b", 1, 1), f"bn{p}_branch2b"))
                y = self.bn(self.conv(y, f"res{p}_branch2c"), f"bn{p}_branch2c")
                short = self.bn(self.conv(x, f"res{p}_branch1", s), f"bn{p}_branch1") if b == "a" else x
                x = F.relu(y + short)
            if stage >= 3:
                maps.append(x)
        return maps

    def logits(self, features):
        return self.dense(features, "fc1000")


def _tf_same_maxpool(x):
    h, w = x.shape[-2:]
    ph = max((-(-h // 2) - 1) * 2 + 3 - h, 0)
    pw = max((-(-w // 2) - 1) * 2 + 3 - w, 0)
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, 3, 2)


class Xception(KerasNet):
    """Shortcut layers by the model.json's names conv2d_4..7 / batch_normalization_4..7."""

    def features(self, x):
        x = F.relu(self.bn(self.conv(x, "block1_conv1", 2), "block1_conv1_bn"))
        x = F.relu(self.bn(self.conv(x, "block1_conv2"), "block1_conv2_bn"))
        for i, block in enumerate((2, 3, 4)):
            res = self.bn(self.conv(x, f"conv2d_{4 + i}", 2), f"batch_normalization_{4 + i}")
            y = x if block == 2 else F.relu(x)
            y = self.bn(self.sepconv(y, f"block{block}_sepconv1"), f"block{block}_sepconv1_bn")
            y = self.bn(self.sepconv(F.relu(y), f"block{block}_sepconv2"), f"block{block}_sepconv2_bn")
            x = _tf_same_maxpool(y) + res
        for block in range(5, 13):
            y = x
            for k in (1, 2, 3):
                y = self.bn(self.sepconv(F.relu(y), f"block{block}_sepconv{k}"), f"block{block}_sepconv{k}_bn")
            x = x + y
        res = self.bn(self.conv(x, "conv2d_7", 2), "batch_normalization_7")
        y = self.bn(self.sepconv(F.relu(x), "block13_sepconv1"), "block13_sepconv1_bn")
        y = self.bn(self.sepconv(F.relu(y), "block13_sepconv2"), "block13_sepconv2_bn")
        x = _tf_same_maxpool(y) + res
        x = F.relu(self.bn(self.sepconv(x, "block14_sepconv1"), "block14_sepconv1_bn"))
        x = F.relu(self.bn(self.sepconv(x, "block14_sepconv2"), "block14_sepconv2_bn"))
        return x.mean((2, 3))

    def logits(self, features):
        return self.dense(features, "predictions")


def caffe_input(rgb01):
    """(N, H, W, 3) RGB on [0, 1] -> (N, 3, H, W) Keras caffe input."""
    bgr = rgb01[..., ::-1] * 255.0 - CAFFE_MEAN_BGR
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(0, 3, 1, 2), dtype=np.float32))


def tf_input(rgb01):
    return torch.from_numpy(np.ascontiguousarray((rgb01 * 2.0 - 1.0).transpose(0, 3, 1, 2), dtype=np.float32))


def resize_bilinear(planes, size):
    """(N, C, H, W) float -> (N, C, size, size), half-pixel centres (numpy, no torch)."""
    n, c, h, w = planes.shape

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (src - lo).astype(np.float64)

    ylo, yhi, wy = axis(h, size)
    xlo, xhi, wx = axis(w, size)
    p = planes.astype(np.float64)
    top = p[:, :, ylo][:, :, :, xlo] * (1 - wx) + p[:, :, ylo][:, :, :, xhi] * wx
    bottom = p[:, :, yhi][:, :, :, xlo] * (1 - wx) + p[:, :, yhi][:, :, :, xhi] * wx
    return top * (1 - wy[:, None]) + bottom * wy[:, None]
