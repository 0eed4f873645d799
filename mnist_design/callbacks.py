"""Callbacks of our own; everything else in ``conf/callbacks/`` is Lightning's."""

from __future__ import annotations

import time

import lightning as L
from lightning.pytorch.utilities import rank_zero_only


class EpochSummary(L.Callback):
    """One console line per epoch, like the seed's logs: train and validation loss/accuracy, lr and seconds."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()

    @rank_zero_only
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = trainer.callback_metrics  # validation of this epoch has run already; train metrics are computed now
        val_name = "test-as-val" if trainer.datamodule.hparams.get("val_on_test") else "val"
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        line = (f"epoch {trainer.current_epoch + 1:>2}/{trainer.max_epochs}"
                f"  train loss {m.get('train/loss', float('nan')):.4f} acc {100 * m.get('train/acc', float('nan')):.2f}%"
                f"  {val_name} loss {m.get('val/loss', float('nan')):.4f} acc {100 * m.get('val/acc', float('nan')):.2f}%"
                f"  lr {lr:.4g}  {time.perf_counter() - self.started:.1f}s")
        bar = trainer.progress_bar_callback
        (bar.print if bar is not None and hasattr(bar, "print") else print)(line)


class ReseedEachEpoch(L.Callback):
    """Seed the global RNGs (dropout, augmentation) from (seed, epoch) at every epoch start.

    Lightning checkpoints do not carry RNG state; with this, a run resumed at an epoch boundary draws exactly the
    random numbers the uninterrupted run drew.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        L.seed_everything(self.seed * 1_000_003 + trainer.current_epoch + trainer.global_rank * 7919, verbose=False)
