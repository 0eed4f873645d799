"""The LightningModule: any ConvNet from ``conf/model/``, trained with the optimizer and scheduler from config.

    module = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.scheduler, **cfg.module)

It keeps only plain config dicts as hyperparameters, so a checkpoint alone rebuilds the model:
``MNISTClassifier.load_from_checkpoint(path)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mnist_design.data import IMAGE_SIZE, IN_CHANNELS
from mnist_design.data.augment import rotate
from mnist_design.models.receptive_field import field_table, receptive_fields
from mnist_design.runs import metrics as registry
from mnist_design.runs.metrics import STAGES, logged_name


def plain(config: Mapping | None) -> dict | None:
    """Config as a plain dict, so checkpoints hold no OmegaConf objects."""
    if isinstance(config, DictConfig):
        return OmegaConf.to_container(config, resolve=True)
    return None if config is None else dict(config)


def metric_key(stage: str, spec: registry.MetricSpec) -> str:
    """A stage's metric object in the module's ModuleDict: "train_loss", as its keys may not shadow nn.Module
    attributes such as `train`."""
    return f"{stage}_{spec.name}"


class MNISTClassifier(L.LightningModule):
    @classmethod
    def from_config(cls, cfg: DictConfig) -> MNISTClassifier:
        """The module of a composed run config: its model, optimizer, scheduler and module groups."""
        return cls(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.get("scheduler"), **(cfg.get("module") or {}))

    def __init__(
        self,
        net: Mapping,
        optimizer: Mapping,
        scheduler: Mapping | None = None,
        label_smoothing: float = 0.0,
        tta_degrees: Sequence[float] = (),
    ) -> None:
        super().__init__()
        if not 0 <= label_smoothing < 1:  # the one check of this range: config.validate builds the module to ask it
            raise ValueError(f"module.label_smoothing must be in [0, 1); got {label_smoothing}")
        self.save_hyperparameters(
            {
                "net": plain(net),
                "optimizer": plain(optimizer),
                "scheduler": plain(scheduler),
                "label_smoothing": float(label_smoothing),
                "tta_degrees": [float(d) for d in tta_degrees],
            }
        )
        self.net: nn.Module = instantiate(self.hparams.net)
        self.example_input_array = torch.zeros(
            1, IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE
        )  # lets the model summary print output shapes
        self.live: dict[str, torch.Tensor] = {}  # the last training batch's loss and accuracy, on the device
        self.handed_over: set[str] = set()  # stages whose metric objects Lightning holds for this epoch
        self.metrics = nn.ModuleDict()
        for stage in STAGES:
            for spec in registry.METRICS:
                self.metrics[metric_key(stage, spec)] = spec.factory()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; out of training with ``tta_degrees``, log of the softmax averaged over the rotated views."""
        if self.training or not self.hparams.get("tta_degrees"):
            return self.net(x)
        views = [x, *(rotate(x, degrees) for degrees in self.hparams.tta_degrees)]
        probabilities = torch.stack([self.net(view).softmax(dim=1) for view in views]).mean(dim=0)
        return probabilities.clamp_min(1e-12).log()  # log-probabilities are logits: same argmax, same loss

    def shared_step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = batch
        logits = self(images)
        # Smoothing shapes the training loss only, so validation and test losses stay comparable across recipes.
        smoothing = self.hparams.get("label_smoothing", 0.0) if stage == "train" else 0.0
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        for spec in registry.METRICS:
            spec.feed(self.metrics[metric_key(stage, spec)], loss, logits, labels)
        if stage not in self.handed_over:
            self.hand_over_metrics(stage)
        return loss, logits

    def hand_over_metrics(self, stage: str) -> None:
        """Give Lightning this stage's metric objects, once an epoch: it computes (and syncs across ranks) each one
        from the object's own state when the epoch ends. Handing them over at every step repeated the same thing at
        about 0.5 ms a call (docs/performance.md)."""
        for spec in registry.METRICS:
            self.log(
                logged_name(stage, spec),
                self.metrics[metric_key(stage, spec)],
                on_step=False,
                on_epoch=True,
                prog_bar=stage != "train" or spec.percent,
            )
        self.handed_over.add(stage)

    def on_fit_start(self) -> None:
        """The net's receptive fields on TensorBoard's Text tab. Written here, after Lightning has prepared the data,
        so a command refused for its data directory leaves no event file behind (and its run dir can be removed)."""
        if isinstance(self.logger, TensorBoardLogger) and self.trainer.is_global_zero:
            self.logger.experiment.add_text("receptive_field", field_table(receptive_fields(self.net)))

    # A new epoch (or validation run, or a resumed epoch) starts Lightning's record of logged values afresh.
    def on_train_epoch_start(self) -> None:
        self.handed_over.discard("train")

    def on_validation_epoch_start(self) -> None:
        self.handed_over.discard("val")

    def on_test_epoch_start(self) -> None:
        self.handed_over.discard("test")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, logits = self.shared_step(batch, "train")
        # This batch's values for the progress bar, kept on the device: callbacks.LiveProgressBar reads them only
        # when it refreshes. Through self.log(on_step=True) Lightning would read them after every batch.
        self.live = {"loss": loss.detach(), "acc": (logits.detach().argmax(dim=1) == batch[1]).float().mean()}
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.shared_step(batch, "test")

    def configure_optimizers(self) -> Any:
        return self.optimizer_config(total_steps=lambda: int(self.trainer.estimated_stepping_batches))

    def optimizer_config(self, total_steps: Callable[[], int]) -> Any:
        """Optimizer (and scheduler) from config, in Lightning's format; ``total_steps`` is asked only if needed."""
        optimizer = build_optimizer(self.hparams.optimizer, self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        scheduler, lightning_keys = build_scheduler(self.hparams.scheduler, optimizer, total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **lightning_keys}}


def build_optimizer(settings: Mapping, params: Any) -> torch.optim.Optimizer:
    """The optimizer of a config (a partial completed here with the parameters)."""
    return instantiate(settings)(params=params)


def build_scheduler(
    settings: Mapping, optimizer: torch.optim.Optimizer, total_steps: Callable[[], int]
) -> tuple[Any, dict[str, Any]]:
    """The scheduler of a config, and Lightning's own keys that travel beside its arguments in one config file."""
    settings = dict(settings)
    lightning_keys = {key: settings.pop(key) for key in ("interval", "frequency", "monitor") if key in settings}
    make = instantiate(settings)
    # Only the trainer knows OneCycleLR's total_steps: every optimizer step of the whole run.
    wants_total = "total_steps" in inspect.signature(make.func).parameters and make.keywords.get("total_steps") is None
    return (make(optimizer, total_steps=total_steps()) if wants_total else make(optimizer)), lightning_keys
