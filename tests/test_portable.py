"""Committed records hold repo-relative paths only: results/ reads the same on every clone (issue 35, item 8)."""

import json
import re
from pathlib import Path

from conftest import REPO, tiny

from mnist_design.runs.layout import RunDir
from mnist_design.runs.portable import PROJECT_MARKER, portable, relative_text

RECORDS = (".yaml", ".json", ".jsonl", ".log")  # every text file a run or a study writes (checkpoints are binary)
ABSOLUTE = re.compile(r"""(?:^|[\s"'=:\[,(])(/(?:[\w.+-]+/)+[\w.+-]*)""")  # a path with two or more parts from "/"


def absolute_paths(folder: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in RECORDS:
            hits = ABSOLUTE.findall(path.read_text())
            if hits:
                found[str(path.relative_to(folder))] = hits[:3]
    return found


def test_no_committed_record_holds_a_machine_path() -> None:
    assert absolute_paths(REPO / "results") == {}


def test_paths_become_relative_to_the_checkout_that_holds_them(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / PROJECT_MARKER).write_text("")
    assert portable(tmp_path / "repo" / "results" / "x") == "results/x"
    assert portable(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")  # no checkout: kept as it is
    text = f"cwd: {tmp_path}/repo\ndir: {tmp_path}/repo/results/x\nother: {tmp_path}/repo2/y\n"
    assert relative_text(text, [tmp_path / "repo"]) == f"cwd: .\ndir: results/x\nother: {tmp_path}/repo2/y\n"


def test_a_run_inside_a_checkout_records_repo_relative_paths(run_entry, mnist_dir: Path, tmp_path: Path) -> None:
    (tmp_path / PROJECT_MARKER).write_text("")
    status, _, err = run_entry("mnist_design.train", *tiny(mnist_dir), "hydra.run.dir=results/runs/r", cwd=tmp_path)
    assert status == 0, err[-2000:]
    run = RunDir(tmp_path / "results" / "runs" / "r")
    metrics = json.loads(run.metrics.read_text())
    assert metrics["run_dir"] == "results/runs/r"
    assert metrics["selected"]["checkpoint"].startswith("results/runs/r/checkpoints/")
    found = {hit for hits in absolute_paths(tmp_path / "results").values() for hit in hits}
    assert found <= {str(mnist_dir)}  # only what the user typed outside the checkout: data.data_dir
