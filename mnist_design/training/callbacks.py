"""Callbacks of our own; everything else in ``conf/callbacks/`` is Lightning's."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar, WeightAveraging
from lightning.pytorch.utilities import rank_zero_only

from mnist_design.data.loader import epoch_seed
from mnist_design.errors import UserError, not_allowed
from mnist_design.runs import metrics as registry
from mnist_design.runs.metrics import logged_name, record_key
from mnist_design.runs.records import append_history


class EpochSummary(L.Callback):
    """One console line per epoch, like the tutorial's logs, and the same numbers appended to the run's history file.

    The file is appended, never rewritten, so a resumed run adds to it; readers keep the last record per epoch.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path) if path else None
        self.started = 0.0
        self.lr = float("nan")

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()
        # the lr the epoch trains with (a per-step scheduler: its first step's); read at its end, a per-epoch
        # scheduler may already have stepped to the next epoch's
        self.lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record = self.record(trainer)
        val_name = "test-as-val" if trainer.datamodule.hparams.get("val_on_test") else "val"
        shown = []
        for stage in ("train", "val"):
            values = [(spec, record[record_key(logged_name(stage, spec))]) for spec in registry.METRICS if spec.curve]
            if all(math.isnan(value) for _, value in values):
                continue  # an epoch without validation (limit_val_batches=0, check_val_every_n_epoch): none, not "nan"
            label = val_name if stage == "val" else stage
            shown.append(label + "".join(f" {spec.name} {spec.show(value)}" for spec, value in values))
        line = (
            f"epoch {record['epoch']:>2}/{trainer.max_epochs}  "
            + "  ".join(shown)
            + f"  lr {record['lr']:.4g}  {record['seconds']:.1f}s"
        )
        bar = trainer.progress_bar_callback
        (bar.print if bar is not None and hasattr(bar, "print") else print)(line)
        if self.path is not None:
            append_history(self.path, record)

    def record(self, trainer: L.Trainer) -> dict[str, float]:
        metrics = trainer.callback_metrics  # this epoch's validation has run already; train metrics computed now
        record = {"epoch": trainer.current_epoch + 1}
        for stage in ("train", "val"):
            for spec in registry.METRICS:
                if spec.curve:
                    logged = logged_name(stage, spec)
                    record[record_key(logged)] = float(metrics.get(logged, float("nan")))
        record["lr"] = self.lr
        record["seconds"] = round(time.perf_counter() - self.started, 3)
        return record


class ReseedEachEpoch(L.Callback):
    """Seed the global RNGs (dropout, augmentation) from (seed, epoch) at every epoch start.

    Lightning checkpoints do not carry RNG state; with this, a run resumed at an epoch boundary draws exactly the
    random numbers the uninterrupted run drew.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        L.seed_everything(epoch_seed(self.seed, trainer.current_epoch, stream=1 + trainer.global_rank), verbose=False)


class NonFiniteLoss(UserError):
    """Training diverged; the message says at which step and which checkpoint is the last good one."""

    status = 3


class StopOnNonFiniteLoss(L.Callback):
    """Stop with a clear error when the training loss becomes NaN or inf, before a checkpoint can store it.

    The first bad step is tracked on the device and read back only every ``check_every`` steps and before every
    validation (checkpoints are saved after validation), so there is no host sync on the other steps.
    """

    NEVER = 2**62

    def __init__(self, check_every: int = 25) -> None:
        if check_every < 0:
            raise UserError(not_allowed("callbacks.stop_on_nan.check_every", check_every, ">= 1, or 0 for none"))
        self.check_every = check_every  # 0 (the bar's refresh_rate=0: no bar): read only at validation and epoch end
        self.first_bad: torch.Tensor | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        step = torch.where(torch.isfinite(loss.detach()), self.NEVER, trainer.global_step)
        self.first_bad = step if self.first_bad is None else torch.minimum(self.first_bad, step)
        if self.check_every and (batch_idx + 1) % self.check_every == 0:
            self.check(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.training:
            self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        if self.first_bad is None or int(self.first_bad) == self.NEVER:
            return
        # The checkpoint callback without a monitor keeps the newest epoch (conf/callbacks/default.yaml).
        newest = [
            c.best_model_path
            for c in trainer.checkpoint_callbacks
            if isinstance(c, ModelCheckpoint) and c.monitor is None and c.best_model_path
        ]
        checkpoint = newest[0] if newest else "none written yet"
        raise NonFiniteLoss(
            f"the training loss became NaN/inf at step {int(self.first_bad)} (epoch "
            f"{trainer.current_epoch + 1}); training stopped. Last good checkpoint: {checkpoint}. "
            f"Try a lower optimizer.lr or scheduler.max_lr"
        )


class StochasticWeightAverage(WeightAveraging):
    """SWA over the last ``fraction`` of all training steps: the equal-weight mean of the weights after each step.

    Written on Lightning's WeightAveraging rather than its StochasticWeightAveraging callback, which swaps the
    configured scheduler for its own SWALR; this keeps OneCycleLR. Before the averaging window the "average" follows
    the live weights, so validation curves (which Lightning takes on the averaged weights) stay meaningful.
    """

    def __init__(self, fraction: float = 0.25, **kwargs: Any) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"callbacks.weight_averaging.fraction must be in (0, 1]; got {fraction}")
        super().__init__(avg_fn=self.average, **kwargs)
        self.fraction = fraction
        self.first_step = 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.first_step = int((1 - self.fraction) * trainer.estimated_stepping_batches)
        super().setup(trainer, pl_module, stage)

    def average(self, averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        # Updated after every step, so num_averaged is the 0-based index of this step.
        in_window = int(num_averaged) - self.first_step + 1
        return current if in_window <= 1 else averaged + (current - averaged) / in_window


class LiveProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, showing the last training batch's loss and accuracy, read from the device only when
    the bar refreshes (every ``refresh_rate`` batches): the one host sync of a training step, on those steps only."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, int | str | float]:
        live = getattr(pl_module, "live", None) or {}
        shown = {name: float(value) for name, value in live.items()} if trainer.training else {}
        return {**shown, **super().get_metrics(trainer, pl_module)}
