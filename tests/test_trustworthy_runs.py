"""Resume after SIGKILL, determinism, and divergence on a tiny subset: the runs to be killed (and the reference run)
in subprocesses, what follows them through the real entry point in-process (tests/conftest.py run_entry)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import run_cli

from mnist_design.runs.layout import RunDir

VOLATILE = {"seconds", "run_dir", "checkpoint"}


def small(mnist_dir: Path, run_dir: str) -> list[str]:
    return [
        f"data.data_dir={mnist_dir}",
        "data.train_subset=2048",
        "trainer.max_epochs=3",
        "trainer.accelerator=cpu",
        "trainer.deterministic=true",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "callbacks.model_summary=null",
        f"hydra.run.dir={run_dir}",
    ]


def stable(metrics: dict) -> dict:
    """metrics.json without wall times and paths."""
    return {k: (stable(v) if isinstance(v, dict) else v) for k, v in metrics.items() if k not in VOLATILE}


def metrics(run_dir: Path) -> dict:
    return stable(json.loads((run_dir / "metrics.json").read_text()))


@pytest.fixture(autouse=True)
def torch_flags_restored():
    """An in-process run with trainer.deterministic=true switches torch's global flags: the next test gets them back."""
    flags = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    yield
    torch.use_deterministic_algorithms(flags[0], warn_only=flags[1])
    if workspace is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace


@pytest.fixture(scope="module")
def uninterrupted(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    result = run_cli(*small(mnist_dir, "run"), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd / "run"


def test_same_seed_and_config_give_identical_metrics(
    uninterrupted: Path, run_entry, mnist_dir: Path, tmp_path: Path
) -> None:
    status, _, err = run_entry("mnist_design.train", *small(mnist_dir, "again"), cwd=tmp_path)
    assert status == 0, err[-3000:]
    assert metrics(tmp_path / "again") == metrics(uninterrupted)  # in this process, as in the reference's own


def run_until(args: list[str], cwd: Path, trigger: str, delay: float) -> None:
    """Start a training run, SIGKILL it ``delay`` seconds after a line containing ``trigger`` appears."""
    job = subprocess.Popen(
        [sys.executable, "-m", "mnist_design.train", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    for line in job.stdout:
        if trigger in line:
            time.sleep(delay)
            break
    job.send_signal(signal.SIGKILL)
    job.wait()


# Where the kill lands: (the line that triggers it, seconds after it, what it interrupts).
KILL_POINTS = {
    "before the first checkpoint": ("MNIST splits", 0.0),
    "mid-epoch": ("epoch  1/3", 0.3),
    "during the last checkpoint or the final test": ("epoch  3/3", 0.0),
    "during a checkpoint write": ("epoch  2/3", 0.0),  # plus the half-written temp file such a kill leaves
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_run_killed_anywhere_resumes_to_the_same_metrics(
    uninterrupted: Path, run_entry, mnist_dir: Path, tmp_path: Path, point: str
) -> None:
    trigger, delay = KILL_POINTS[point]
    run_until(small(mnist_dir, "killed"), tmp_path, trigger, delay)
    killed = tmp_path / "killed"
    assert not (killed / "metrics.json").exists(), "the run finished before it could be killed"
    if point == "during a checkpoint write":
        (killed / "checkpoints").mkdir(exist_ok=True)
        (killed / "checkpoints" / ".last.ckpt.x1y2.tmp").write_bytes(b"PK\x03\x04 half a checkpoint")
    status, out, err = run_entry("mnist_design.train", "resume=killed", cwd=tmp_path)
    assert status == 0, err[-3000:]
    assert "resume: " in out
    assert metrics(killed) == metrics(uninterrupted)
    epochs = [json.loads(line)["epoch"] for line in RunDir(killed).history.read_text().splitlines()]
    assert sorted(set(epochs)) == [1, 2, 3] and len(epochs) <= 4  # at most the epoch in flight is recomputed
    assert not list((killed / "checkpoints").glob(".*.tmp"))
    # the resume rewrote nothing of .hydra/ (the same overrides as the uninterrupted run, typed once)
    assert (killed / ".hydra" / "overrides.yaml").read_text() == (
        uninterrupted / ".hydra" / "overrides.yaml"
    ).read_text()


def test_last_checkpoint_holds_the_end_of_every_epoch_even_without_improvement(
    run_entry, mnist_dir: Path, tmp_path: Path
) -> None:
    status, _, err = run_entry(
        "mnist_design.train",
        f"data.data_dir={mnist_dir}",
        "trainer.max_epochs=4",
        "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1",
        "test=false",
        "trainer.accelerator=cpu",
        "hydra.run.dir=run",
        "callbacks.model_summary=null",
        cwd=tmp_path,
    )
    assert status == 0, err[-3000:]
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 3  # 0-based: the fourth epoch, whether or not validation improved


def test_seeds_past_the_old_overflow_train(run_entry, mnist_dir: Path, tmp_path: Path) -> None:
    code, _, err = run_entry(
        "mnist_design.train",
        "seed=4294967295",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=2",
        "trainer.limit_val_batches=1",
        "test=false",
        "trainer.accelerator=cpu",
        "logger=none",
        cwd=tmp_path,
    )
    assert code == 0, err[-2000:]
    [metrics_file] = tmp_path.glob("outputs/runs/*/metrics.json")
    assert json.loads(metrics_file.read_text())["epochs"] == 2


def test_resume_of_something_that_is_not_a_run_is_one_line(run_entry, tmp_path: Path) -> None:
    status, _, err = run_entry("mnist_design.train", f"resume={tmp_path}", cwd=tmp_path)
    assert status == 2 and err.startswith(f"error: resume={tmp_path} is not a run directory")


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(
    run_entry, mnist_dir: Path, tmp_path: Path
) -> None:
    status, _, err = run_entry(
        "mnist_design.train",
        *small(mnist_dir, "diverged"),
        "model=skeleton",
        "scheduler=step",
        "scheduler.step_size=1",
        "scheduler.gamma=1e12",
        cwd=tmp_path,
    )
    assert status == 3, err[-3000:]
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "became NaN/inf at step" in line and "(epoch 2)" in line and "last.ckpt" in line
    last = torch.load(tmp_path / "diverged" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 0 and all(torch.isfinite(t).all() for t in last["state_dict"].values())
    assert "Traceback" not in err


def test_unknown_key_is_refused_by_hydra(run_entry, tmp_path: Path) -> None:
    status, _, err = run_entry("mnist_design.train", "trainer.max_epoch=3", cwd=tmp_path)
    assert status == 1 and "Could not override 'trainer.max_epoch'" in err


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), SystemExit(1)])
def test_an_interrupted_run_says_the_command_that_continues_it(
    stop: BaseException, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Lightning answers Ctrl-C with a graceful stop and exit status 1, Python elsewhere with KeyboardInterrupt (made
    exit status 130, no trace); a run with a last checkpoint and no metrics file is one resume away, and a line says
    so. A finished run, or another exit, gets no such line."""
    from mnist_design.errors import INTERRUPTED, say_on_interrupt
    from mnist_design.training.resume import how_to_continue

    run = RunDir(tmp_path / "run")
    run.last_checkpoint.parent.mkdir(parents=True)
    run.last_checkpoint.write_bytes(b"checkpoint")
    for finished, status in ((False, stop), (True, stop), (False, SystemExit(2))):
        if finished:
            run.metrics.write_text("{}")
        with pytest.raises(SystemExit) as ended, say_on_interrupt(lambda: how_to_continue(run.path)):
            raise status
        assert ended.value.code == (INTERRUPTED if isinstance(status, KeyboardInterrupt) else status.code)
        said = capsys.readouterr().err
        assert ("interrupted: continue with python -m mnist_design.train resume=" in said) == (
            not finished and status is stop
        ), said
        run.metrics.unlink(missing_ok=True)


def test_a_run_without_a_bar_reads_the_nan_flag_only_at_validation_not_by_a_division_by_zero() -> None:
    """callbacks.progress_bar.refresh_rate=0 (Lightning's 'no bar') sets stop_on_nan.check_every to 0 too."""
    from types import SimpleNamespace

    from mnist_design.training.callbacks import StopOnNonFiniteLoss

    stop = StopOnNonFiniteLoss(check_every=0)
    for step in range(3):
        stop.on_train_batch_end(SimpleNamespace(global_step=step), None, torch.tensor(float("nan")), None, step)
    assert int(stop.first_bad) == 0  # tracked on the device, for the check at validation
