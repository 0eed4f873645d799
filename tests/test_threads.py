"""threads=null measures the thread count (mnist_design/training/threads.py); threads=N and deterministic runs stay
fixed.

The tuner is driven here with a fake clock: a step's time depends on the thread count, as on a loaded machine.
"""

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import tiny

from mnist_design.training import factory, threads
from mnist_design.training import run as training
from mnist_design.training.threads import ThreadTuner, candidates


@pytest.fixture(autouse=True)
def keep_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


class Machine:
    """Seconds per training step at each thread count; ``steps`` drives the tuner's hooks through them."""

    def __init__(self, tuner: ThreadTuner, monkeypatch: pytest.MonkeyPatch, seconds: dict[int, float]) -> None:
        self.tuner, self.seconds, self.now, self.step = tuner, seconds, 0.0, 0
        monkeypatch.setattr(threads.time, "perf_counter", lambda: self.now)

    def steps(self, count: int) -> None:
        trainer = SimpleNamespace(global_step=self.step)
        for _ in range(count):
            self.tuner.on_train_batch_start(trainer, None, None, self.step)
            self.now += self.seconds[torch.get_num_threads()]
            self.tuner.on_train_batch_end(trainer, None, None, None, self.step)
            self.step += 1
            trainer.global_step = self.step


def test_the_candidates_are_the_share_then_the_powers_of_two_below_it() -> None:
    assert candidates(1) == [1]
    assert candidates(2) == [2, 1]
    assert candidates(6) == [6, 4, 2, 1]
    assert candidates(8) == [8, 4, 2, 1]


def test_the_fastest_count_is_kept_and_printed(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    tuner = ThreadTuner(share=2)
    machine = Machine(tuner, monkeypatch, {2: 0.20, 1: 0.08})  # a busy neighbour: 2 threads stall each other
    tuner.on_train_start(None, None)
    assert torch.get_num_threads() == 2  # the share first
    machine.steps(2 * (tuner.settle + tuner.probe))
    assert torch.get_num_threads() == 1
    assert tuner.choices == [{"step": 19, "threads": 1, "ms_per_step": {"2": 200.0, "1": 80.0}}]
    assert "threads: 1 (measured ms per step: 2: 200.0, 1: 80.0)" in capsys.readouterr().out


def test_a_drift_in_step_time_measures_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tuner = ThreadTuner(share=2)
    machine = Machine(tuner, monkeypatch, {2: 0.05, 1: 0.08})  # alone: 2 threads win
    tuner.on_train_start(None, None)
    machine.steps(20 + tuner.window)
    assert [c["threads"] for c in tuner.choices] == [2] and not tuner.queue  # steady: no new measurement
    machine.seconds = {2: 0.20, 1: 0.08}  # a neighbour starts
    machine.steps(tuner.window + 20)
    assert [c["threads"] for c in tuner.choices] == [2, 1] and torch.get_num_threads() == 1


def test_every_recheck_steps_it_measures_again_in_case_the_neighbour_left(monkeypatch: pytest.MonkeyPatch) -> None:
    tuner = ThreadTuner(share=2, recheck=100)
    machine = Machine(tuner, monkeypatch, {2: 0.20, 1: 0.08})
    tuner.on_train_start(None, None)
    machine.steps(20)
    machine.seconds = {2: 0.05, 1: 0.08}  # the neighbour is gone: 1 thread's time hardly changes, so no drift
    machine.steps(100 + 20)
    assert [c["threads"] for c in tuner.choices] == [1, 2] and torch.get_num_threads() == 2


def test_a_resumed_run_goes_on_with_its_count(monkeypatch: pytest.MonkeyPatch) -> None:
    tuner = ThreadTuner(share=2)
    tuner.on_train_start(None, None)
    Machine(tuner, monkeypatch, {2: 0.20, 1: 0.08}).steps(20)
    resumed = ThreadTuner(share=2)
    torch.set_num_threads(2)
    resumed.load_state_dict(tuner.state_dict())
    resumed.on_train_start(None, None)
    assert torch.get_num_threads() == 1 and resumed.choices == tuner.choices and not resumed.queue


def test_only_threads_null_on_a_cpu_with_cores_to_share_is_measured(compose_cfg, monkeypatch) -> None:
    monkeypatch.setattr(factory, "usable_cores", lambda: 4)
    monkeypatch.setenv(factory.JOBS_VARIABLE, "1")
    assert isinstance(factory.thread_tuner(compose_cfg("trainer.accelerator=cpu")), ThreadTuner)
    assert factory.thread_tuner(compose_cfg("trainer.accelerator=cpu", "threads=2")) is None
    assert factory.thread_tuner(compose_cfg("trainer.accelerator=cpu", "trainer.deterministic=true")) is None
    monkeypatch.setenv(factory.JOBS_VARIABLE, "4")  # four search workers: one core each, nothing to choose
    assert factory.thread_tuner(compose_cfg("trainer.accelerator=cpu")) is None


def test_a_run_records_how_its_thread_count_was_chosen(mnist_dir: Path, compose_cfg, monkeypatch) -> None:
    monkeypatch.setattr(factory, "usable_cores", lambda: 2)
    monkeypatch.setenv(factory.JOBS_VARIABLE, "1")
    cfg = compose_cfg(*tiny(mnist_dir), "data.batch_size=16", "logger=none")
    measured = training.train(cfg, Path(cfg.hydra.runtime.output_dir))
    assert measured["threads"]["chosen_by"] == "measured"
    [choice] = measured["threads"]["choices"]
    assert choice["threads"] in (1, 2) and set(choice["ms_per_step"]) == {"1", "2"}
    cfg = compose_cfg(*tiny(mnist_dir), "threads=1", "logger=none")
    fixed = training.train(cfg, Path(cfg.hydra.runtime.output_dir))
    assert fixed["threads"] == {"threads": 1, "chosen_by": "fixed"}
