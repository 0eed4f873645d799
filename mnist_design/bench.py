"""Training throughput, measured side by side in one process: our Lightning path vs a raw loop vs the seed's ways.

    python -m mnist_design.bench                       # 5 alternating repeats of A, B, C, D; medians
    python -m mnist_design.bench quick=true            # about a minute on a 2-core CPU
    python -m mnist_design.bench parallel=true         # + 1 job alone vs 2 jobs sharing the machine
    python -m mnist_design.bench trainer.precision=bf16-mixed data.batch_size=256 model=skeleton

A  the project's real path: factory.build() -> Lightning fit with the real callbacks and logger, resident tensors,
   batched augmentation on the device.
B  a plain PyTorch loop over the same model, optimizer, scheduler and data path (no Lightning).
C  the seed's data pipeline: torchvision's MNIST dataset with per-sample PIL RandomRotation(7) + ToTensor + Normalize
   through a DataLoader, trained by a Lightning Trainer with default settings (same model, same fast dropout).
D  the seed's notebook as it is: the same pipeline as C, torch's own nn.Dropout, a plain PyTorch training loop.

Each measurement times ``batches`` training steps after ``warmup`` steps. It ends with ``ratio_vs_seed_pipeline``
(A/C), ``ratio_vs_seed_notebook`` (A/D) and ``ratio_vs_raw_loop`` (A/B); with ``parallel=true`` also
``ratio_parallel_2_vs_1``: images per second of two concurrent jobs together over one job alone. Results also go
to bench.json in the run dir.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import MNIST

from mnist_design import factory
from mnist_design.config import config_dir, validate
from mnist_design.data import IMAGE_SIZE, IN_CHANNELS, MEAN, STD
from mnist_design.errors import exit_on_user_error


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_device(cfg: DictConfig) -> torch.device:
    return torch.device("cuda" if cfg.trainer.accelerator in ("auto", "gpu") and torch.cuda.is_available() else "cpu")


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


def lightning_path(cfg: DictConfig) -> float:
    """A: images/s of the project's own fit loop."""
    stopwatch = Stopwatch(cfg.warmup)
    datamodule, model, trainer = factory.build(steps_config(cfg), extra_callbacks=[stopwatch])
    trainer.fit(model, datamodule=datamodule)
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


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
    """B: the same model, optimizer, scheduler and data path in a plain loop."""
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
    """The seed notebook's data: per-sample PIL rotation, ToTensor and Normalize through a DataLoader."""
    pil_pipeline = transforms.Compose(
        [
            transforms.RandomRotation((-7.0, 7.0), fill=(1,)),
            transforms.ToTensor(),
            transforms.Normalize((MEAN,), (STD,)),
        ]
    )
    dataset = MNIST(cfg.data.data_dir, train=True, transform=pil_pipeline)
    return DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True)


def seed_pipeline(cfg: DictConfig) -> float:
    """C: per-sample PIL augmentation through a DataLoader, Lightning Trainer with default settings."""
    model = factory.classifier(cfg)
    stopwatch = Stopwatch(cfg.warmup)
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=cfg.warmup + cfg.batches,
        limit_val_batches=0,
        callbacks=[stopwatch],
        default_root_dir=HydraConfig.get().runtime.output_dir,
        accelerator=cfg.trainer.accelerator,
        enable_checkpointing=False,
    )
    trainer.fit(model, train_dataloaders=seed_loader(cfg))
    return cfg.batches * cfg.data.batch_size / stopwatch.seconds


def with_torch_dropout(net: nn.Module) -> nn.Module:
    """The net with torch's own nn.Dropout in place of the project's faster CPU dropout, as in the seed's notebook."""
    for name, child in net.named_children():
        if isinstance(child, nn.Dropout) and type(child) is not nn.Dropout:
            setattr(net, name, nn.Dropout(child.p))
        else:
            with_torch_dropout(child)
    return net


def seed_notebook(cfg: DictConfig) -> float:
    """D: the seed's notebook: PIL pipeline, nn.Dropout, a plain loop with SGD + OneCycleLR stepped per batch."""
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


PATHS: dict[str, tuple[str, Callable[[DictConfig], float]]] = {
    "A": ("project path (Lightning, resident tensors, batched augmentation)", lightning_path),
    "B": ("raw PyTorch loop, same model and data path", raw_loop),
    "C": ("seed pipeline (PIL per sample, DataLoader, default Lightning)", seed_pipeline),
    "D": ("seed notebook (PIL per sample, DataLoader, nn.Dropout, plain loop)", seed_notebook),
}


def job(plain_cfg: dict, threads: int, results: Any) -> None:
    """One concurrent measurement of path A in a child process with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    results.put(lightning_path(OmegaConf.create(plain_cfg)))


def concurrent_rate(cfg: DictConfig, jobs: int) -> float:
    """Images/s of ``jobs`` concurrent path-A measurements together, each on its share of the cores."""
    plain = OmegaConf.to_container(cfg, resolve=True)  # children have no Hydra runtime to resolve against
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    children = [context.Process(target=job, args=(plain, threads, results)) for _ in range(jobs)]
    for child in children:
        child.start()
    rates = [results.get() for _ in children]
    for child in children:
        child.join()
    return sum(rates)


def measure(cfg: DictConfig) -> dict[str, Any]:
    rates: dict[str, list[float]] = {name: [] for name in PATHS}
    parallel: dict[str, list[float]] = {"1": [], "2": []}
    for repeat in range(cfg.repeats):
        for name, (_, rate) in PATHS.items():
            L.seed_everything(cfg.seed + repeat, verbose=False)
            rates[name].append(rate(cfg))
        line = "  ".join(f"{n} {r[-1]:,.0f} img/s" for n, r in rates.items())
        if cfg.parallel:
            for jobs in parallel:
                parallel[jobs].append(concurrent_rate(cfg, int(jobs)))
            line += f"  | 1 job {parallel['1'][-1]:,.0f}, 2 jobs {parallel['2'][-1]:,.0f} img/s together"
        print(f"repeat {repeat + 1}: {line}", flush=True)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    result = {
        "images_per_second": rates,
        "median": medians,
        "ratio_vs_seed_pipeline": medians["A"] / medians["C"],
        "ratio_vs_seed_notebook": medians["A"] / medians["D"],
        "ratio_vs_raw_loop": medians["A"] / medians["B"],
    }
    if cfg.parallel:
        result["parallel_images_per_second"] = parallel
        result["ratio_parallel_2_vs_1"] = statistics.median(parallel["2"]) / statistics.median(parallel["1"])
    return result


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="bench")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        if cfg.quick:
            with open_dict(cfg):
                cfg.repeats, cfg.batches, cfg.warmup = cfg.quick_repeats, cfg.quick_batches, cfg.quick_warmup
        validate(cfg)
        factory.datamodule(cfg).prepare_data()  # fetch once, outside the timings
        flops = flops_per_image(cfg)
        print(
            f"device {training_device(cfg)}, {torch.get_num_threads()} threads, torch {torch.__version__}; batch "
            f"{cfg.data.batch_size}, {cfg.batches} timed steps after {cfg.warmup} warm-up steps, {cfg.repeats} "
            f"repeats alternating A/B/C/D; precision {cfg.trainer.precision}"
        )
        print(f"forward+backward FLOPs per image: {flops / 1e6:.2f} MFLOP")
        result = {"flops_per_image": flops, **measure(cfg)}
        for name, (label, _) in PATHS.items():
            median = result["median"][name]
            print(f"{name} {label}: median {median:,.0f} img/s, {median * flops / 1e9:.2f} GFLOP/s")
        (Path(HydraConfig.get().runtime.output_dir) / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
        for key in ("ratio_parallel_2_vs_1", "ratio_vs_seed_pipeline", "ratio_vs_seed_notebook", "ratio_vs_raw_loop"):
            if key in result:
                print(f"{key}={result[key]:.2f}")


if __name__ == "__main__":
    main()
