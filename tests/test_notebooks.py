"""The notebooks in notebooks/ run top to bottom (nbclient) on the session's quickstart output."""
import os

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there_without_outputs():
    assert NOTEBOOKS == ["contamination_audit.ipynb", "explore_run.ipynb", "mixture_planning.ipynb"]
    for name in NOTEBOOKS:
        cells = nbformat.read(REPO / "notebooks" / name, as_version=4).cells
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code"), f"{name}: stored with outputs"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_the_quickstart_output(name, quickstart_run, quickstart_audit, monkeypatch):
    monkeypatch.setenv("XCURATE_OUTDIR", str(quickstart_run[0]))
    monkeypatch.setenv("XCURATE_AUDIT", str(quickstart_audit))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    book = nbformat.read(REPO / "notebooks" / name, as_version=4)
    # a cell that raises fails the test (CellExecutionError); each cell gets at most a minute
    NotebookClient(book, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    images = sum("image/png" in o.get("data", {}) for c in book.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= {"explore_run.ipynb": 3, "mixture_planning.ipynb": 3, "contamination_audit.ipynb": 0}[name]
