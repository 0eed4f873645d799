"""Train one of the seed's models on MNIST, then test it once.

    python -m mnist_design.train                              # the seed's row 4: best model, 15 epochs
    python -m mnist_design.train experiment=row1              # any seed row: row1|row2|row3|row4
    python -m mnist_design.train model=bn_dropout augment=on trainer.max_epochs=1
    python -m mnist_design.train -m seed=0,1,2                # a Hydra multirun: one directory per job

Each run writes into its own directory under outputs/: the composed config (.hydra/), TensorBoard logs,
checkpoints (best by validation accuracy, and last) and metrics.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from mnist_design.config import ConfigError, config_dir, validate
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.data.sources import MNISTUnavailable
from mnist_design.module import MNISTClassifier


def build(cfg: DictConfig) -> tuple[MNISTDataModule, MNISTClassifier, L.Trainer]:
    """data -> model -> callbacks -> logger -> trainer, each from its config group."""
    augment = instantiate(cfg.augment) if cfg.get("augment") else None
    datamodule = instantiate(cfg.data, augment=augment)
    model = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.get("scheduler"))
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    return datamodule, model, trainer


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Lightning's "train/acc" -> "train_acc", as floats."""
    return {name.replace("/", "_"): float(value) for name, value in metrics.items() if "/" in name}


def test_selected(trainer: L.Trainer, model: MNISTClassifier, datamodule: MNISTDataModule) -> dict[str, Any]:
    """Test metrics of the checkpoint that validation accuracy selected (recorded, never used to choose)."""
    checkpoint = trainer.checkpoint_callback
    if not isinstance(checkpoint, ModelCheckpoint) or not checkpoint.best_model_path:
        return {}
    path = checkpoint.best_model_path
    epoch = torch.load(path, map_location="cpu", weights_only=False)["epoch"] + 1
    result = scalars(trainer.test(model, datamodule=datamodule, ckpt_path=path, verbose=False)[0])
    return {"epoch": epoch, "val_acc": float(checkpoint.best_model_score), "checkpoint": path, **result}


def train(cfg: DictConfig) -> dict[str, Any]:
    validate(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model, trainer = build(cfg)

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "params": sum(p.numel() for p in model.parameters()),
        "epochs": trainer.current_epoch,
        "seconds": round(seconds, 2),
        **scalars(trainer.callback_metrics),
    }
    if cfg.test:
        # The seed's table reports the final epoch's weights; the validation-selected checkpoint goes beside them.
        metrics.update(scalars(trainer.test(model, datamodule=datamodule, verbose=False)[0]))
        metrics["selected"] = test_selected(trainer, model, datamodule)
    metrics.update({
        "seed": cfg.seed,
        "model": HydraConfig.get().runtime.choices.get("model"),
        "protocol": datamodule.protocol,
        "data_source": datamodule.source,
        "device": str(trainer.strategy.root_device),
        "run_dir": str(run_dir),
    })
    if trainer.is_global_zero:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        report(metrics)
    return metrics


def report(metrics: dict[str, Any]) -> None:
    if "test_acc" in metrics:
        selected = metrics.get("selected") or {}
        chosen = (f"  |  val-selected epoch {selected['epoch']}: test acc {100 * selected['test_acc']:.2f}%"
                  if selected else "")
        print(f"TEST (final epoch {metrics['epochs']}): loss {metrics['test_loss']:.4f} "
              f"acc {100 * metrics['test_acc']:.2f}%{chosen}")
    print(f"{metrics['params']:,} params, {metrics['seconds']:.1f}s of training. Run directory: {metrics['run_dir']}")


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns validation accuracy, the value a Hydra sweeper optimises (never the test set)."""
    try:
        return train(cfg)["val_acc"]
    except (ConfigError, MNISTUnavailable) as error:
        print(f"error: {error}\n(set HYDRA_FULL_ERROR=1 for the full trace)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
