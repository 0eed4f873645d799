"""A disk that fills up: one line naming the file or the storage, exit 4, nothing torn left in the way."""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import run_cli


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 120 KB tmpfs (root only): room for the config and one checkpoint, not for the next write."""
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = (
        shutil.which("mount")
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount)")
    yield disk
    subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_full_disk_is_one_line_and_leaves_no_torn_file(run_entry, small_disk: Path, mnist_dir: Path) -> None:
    code, out, err = run_entry(
        "mnist_design.train",
        f"hydra.run.dir={small_disk / 'run'}",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "callbacks.model_summary=null",
        "logger=none",
        "trainer.enable_progress_bar=false",
        cwd=small_disk.parent,
    )
    assert code == 4 and "Traceback" not in out + err
    assert err.startswith("error: ") and "No space left on device" in err.splitlines()[0]
    checkpoints = small_disk / "run" / "checkpoints"
    assert not list(checkpoints.glob(".*.tmp"))  # the atomic write cleaned up after itself
    for ckpt in checkpoints.glob("*.ckpt"):
        assert "state_dict" in torch.load(ckpt, map_location="cpu", weights_only=False)  # whole, readable


@pytest.mark.slow
def test_a_study_whose_disk_fills_is_one_line_then_continues_once_there_is_room(tmp_path: Path, mnist_dir) -> None:
    """The journal on a 12 KB tmpfs: the search stops with one line when a write fails (Optuna, failing to record
    that, raises again: no chain of traces), and once there is room the same command sets the torn record aside and
    finishes the study. Two processes, as a user runs them: the first one's trial, left RUNNING, is a dead worker's."""
    disk = tmp_path / "journal_disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root and mount)")
    args = [
        "budget=2000",
        "search_space=tiny",
        f"search.results_dir={disk / 'study'}",
        "search.n_trials=3",
        "search.selection.top=0",
        "search.enqueue_published=false",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "callbacks.model_summary=null",
        "logger=none",
        "trainer.enable_progress_bar=false",
    ]
    try:
        first = run_cli(*args, cwd=tmp_path, module="mnist_design.search")
        assert first.returncode == 4 and "Traceback" not in first.stdout + first.stderr, first.stderr[-2000:]
        assert "error: search.storage=" in first.stderr
        assert "could not be written (No space left on device)" in first.stderr
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True, capture_output=True)
        again = run_cli(*args, cwd=tmp_path, module="mnist_design.search")
        assert again.returncode == 0, again.stderr[-2000:]
        assert "its last record was torn" in again.stdout and list((disk / "study").glob("journal.log.torn-*"))
        assert "3 trained" in again.stdout
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
