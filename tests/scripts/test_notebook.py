"""notebooks/quickstart.ipynb runs end to end (small settings through its MYTORCH_NB_* variables)."""
import os

import pytest

from tests.scripts.conftest import CORPUS, REPO

NOTEBOOK = os.path.join(REPO, "notebooks", "quickstart.ipynb")
SMALL = {"MYTORCH_NB_STEPS": "30", "MYTORCH_NB_BATCH": "4", "MYTORCH_NB_CONTEXT": "16", "MYTORCH_NB_LAYERS": "1",
         "MYTORCH_NB_EMBD": "32", "MYTORCH_NB_EVAL_BATCHES": "2", "MYTORCH_NB_SAMPLE_TOKENS": "40",
         "MYTORCH_NB_DATA": CORPUS}


def test_quickstart_notebook_executes(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if not os.path.isfile(CORPUS):
        pytest.skip(f"tiny Shakespeare corpus not found at {CORPUS}")
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # nbclient raises CellExecutionError (with the cell and traceback) if any cell fails
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute()
    text = "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []) if out.get("output_type") == "stream")
    assert "matches the hand-derived gradient: True" in text
    assert "30 steps in" in text and "validation loss" in text
    assert "ROMEO:" in text  # the sample continues the prompt
    assert any(out.get("output_type") == "display_data" and "image/png" in out.get("data", {})
               for cell in nb.cells for out in cell.get("outputs", []))  # the loss plot
