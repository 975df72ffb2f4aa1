import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def data_dir():
    """The shared real datasets ($SPATIALEMBED_DATA, default ../shared/data); skips if absent."""
    root = Path(__file__).resolve().parents[2]
    path = Path(os.environ.get("SPATIALEMBED_DATA", root.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} not found")
    return path


@pytest.fixture(scope="module")
def resnet_dir():
    """The ResNet-50 ImageNet weights (TF.js layers model) the Embedder uses by default."""
    import spatialembed
    path = Path(spatialembed.nn.default_weights_path("resnet50"))
    # Fail, not skip: setup fetches the weights (scripts/fetch_weights.sh).
    assert (path / "model.json").is_file(), f"{path} missing: run scripts/fetch_weights.sh"
    return path


@pytest.fixture(scope="module")
def resnet_ref(resnet_dir):
    """The independent PyTorch ResNet-50 (keras_reference.py) built from the same weights."""
    import keras_reference as kr
    weights, eps = kr.read_tfjs(resnet_dir)
    return kr.ResNet50(weights, eps)
