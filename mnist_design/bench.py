"""Training throughput, measured side by side in one process: our Lightning path vs a raw loop vs the seed's pipeline.

    python -m mnist_design.bench                       # 5 alternating repeats of A, B, C; medians
    python -m mnist_design.bench quick=true            # about a minute on a 2-core CPU
    python -m mnist_design.bench trainer.precision=bf16-mixed data.batch_size=256 model=skeleton

A  the project's real path: train.build() -> Lightning fit with the real callbacks and logger, resident tensors,
   batched augmentation on the device.
B  a plain PyTorch loop over the same model, optimizer, scheduler and data path (no Lightning).
C  the seed's pipeline: torchvision's MNIST dataset with per-sample PIL RandomRotation(7) + ToTensor + Normalize
   through a DataLoader, trained by a Lightning Trainer with default settings.

Each measurement times ``batches`` training steps after ``warmup`` steps. It ends with
``ratio_vs_seed_pipeline`` (A/C) and ``ratio_vs_raw_loop`` (A/B). Results also go to bench.json in the run dir.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import MNIST

from mnist_design.config import config_dir
from mnist_design.module import MNISTClassifier
from mnist_design.train import build


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
        if cfg.get("callbacks"):
            cfg.callbacks.model_checkpoint = None
            cfg.callbacks.model_summary = None
    return cfg


def lightning_path(cfg: DictConfig) -> float:
    """A: images/s of the project's own fit loop."""
    datamodule, model, trainer = build(steps_config(cfg))
    stopwatch = Stopwatch(cfg.warmup)
    trainer.callbacks.append(stopwatch)
    trainer.fit(model, datamodule=datamodule)
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


def raw_loop(cfg: DictConfig) -> float:
    """B: the same model, optimizer, scheduler and data path in a plain loop."""
    datamodule, model, _ = build(steps_config(cfg))
    device = torch.device("cuda" if cfg.trainer.accelerator in ("auto", "gpu") and torch.cuda.is_available() else "cpu")
    datamodule.setup("fit")
    model.to(device).train()
    images, labels = (t.to(device) for t in datamodule.splits["train"])
    total = cfg.warmup + cfg.batches
    config = model.optimizer_config(total_steps=lambda: total)
    optimizer = config["optimizer"] if isinstance(config, dict) else config
    per_step = isinstance(config, dict) and config["lr_scheduler"].get("interval") == "step"
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if "bf16" in str(cfg.trainer.precision)
                else nullcontext())
    order = torch.randperm(len(labels), device=device)
    for step in range(total):
        if step == cfg.warmup:
            sync(device)
            started = time.perf_counter()
        index = order[step * cfg.data.batch_size : (step + 1) * cfg.data.batch_size]
        x, y = datamodule.prepare_batch((images[index], labels[index]), augment=True)
        with autocast:
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if per_step:
            config["lr_scheduler"]["scheduler"].step()
    sync(device)
    return cfg.batches * cfg.data.batch_size / (time.perf_counter() - started)


def seed_pipeline(cfg: DictConfig) -> float:
    """C: per-sample PIL augmentation through a DataLoader, Lightning Trainer with default settings."""
    pil_pipeline = transforms.Compose([transforms.RandomRotation((-7.0, 7.0), fill=(1,)), transforms.ToTensor(),
                                       transforms.Normalize((0.1307,), (0.3081,))])
    dataset = MNIST(cfg.data.data_dir, train=True, transform=pil_pipeline)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True)
    model = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.get("scheduler"))
    stopwatch = Stopwatch(cfg.warmup)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=cfg.warmup + cfg.batches, limit_val_batches=0,
                        callbacks=[stopwatch], default_root_dir=HydraConfig.get().runtime.output_dir,
                        accelerator=cfg.trainer.accelerator, enable_checkpointing=False)
    trainer.fit(model, train_dataloaders=loader)
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


def flops_per_image(cfg: DictConfig) -> float:
    """Forward + backward FLOPs of one training image, counted by torch's FlopCounterMode."""
    model = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer).train()
    x = torch.randn(cfg.data.batch_size, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(len(x), dtype=torch.long)).backward()
    return counter.get_total_flops() / len(x)


PATHS: dict[str, tuple[str, Callable[[DictConfig], float]]] = {
    "A": ("project path (Lightning, resident tensors, batched augmentation)", lightning_path),
    "B": ("raw PyTorch loop, same model and data path", raw_loop),
    "C": ("seed pipeline (PIL per sample, DataLoader, default Lightning)", seed_pipeline),
}


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="bench")
def main(cfg: DictConfig) -> None:
    if cfg.quick:
        with open_dict(cfg):
            cfg.repeats, cfg.batches, cfg.warmup = cfg.quick_repeats, cfg.quick_batches, cfg.quick_warmup
    instantiate(cfg.data).prepare_data()  # fetch once, outside the timings
    flops = flops_per_image(cfg)
    print(f"device {'cuda' if torch.cuda.is_available() else 'cpu'}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; batch {cfg.data.batch_size}, {cfg.batches} timed steps after {cfg.warmup} warm-up "
          f"steps, {cfg.repeats} repeats alternating A/B/C; precision {cfg.trainer.precision}")
    print(f"forward+backward FLOPs per image: {flops / 1e6:.2f} MFLOP")
    rates: dict[str, list[float]] = {name: [] for name in PATHS}
    for repeat in range(cfg.repeats):
        for name, (_, measure) in PATHS.items():
            L.seed_everything(cfg.seed + repeat, verbose=False)
            rates[name].append(measure(cfg))
        print(f"repeat {repeat + 1}: " + "  ".join(f"{n} {r[-1]:,.0f} img/s" for n, r in rates.items()), flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, (label, _) in PATHS.items():
        print(f"{name} {label}: median {medians[name]:,.0f} img/s, {medians[name] * flops / 1e9:.2f} GFLOP/s")
    result = {"flops_per_image": flops, "images_per_second": rates, "median": medians,
              "ratio_vs_seed_pipeline": medians["A"] / medians["C"], "ratio_vs_raw_loop": medians["A"] / medians["B"]}
    (Path(HydraConfig.get().runtime.output_dir) / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"ratio_vs_seed_pipeline={result['ratio_vs_seed_pipeline']:.2f}")
    print(f"ratio_vs_raw_loop={result['ratio_vs_raw_loop']:.2f}")


if __name__ == "__main__":
    main()
