"""What the bench times: the project's own training path (A) and the three it is compared with (B, C, D).

    rate = lightning_path(cfg)       # images/s of factory.build() -> Lightning fit, after cfg.warmup steps
    PATHS["C"][1](cfg)               # the tutorial's PIL pipeline through a DataLoader, for comparison

Each measurement times ``cfg.batches`` training steps after ``cfg.warmup`` steps (mnist_design/bench/__main__.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, open_dict
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import MNIST

from mnist_design.config import runtime
from mnist_design.data import IMAGE_SIZE, IN_CHANNELS, MEAN, STD
from mnist_design.training import factory
from mnist_design.training.factory import training_device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch(L.Callback):
    """Seconds from the start of step ``warmup`` to the end of the last step."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.started, self.seconds = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if batch_idx == self.warmup:
            sync(pl_module.device)
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        sync(pl_module.device)
        self.seconds = time.perf_counter() - self.started


def steps_config(cfg: DictConfig) -> DictConfig:
    """The train config cut to warmup + batches steps of one epoch, no validation, test or checkpoint files."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.trainer.max_epochs = 1
        cfg.trainer.limit_train_batches = cfg.warmup + cfg.batches
        cfg.trainer.limit_val_batches = 0
        cfg.trainer.enable_checkpointing = False  # Lightning would otherwise add a checkpoint callback of its own
        if cfg.get("callbacks"):
            for name in ("model_checkpoint", "last_checkpoint", "model_summary"):
                cfg.callbacks[name] = None
    return cfg


def with_compile(cfg: DictConfig, on: bool) -> DictConfig:
    """The config with the network compiled (``on``) or eager, whatever the device's default."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.compile = on
    return cfg


def fit_rate(cfg: DictConfig) -> float:
    """Images/s of the project's own fit loop, timed after the warm-up steps (which hold any compilation)."""
    stopwatch = Stopwatch(cfg.warmup)
    datamodule, model, trainer = factory.build(steps_config(cfg), extra_callbacks=[stopwatch])
    trainer.fit(model, datamodule=datamodule)
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


def lightning_path(cfg: DictConfig) -> float:
    """A: the project's own fit loop, eager."""
    return fit_rate(with_compile(cfg, False))


def compiled_path(cfg: DictConfig) -> float:
    """E: the project's own fit loop with the network compiled (conf/train.yaml's compile_mode)."""
    return fit_rate(with_compile(cfg, True))


def timed_loop(model: nn.Module, optimizer_config: Any, batches: Any, cfg: DictConfig, device: torch.device) -> float:
    """Images/s of a plain loop: forward, cross-entropy, backward, step (and a per-step scheduler)."""
    optimizer = optimizer_config["optimizer"] if isinstance(optimizer_config, dict) else optimizer_config
    per_step = isinstance(optimizer_config, dict) and optimizer_config["lr_scheduler"].get("interval") == "step"
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if "bf16" in str(cfg.trainer.precision) else nullcontext()
    )
    model.to(device).train()
    started = time.perf_counter()
    for step, (x, y) in enumerate(batches):
        if step == cfg.warmup:
            sync(device)
            started = time.perf_counter()
        if step == cfg.warmup + cfg.batches:
            break
        with autocast:
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if per_step:
            optimizer_config["lr_scheduler"]["scheduler"].step()
    sync(device)
    return cfg.batches * cfg.data.batch_size / (time.perf_counter() - started)


def raw_loop(cfg: DictConfig) -> float:
    """B: the same model, optimizer, scheduler and data path in a plain loop, eager."""
    cfg = with_compile(cfg, False)
    device = training_device(cfg)
    datamodule, model = factory.datamodule(cfg), factory.classifier(cfg)
    datamodule.setup("fit")
    images, labels = (t.to(device) for t in datamodule.splits["train"])
    order = torch.randperm(len(labels), device=device)
    size = cfg.data.batch_size

    def batches():
        for step in range(cfg.warmup + cfg.batches):
            index = order[step * size : (step + 1) * size]
            yield datamodule.prepare_batch((images[index], labels[index]), augment=True)

    return timed_loop(
        model, model.optimizer_config(total_steps=lambda: cfg.warmup + cfg.batches), batches(), cfg, device
    )


def seed_loader(cfg: DictConfig) -> DataLoader:
    """The tutorial notebook's data: per-sample PIL rotation, ToTensor and Normalize through a DataLoader."""
    pil_pipeline = transforms.Compose(
        [
            transforms.RandomRotation((-7.0, 7.0), fill=(1,)),
            transforms.ToTensor(),
            transforms.Normalize((MEAN,), (STD,)),
        ]
    )
    dataset = MNIST(cfg.data.data_dir, train=True, transform=pil_pipeline)
    return DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True)


def tutorial_pipeline(cfg: DictConfig) -> float:
    """C: per-sample PIL augmentation through a DataLoader, Lightning Trainer with default settings."""
    model = factory.classifier(cfg)
    stopwatch = Stopwatch(cfg.warmup)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=cfg.warmup + cfg.batches,
        limit_val_batches=0,
        callbacks=[stopwatch],
        default_root_dir=runtime(cfg).runtime.output_dir,
        accelerator=cfg.trainer.accelerator,
        enable_checkpointing=False,
    )
    trainer.fit(model, train_dataloaders=seed_loader(cfg))
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


def with_torch_dropout(net: nn.Module) -> nn.Module:
    """The net with torch's own nn.Dropout in place of the project's faster CPU dropout, as the tutorial's notebook."""
    for name, child in net.named_children():
        if isinstance(child, nn.Dropout) and type(child) is not nn.Dropout:
            setattr(net, name, nn.Dropout(child.p))
        else:
            with_torch_dropout(child)
    return net


def tutorial_notebook(cfg: DictConfig) -> float:
    """D: the tutorial's notebook: PIL pipeline, nn.Dropout, a plain loop with SGD + OneCycleLR stepped per batch."""
    model = factory.classifier(cfg)
    with_torch_dropout(model.net)
    optimizer_config = model.optimizer_config(total_steps=lambda: cfg.warmup + cfg.batches)
    return timed_loop(model.net, optimizer_config, iter(seed_loader(cfg)), cfg, training_device(cfg))


def flops_per_image(cfg: DictConfig) -> float:
    """Forward + backward FLOPs of one training image, counted by torch's FlopCounterMode."""
    model = factory.classifier(cfg).train()
    x = torch.randn(cfg.data.batch_size, IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(len(x), dtype=torch.long)).backward()
    return counter.get_total_flops() / len(x)


BENCH_FILE = "bench.json"  # what a bench run leaves in its run directory: every measurement, medians and ratios
RATES = "images_per_second"  # its key for every path's rate in every repeat
PER_REPEAT = "per_repeat_range"  # its key for each ratio's lowest and highest value over the repeats
PATHS: dict[str, tuple[str, Callable[[DictConfig], float]]] = {
    "A": ("project path (Lightning, resident tensors, batched augmentation)", lightning_path),
    "B": ("raw PyTorch loop, same model and data path", raw_loop),
    "C": ("the tutorial's pipeline (PIL per sample, DataLoader, default Lightning)", tutorial_pipeline),
    "D": ("the tutorial's notebook (PIL per sample, DataLoader, nn.Dropout, plain loop)", tutorial_notebook),
    "E": ("project path, network compiled (torch.compile)", compiled_path),
}
COMPILED = "E"  # measured where the network compiles by default (CUDA) or with compile=true: on CPU it costs minutes


def measured_paths(cfg: DictConfig) -> dict[str, tuple[str, Callable[[DictConfig], float]]]:
    return {name: path for name, path in PATHS.items() if name != COMPILED or factory.compiled(cfg)}


# bench.json files written before the tutorial was called the tutorial everywhere (results/gpu/ keeps one): their
# ratio keys, read under today's names
RENAMED_RATIOS = {
    "ratio_vs_seed_pipeline": "ratio_vs_tutorial_pipeline",
    "ratio_vs_seed_notebook": "ratio_vs_tutorial_notebook",
}
