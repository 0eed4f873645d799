"""Resume after SIGKILL, determinism, and divergence: the real command line in subprocesses on a tiny subset."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import run_cli

VOLATILE = {"seconds", "run_dir", "checkpoint"}


def small(mnist_dir: Path, run_dir: str) -> list[str]:
    return [f"data.data_dir={mnist_dir}", "data.train_subset=2048", "trainer.max_epochs=3",
            "trainer.accelerator=cpu", "trainer.deterministic=true", "trainer.limit_val_batches=2",
            "trainer.limit_test_batches=2", "callbacks.model_summary=null", f"hydra.run.dir={run_dir}"]


def stable(metrics: dict) -> dict:
    """metrics.json without wall times and paths."""
    return {k: (stable(v) if isinstance(v, dict) else v) for k, v in metrics.items() if k not in VOLATILE}


def metrics(run_dir: Path) -> dict:
    return stable(json.loads((run_dir / "metrics.json").read_text()))


@pytest.fixture(scope="module")
def uninterrupted(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    result = run_cli(*small(mnist_dir, "run"), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd / "run"


def test_same_seed_and_config_give_identical_metrics(uninterrupted: Path, mnist_dir: Path, tmp_path: Path) -> None:
    assert run_cli(*small(mnist_dir, "again"), cwd=tmp_path).returncode == 0
    assert metrics(tmp_path / "again") == metrics(uninterrupted)


def test_a_run_killed_mid_training_resumes_to_the_same_metrics(uninterrupted: Path, mnist_dir: Path,
                                                               tmp_path: Path) -> None:
    args = [sys.executable, "-m", "mnist_design.train", *small(mnist_dir, "killed")]
    job = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = tmp_path / "killed" / "history.jsonl"
    deadline = time.monotonic() + 240
    while not (history.is_file() and history.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # into epoch 2
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists(), "the run finished before it could be killed"
    result = run_cli("resume=killed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resume: continuing from" in result.stdout
    assert metrics(tmp_path / "killed") == metrics(uninterrupted)
    assert not list((tmp_path / "killed" / "checkpoints").glob(".*.tmp"))


def test_resume_of_something_that_is_not_a_run_is_one_line(tmp_path: Path) -> None:
    result = run_cli(f"resume={tmp_path}", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(f"error: resume={tmp_path} is not a run directory")


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli(*small(mnist_dir, "diverged"), "model=skeleton", "scheduler=step", "scheduler.step_size=1",
                     "scheduler.gamma=1e12", cwd=tmp_path)
    assert result.returncode == 3, result.stderr[-3000:]
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "became NaN/inf at step" in line and "(epoch 2)" in line and "last.ckpt" in line
    last = torch.load(tmp_path / "diverged" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 0 and all(torch.isfinite(t).all() for t in last["state_dict"].values())
    assert "Traceback" not in result.stderr


def test_unknown_key_is_refused_by_hydra(tmp_path: Path) -> None:
    result = run_cli("trainer.max_epoch=3", cwd=tmp_path)
    assert result.returncode == 1 and "Could not override 'trainer.max_epoch'" in result.stderr
