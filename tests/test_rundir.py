"""RunDir is the one owner of a run directory's layout: renaming a file there renames it for every writer and
reader (the callbacks YAML reaches it through the run_file resolver)."""

from pathlib import Path

import pytest
from conftest import tiny

from mnist_design.runs import layout as rundir
from mnist_design.runs import records as runs
from mnist_design.training.factory import compose_run
from mnist_design.training.run import train


def test_each_run_file_has_one_name(tmp_path: Path) -> None:
    run = rundir.RunDir(tmp_path)
    assert run.metrics == tmp_path / rundir.FILES["metrics"] and run.history == tmp_path / rundir.FILES["history"]
    assert run.last_checkpoint == tmp_path / "checkpoints" / "last.ckpt" and run.config.parent.name == ".hydra"
    assert run.figure("learning_curves") == tmp_path / "learning_curves.png"
    assert run.started() == [] and not run.finished()
    with pytest.raises(KeyError, match="run files are config, overrides, metrics"):
        run.file("histroy")


def test_renaming_a_run_file_in_rundir_renames_it_for_writers_and_readers(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = {"history": "epochs.jsonl", "metrics": "result.json", "checkpoints": "weights"}
    before = {rundir.FILES[key] for key in renamed}
    monkeypatch.setattr(rundir, "FILES", {**rundir.FILES, **renamed, "last_checkpoint": "weights/last.ckpt"})
    run_dir = tmp_path / "run"
    train(compose_run("train", [*tiny(mnist_dir), "logger=none", "data.train_subset=256"], run_dir), run_dir)
    names = sorted(p.name for p in run_dir.iterdir())
    assert {"epochs.jsonl", "result.json", "weights"} <= set(names), names
    assert not before & set(names)
    assert (run_dir / "weights" / "last.ckpt").is_file()
    [run], problems = runs.collect([tmp_path])
    assert problems == [] and run.history and run.metrics["epochs"] == 1
    assert rundir.RunDir(run_dir).started() == ["result.json", "epochs.jsonl", "weights"]


def test_a_rename_cannot_orphan_committed_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every committed run recorded its files' names: renamed here, each history is still found (issue 36)."""
    from conftest import REPO

    found_before, _ = runs.collect([REPO / "results"])
    monkeypatch.setattr(rundir, "FILES", {**rundir.FILES, "history": "curves.jsonl"})
    found, problems = runs.collect([REPO / "results"])
    assert problems == [] and len(found) == len(found_before) > 100
    assert all(run.history for run in found), [str(run.path) for run in found if not run.history]
