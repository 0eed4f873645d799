"""The evaluate command through its real @hydra.main entry point, in-process (tests/conftest.py run_entry)."""

import json
from pathlib import Path

import pytest
import torch

from mnist_design.runs import layout as rundir


@pytest.fixture
def evaluate(run_entry):
    """evaluate("ckpt_path=...", cwd=path) -> (exit status, stdout, stderr)."""

    def run(*args: str, cwd: Path) -> tuple[int, str, str]:
        return run_entry("mnist_design.evaluate", *args, "trainer.accelerator=cpu", cwd=cwd)

    return run


@pytest.mark.slow
def test_last_checkpoint_reproduces_the_run_test_numbers(tiny_run, evaluate, tmp_path: Path) -> None:
    run, _ = tiny_run
    status, _, err = evaluate(
        f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "trainer.limit_test_batches=2", cwd=tmp_path
    )
    assert status == 0, err[-2000:]
    [out] = list(tmp_path.glob("outputs/evaluate/*"))
    evaluated, trained = (json.loads((d / "metrics.json").read_text()) for d in (out, run))
    assert evaluated["test_acc"] == trained["test_acc"]
    assert evaluated["test_loss"] == pytest.approx(trained["test_loss"], rel=1e-6)
    for figure in (rundir.PREDICTIONS, rundir.CONFUSION_MATRIX):
        assert rundir.RunDir(out).figure(figure).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "unreadable, truncated or corrupt"),
        (lambda p: torch.save({"state_dict": {}}, p), "not an mnist_design checkpoint"),
    ],
)
def test_bad_checkpoints_get_one_line(evaluate, tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "model.ckpt"
    make(path)
    status, _, err = evaluate(f"ckpt_path={path}", cwd=tmp_path)
    assert status == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.slow
def test_truncated_copy_of_a_real_checkpoint_is_refused(tiny_run, evaluate, tmp_path: Path) -> None:
    run, _ = tiny_run
    good = (run / "checkpoints" / "last.ckpt").read_bytes()
    path = tmp_path / "half.ckpt"
    path.write_bytes(good[: len(good) // 2])
    status, _, err = evaluate(f"ckpt_path={path}", cwd=tmp_path)
    assert status == 2 and "half.ckpt" in err and "truncated" in err
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == good  # nothing lost
