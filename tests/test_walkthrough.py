"""docs/walkthrough.ipynb runs top to bottom in quick mode, as a student would run it, and is committed clean."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

from mnist_design.runs import layout as rundir

NOTEBOOK = REPO / "docs" / "walkthrough.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
    assert 'MODE = "quick"' in "".join(code[0]["source"])  # the switch is at the top, on quick


@pytest.mark.slow
def test_the_walkthrough_runs_in_quick_mode(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNIST_DESIGN_DATA", str(mnist_dir))
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        str(output.get("text", "")) + str(output.get("data", {}).get("text/markdown", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "Quick mode: the numbers below are not results" in text
    assert "| row4" in text and "7,496" in text  # the row table grew to the tutorial's best model
    assert "**GAP**" in text  # the receptive-field table
    assert "predictions [" in text
    walked = (tmp_path / "outputs" / "walkthrough").glob(f"*/*/{rundir.file_name('metrics')}")
    assert len(list(walked)) == 5  # four rows and yours
