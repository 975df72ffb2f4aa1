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
