"""Learning-rate schedules torch does not have.

    scheduler = PiecewiseLinearLR(optimizer, points=[[0, 0.05], [2, 0.1], [8, 0.01], [15, 0.0]])
    scheduler.step()  # once per epoch: the lr of epoch e is the straight line between the points around e

Written here because torch's ``LinearLR``/``SequentialLR`` chain relative factors and would need one scheduler per
segment; a list of absolute (epoch, lr) points is what the published recipes print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.optim.lr_scheduler import LRScheduler


def is_piecewise(scheduler: Mapping[str, Any] | None) -> bool:
    """Whether a scheduler config is a piecewise-linear lr (its points are epochs, so it is stepped per epoch)."""
    return "points" in (scheduler or {})


def compress(composed: DictConfig, epochs: int) -> list[str]:
    """Run a composed config's schedule in ``epochs`` epochs, in place: OneCycleLR spans the run by itself, a
    piecewise lr's points are rescaled (scheduler.span). Returns the same as overrides, for the run's record."""
    keys = {
        "trainer.max_epochs": epochs,
        **({"scheduler.span": epochs} if is_piecewise(composed.get("scheduler")) else {}),
    }
    for key, value in keys.items():  # set on the composed config, as Hydra would from these overrides
        OmegaConf.update(composed, key, value)
    return [f"{key}={value}" for key, value in keys.items()]


def check_points(points: Sequence[Sequence[float]]) -> None:
    """Points are (epoch, lr) pairs, epochs strictly rising from 0, rates >= 0 and not all 0."""
    if not points or any(len(point) != 2 for point in points):
        raise ValueError(f"scheduler.points must be a list of [epoch, lr] pairs; got {list(points)}")
    numbers = [value for point in points for value in point]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in numbers):
        raise ValueError(f"scheduler.points must be [epoch, lr] pairs of finite numbers; got {list(points)}")
    epochs, rates = zip(*points)
    if epochs[0] != 0 or any(b <= a for a, b in pairwise(epochs)):
        raise ValueError(f"scheduler.points: epochs must rise strictly from 0; got {list(epochs)}")
    if min(rates) < 0 or max(rates) == 0:
        raise ValueError(f"scheduler.points: learning rates must be >= 0 and not all 0; got {list(rates)}")


class PiecewiseLinearLR(LRScheduler):
    """Every parameter group's lr follows the points; ``max_lr`` rescales them so that their peak is max_lr, and
    ``span`` rescales their epochs so that the last point falls on epoch ``span`` (a 15-epoch schedule run in 3)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        points: Sequence[Sequence[float]],
        max_lr: float | None = None,
        span: float | None = None,
        last_epoch: int = -1,
    ) -> None:
        check_points(points)
        if max_lr is not None and max_lr <= 0:
            raise ValueError(f"scheduler.max_lr must be > 0 or null; got {max_lr}")
        epochs, rates = ([float(v) for v in column] for column in zip(*points))
        if span is not None:  # the same shape compressed or stretched: the last point lands on epoch `span`
            epochs = [epoch * span / epochs[-1] for epoch in epochs]
        scale = max_lr / max(rates) if max_lr is not None else 1.0
        self.epochs, self.rates = epochs, [rate * scale for rate in rates]  # plain lists: checkpoints stay weights-only
        super().__init__(optimizer, last_epoch)

    def lr_at(self, epoch: float) -> float:
        return float(np.interp(epoch, self.epochs, self.rates))  # flat beyond the last point

    def get_lr(self) -> list[float]:
        return [self.lr_at(self.last_epoch)] * len(self.optimizer.param_groups)
