"""The example notebook runs top to bottom (so it never rots) and shows its figures."""
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # Debian python3-nbformat, installed by scripts/setup.sh
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "ion_image_clustering.ipynb"


def execute(path, tmp_path, monkeypatch):
    """Run the notebook at ``path`` top to bottom in this interpreter; its code cells' outputs."""
    # A kernel spec for this interpreter (the venv that has spatialembed), not the system one.
    kernels = tmp_path / "jupyter" / "kernels" / "spatialembed-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        '{"argv": ["%s", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"], '
        '"display_name": "spatialembed test", "language": "python"}' % sys.executable)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="spatialembed-test",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def test_ion_image_clustering_notebook_executes(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SPATIALEMBED_DATA", str(data_dir))
    outputs = execute(NOTEBOOK, tmp_path, monkeypatch)
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # spectrum, ion images, two cluster galleries, embeddings
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "nn " in text and "umap_only" in text and "report.html" in text


def test_contrastive_her2st_notebook_executes(data_dir, tmp_path, monkeypatch):
    import spatialembed

    if not spatialembed.nn.has_nn():
        pytest.skip("built without LibTorch")
    monkeypatch.setenv("SPATIALEMBED_DATA", str(data_dir))
    monkeypatch.setenv("SPATIALEMBED_QUICK", "1")  # three sections, 64 px input, 3 epochs
    outputs = execute(NOTEBOOK.parent / "contrastive_her2st.ipynb", tmp_path, monkeypatch)
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # section, loss, expression maps
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "zero-shot" in html and "HEG-50 r" in html  # the evaluation table
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "training genes" in text and "True" in text  # fit summary; save/load round trip
