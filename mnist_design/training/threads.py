"""The torch thread count, chosen by measuring: ``threads=null`` (the default) on a CPU with cores to share.

    python -m mnist_design.train                        # measured: each choice printed, and kept in metrics.json
    python -m mnist_design.train threads=2              # forced: no measuring
    python -m mnist_design.train trainer.deterministic=true   # fixed at this process's share of the cores

OpenMP threads wait for each other at every operation, so one thread that a busy neighbour (a browser, a notebook,
a second run) takes off its core stalls them all. On a 2-core machine 2 threads beside one busy process trained 2-3x
slower than 1 thread beside it, while alone 2 threads are about 1.6x faster (issue 20; ``python -m mnist_design.bench
busy=true`` measures it). So the run times its own training steps at each candidate count, keeps the fastest, and
measures again when its step time drifts, and every ``recheck`` steps in case a neighbour has gone.

The thread count changes a run's numbers in the last bits (another order of the sums), so a measured choice makes a
run depend on its machine's load: give ``threads=N`` or ``trainer.deterministic=true`` for bit-identical reruns and
exact resume.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import torch


def candidates(share: int) -> list[int]:
    """The counts worth trying: this process's share of the cores first, then the powers of two below it."""
    below = [n for n in (2**k for k in range(share.bit_length())) if n < share]
    return [share, *reversed(below)]


class ThreadTuner(L.Callback):
    """Times training steps at each candidate thread count, keeps the fastest, and measures again on drift.

    settle: steps after a switch that are not timed (the thread pool resizes); probe: timed steps per candidate;
    window: steps whose median is compared with the chosen count's; drift: the relative change that re-measures;
    recheck: steps after a choice when it measures again anyway (a neighbour that left changes no 1-thread time).
    """

    def __init__(
        self,
        share: int,
        settle: int = 2,
        probe: int = 8,
        window: int = 50,
        drift: float = 0.3,
        recheck: int = 2000,
    ) -> None:
        self.candidates = candidates(share)
        self.settle, self.probe, self.window, self.drift, self.recheck = settle, probe, window, drift, recheck
        self.choices: list[dict[str, Any]] = []  # every decision: the step, the count, the measured ms per step
        self.queue: list[int] = list(self.candidates)  # counts still to time in this round; empty = monitoring
        self.samples: dict[int, list[float]] = {}
        self.recent: list[float] = []
        self.reference: float | None = None  # seconds per step of the chosen count when it was chosen
        self.since_choice = 0
        self.started = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.queue:
            torch.set_num_threads(self.queue[0])

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        seconds = time.perf_counter() - self.started
        if self.queue:
            self.time_candidate(seconds, trainer.global_step)
        else:
            self.watch(seconds)

    def time_candidate(self, seconds: float, step: int) -> None:
        timed = self.samples.setdefault(self.queue[0], [])
        timed.append(seconds)
        if len(timed) < self.settle + self.probe:
            return
        self.queue.pop(0)
        if self.queue:
            torch.set_num_threads(self.queue[0])
            return
        per_step = {n: statistics.median(s[self.settle :]) for n, s in self.samples.items()}
        chosen = min(per_step, key=per_step.__getitem__)
        torch.set_num_threads(chosen)
        self.reference, self.samples, self.recent, self.since_choice = per_step[chosen], {}, [], 0
        ms = {str(n): round(1000 * s, 2) for n, s in per_step.items()}
        self.choices.append({"step": step, "threads": chosen, "ms_per_step": ms})
        print(f"threads: {chosen} (measured ms per step: {', '.join(f'{n}: {t}' for n, t in ms.items())})", flush=True)

    def watch(self, seconds: float) -> None:
        self.recent.append(seconds)
        self.since_choice += 1
        if len(self.recent) < self.window:
            return
        median, self.recent = statistics.median(self.recent), []
        if self.reference is None:  # resumed: the first window is the reference
            self.reference = median
        elif abs(median / self.reference - 1) > self.drift or self.since_choice >= self.recheck:
            self.remeasure()

    def remeasure(self) -> None:
        current = torch.get_num_threads()
        self.queue = [current, *(n for n in self.candidates if n != current)]

    def state_dict(self) -> dict[str, Any]:
        return {"choices": self.choices}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed run goes on with the count last chosen, and takes its first window as the reference."""
        self.choices = list(state_dict.get("choices", []))
        if self.choices:
            self.queue, self.reference = [], None
            torch.set_num_threads(int(self.choices[-1]["threads"]))


def record(callbacks: Sequence[L.Callback]) -> dict[str, Any]:
    """What metrics.json keeps: the count the run ended with, how it was chosen, and each measured choice."""
    tuner = next((c for c in callbacks if isinstance(c, ThreadTuner)), None)
    how = {"chosen_by": "measured", "choices": tuner.choices} if tuner else {"chosen_by": "fixed"}
    return {"threads": torch.get_num_threads(), **how}
