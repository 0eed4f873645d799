"""Callbacks of our own; everything else in ``conf/callbacks/`` is Lightning's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_only


class EpochSummary(L.Callback):
    """One console line per epoch, like the seed's logs, and the same numbers appended to ``history.jsonl``.

    The file is appended, never rewritten, so a resumed run adds to it; readers keep the last record per epoch.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path) if path else None
        self.started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record = self.record(trainer)
        val_name = "test-as-val" if trainer.datamodule.hparams.get("val_on_test") else "val"
        line = (f"epoch {record['epoch']:>2}/{trainer.max_epochs}"
                f"  train loss {record['train_loss']:.4f} acc {100 * record['train_acc']:.2f}%"
                f"  {val_name} loss {record['val_loss']:.4f} acc {100 * record['val_acc']:.2f}%"
                f"  lr {record['lr']:.4g}  {record['seconds']:.1f}s")
        bar = trainer.progress_bar_callback
        (bar.print if bar is not None and hasattr(bar, "print") else print)(line)
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def record(self, trainer: L.Trainer) -> dict[str, float]:
        metrics = trainer.callback_metrics  # this epoch's validation has run already; train metrics computed now
        record = {"epoch": trainer.current_epoch + 1}
        for key in ("train/loss", "train/acc", "val/loss", "val/acc"):
            record[key.replace("/", "_")] = float(metrics.get(key, float("nan")))
        record["lr"] = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
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
        L.seed_everything(self.seed * 1_000_003 + trainer.current_epoch + trainer.global_rank * 7919, verbose=False)
