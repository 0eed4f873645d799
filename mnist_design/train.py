"""Train one of the seed's models on MNIST, then test it once.

    python -m mnist_design.train                              # the seed's row 4: best model, 15 epochs
    python -m mnist_design.train experiment=row1              # any seed row: row1|row2|row3|row4
    python -m mnist_design.train model=bn_dropout augment=on trainer.max_epochs=1
    python -m mnist_design.train -m seed=0,1,2                # a Hydra multirun: one directory per job
    python -m mnist_design.train resume=outputs/runs/<run>    # continue a killed run from its last checkpoint

Each run writes into its own directory under outputs/: the composed config (.hydra/), TensorBoard logs,
checkpoints (best by validation accuracy, and last), metrics.json, history.jsonl and figures (learning curves,
prediction grid, confusion matrix).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from mnist_design import figures
from mnist_design.callbacks import NonFiniteLoss
from mnist_design.checkpoints import CheckpointError, read_checkpoint
from mnist_design.config import ConfigError, config_dir, validate
from mnist_design.data.datamodule import SEED_PROTOCOL, MNISTDataModule
from mnist_design.data.sources import MNISTUnavailable
from mnist_design.evaluate import figures_on_test, metrics_on_test, read_history, scalars, write_figures
from mnist_design.module import MNISTClassifier
from mnist_design.receptive_field import markdown, receptive_fields


def build(cfg: DictConfig) -> tuple[MNISTDataModule, MNISTClassifier, L.Trainer]:
    """data -> model -> callbacks -> logger -> trainer, each from its config group."""
    augment = instantiate(cfg.augment) if cfg.get("augment") else None
    datamodule = instantiate(cfg.data, augment=augment)
    model = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.get("scheduler"),
                            **(cfg.get("module") or {}))
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    return datamodule, model, trainer


def selected_on_test(trainer: L.Trainer, model: MNISTClassifier, datamodule: MNISTDataModule) -> dict[str, Any]:
    """Test metrics of the checkpoint that validation accuracy selected (recorded, never used to choose)."""
    checkpoint = trainer.checkpoint_callback
    if not isinstance(checkpoint, ModelCheckpoint) or not checkpoint.best_model_path:
        return {}
    path = checkpoint.best_model_path
    epoch = read_checkpoint(path)["epoch"] + 1
    result = metrics_on_test(trainer, model, datamodule, ckpt_path=path)
    return {"epoch": epoch, "val_acc": float(checkpoint.best_model_score), "checkpoint": path, **result}


def log_receptive_fields(cfg: DictConfig, model: MNISTClassifier, logger: Any) -> None:
    if isinstance(logger, TensorBoardLogger):
        rows = receptive_fields(model.net, cfg.model.get("image_size", 28), cfg.model.get("in_channels", 1))
        logger.experiment.add_text("receptive_field", markdown(rows))


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """last.ckpt of the run being resumed (checked before use); None for a fresh run or one killed in epoch 1."""
    if not cfg.get("resume"):
        return None
    last = Path(cfg.resume) / "checkpoints" / "last.ckpt"
    if not last.is_file():
        print(f"resume: no checkpoint yet in {last.parent}, starting the run from epoch 1")
        return None
    read_checkpoint(last)
    print(f"resume: continuing from {last}")
    return str(last)


def resume_arguments(argv: list[str]) -> list[str]:
    """``resume=RUN_DIR`` -> that run's own overrides, its directory, and the resume flag; other argv unchanged.

    Done before Hydra composes, so the resumed run has exactly the config it started with.
    """
    requested = [arg for arg in argv if arg.startswith("resume=")]
    if not requested:
        return argv
    run_dir = Path(requested[-1].split("=", 1)[1])
    saved = run_dir / ".hydra" / "overrides.yaml"
    if not saved.is_file():
        raise CheckpointError(f"resume={run_dir} is not a run directory (no .hydra/overrides.yaml); give the "
                              f"directory printed at the end of a run, e.g. outputs/runs/<date>_<time>_<model>_<id>")
    original = [str(o) for o in OmegaConf.load(saved) if not str(o).startswith("resume=")]
    others = [arg for arg in argv if not arg.startswith("resume=")]
    return [*original, *others, f"resume={run_dir.resolve()}", f"hydra.run.dir={run_dir.resolve()}"]


class OverBudget(ConfigError):
    """The model has more parameters than ``budget`` allows; raised before any data is read."""


def check_budget(cfg: DictConfig) -> None:
    if cfg.get("budget") is None:
        return
    params = sum(p.numel() for p in instantiate(cfg.model).parameters())
    if params > cfg.budget:
        raise OverBudget(f"the model has {params:,} parameters, over budget={cfg.budget:,}; "
                         f"use a smaller model or raise the budget")


def train(cfg: DictConfig) -> dict[str, Any]:
    validate(cfg)
    check_budget(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule, model, trainer = build(cfg)
    log_receptive_fields(cfg, model, trainer.logger)

    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=resume_checkpoint(cfg))
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "params": sum(p.numel() for p in model.parameters()),
        "epochs": trainer.current_epoch,
        "seconds": round(seconds, 2),
        **scalars(trainer.callback_metrics),
    }
    if cfg.test:
        # The seed's table reports the final epoch's weights; the validation-selected checkpoint goes beside them.
        metrics.update(metrics_on_test(trainer, model, datamodule))
    if trainer.is_global_zero:
        named = {"learning_curves": figures.learning_curves({"run": read_history(run_dir / "history.jsonl")})}
        write_figures(run_dir, {**named, **(figures_on_test(model, datamodule) if cfg.test else {})}, trainer.logger)
    if cfg.test:
        metrics["selected"] = selected_on_test(trainer, model, datamodule)
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
    if metrics["protocol"] == SEED_PROTOCOL:
        print(f"{SEED_PROTOCOL}: val_* and the 'selected' checkpoint were measured and chosen on the test set")
    if "test_acc" in metrics:
        selected = metrics.get("selected") or {}
        chosen = (f"  |  val-selected epoch {selected['epoch']}: test acc {100 * selected['test_acc']:.2f}%"
                  if selected else "")
        print(f"TEST (final epoch {metrics['epochs']}): loss {metrics['test_loss']:.4f} "
              f"acc {100 * metrics['test_acc']:.2f}%{chosen}")
    print(f"{metrics['params']:,} params, {metrics['seconds']:.1f}s of training. Run directory: {metrics['run_dir']}")


REJECTED = 0.0  # the objective of an over-budget trial: worse than any trained model's validation accuracy


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns validation accuracy, the value a Hydra sweeper optimises (never the test set)."""
    try:
        return train(cfg)["val_acc"]
    except OverBudget as error:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            fail(error, status=2)
        print(f"rejected before training: {error}; scoring it {REJECTED}")
        return REJECTED  # a search learns to avoid the region instead of stopping
    except (ConfigError, MNISTUnavailable, CheckpointError) as error:
        fail(error, status=2)
    except NonFiniteLoss as error:
        fail(error, status=3)


def fail(error: Exception, status: int) -> None:
    print(f"error: {error}\n(set HYDRA_FULL_ERROR=1 for the full trace)", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    try:
        sys.argv[1:] = resume_arguments(sys.argv[1:])
    except CheckpointError as error:
        fail(error, status=2)
    main()
