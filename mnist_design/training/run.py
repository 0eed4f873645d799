"""One training run, shared by the train and search entry points: check -> fit -> evaluate -> write.

    metrics = train(cfg, run_dir)               # cfg as composed by Hydra; run_dir: where the run writes
    metrics = train(cfg, run_dir, extra_callbacks=[pruning_callback])

Only the entry point knows where the run directory is (Hydra's runtime, or the directory a search chose); everything
here takes it as an argument.

The order is explicit: evaluate reads the final epoch from the history file and tests the final weights (the
validation-selected checkpoint is tested on a model of its own); write draws the figures, logs HParams and writes
the metrics file last, so its presence means "finished".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from mnist_design.config import check_budget, config_dir, runtime, validate
from mnist_design.data.datamodule import TUTORIAL_PROTOCOL, MNISTDataModule
from mnist_design.models.net import parameter_count
from mnist_design.runs import figures
from mnist_design.runs import layout as rundir
from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir
from mnist_design.runs.machine import hardware
from mnist_design.runs.metrics import TEST_ACC, epoch_keys
from mnist_design.runs.portable import make_portable, portable
from mnist_design.training import factory, scoring, threads
from mnist_design.training.module import MNISTClassifier


def fit(
    cfg: DictConfig,
    run_dir: Path,
    ckpt_path: str | None = None,
    extra_callbacks: Sequence[L.Callback] = (),
) -> tuple[MNISTDataModule, MNISTClassifier, L.Trainer, float]:
    """Build everything from config and train; returns the trained objects and the seconds fit took."""
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    factory.share_cores(cfg)
    # @hydra.main makes the run directory; a run composed in process (the API, a trial) makes it here
    run_dir.mkdir(parents=True, exist_ok=True)
    datamodule, model, trainer = factory.build(cfg, extra_callbacks)
    started = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    return datamodule, model, trainer, time.perf_counter() - started


def selected_metrics(trainer: L.Trainer, datamodule: MNISTDataModule) -> dict[str, Any]:
    """Test metrics of the checkpoint validation accuracy selected (recorded beside the final ones, never used)."""
    best = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    if best is None or not best.best_model_path or best.best_model_score is None:
        return {}
    return scoring.selected_checkpoint_metrics(trainer, datamodule, best.best_model_path, float(best.best_model_score))


def final_metrics(
    cfg: DictConfig,
    run_dir: Path,
    datamodule: MNISTDataModule,
    model: MNISTClassifier,
    trainer: L.Trainer,
    seconds: float,
) -> dict[str, Any]:
    """Everything the metrics file records: the final epoch's train/val numbers, test numbers, and what the run was."""
    history = runs.read_history(RunDir(run_dir).history)
    logged = runs.scalars(trainer.callback_metrics)
    metrics: dict[str, Any] = {
        "params": parameter_count(model),
        "epochs": int(history[-1]["epoch"]) if history else trainer.current_epoch,
        "seconds": round(seconds, 2),
        **{key: logged[key] for key in epoch_keys() if key in logged},
        **runs.final_epoch(history),
    }
    if cfg.test:  # the tutorial's table reports the final epoch's weights; the val-selected checkpoint goes beside them
        metrics.update(scoring.metrics_on_test(trainer, model, datamodule))
        metrics["selected"] = selected_metrics(trainer, datamodule)
    metrics.update(
        {
            "seed": cfg.seed,
            "model": runtime(cfg).runtime.choices.get("model"),
            "tags": OmegaConf.to_container(cfg.tags, resolve=True),
            "protocol": datamodule.protocol,
            "data_source": datamodule.source,
            "device": str(trainer.strategy.root_device),
            "hardware": hardware(trainer.strategy.root_device),  # the report quotes it
            "threads": threads.record(trainer.callbacks),
            "run_dir": portable(run_dir),
            rundir.RECORDED: rundir.recorded_names(),  # read under these names even after a rename
        }
    )
    return metrics


def write(
    cfg: DictConfig,
    run_dir: Path,
    datamodule: MNISTDataModule,
    model: MNISTClassifier,
    trainer: L.Trainer,
    metrics: dict[str, Any],
) -> None:
    """Figures, HParams and the metrics file (rank 0 only); that file last, so its presence means 'finished'."""
    if not trainer.is_global_zero:
        return
    named = {rundir.LEARNING_CURVES: figures.learning_curves({"run": runs.read_history(RunDir(run_dir).history)})}
    if cfg.test:
        named.update(scoring.figures_on_test(model, datamodule, trainer))
    runs.write_figures(run_dir, named, trainer.logger)
    if trainer.logger:  # the run's config beside its final numbers: TensorBoard's HParams tab, MLflow's run page
        params, final = runs.hparams(cfg), runs.hparam_metrics(metrics)
        if isinstance(trainer.logger, TensorBoardLogger):
            trainer.logger.log_hyperparams(params, final)
        else:
            trainer.logger.log_hyperparams(params)
            trainer.logger.log_metrics(final)
        trainer.logger.finalize("success")
    make_portable(run_dir, Path(config_dir()))  # before the metrics file: a finished run's record is portable
    runs.write_metrics(run_dir, metrics)
    say(metrics)


def train(
    cfg: DictConfig, run_dir: Path, ckpt_path: str | None = None, extra_callbacks: Sequence[L.Callback] = ()
) -> dict[str, Any]:
    """One whole run into ``run_dir``: check the config, fit, evaluate, write. Returns what the metrics file holds."""
    check_budget(cfg, validate(cfg))
    datamodule, model, trainer, seconds = fit(cfg, run_dir, ckpt_path, extra_callbacks)
    metrics = final_metrics(cfg, run_dir, datamodule, model, trainer, seconds)
    write(cfg, run_dir, datamodule, model, trainer, metrics)
    return metrics


def say(metrics: dict[str, Any]) -> None:
    if metrics["protocol"] == TUTORIAL_PROTOCOL:
        print(f"{TUTORIAL_PROTOCOL}: val_* and the 'selected' checkpoint were measured and chosen on the test set")
    if TEST_ACC in metrics:
        selected = metrics.get("selected") or {}
        chosen = (
            f"  |  val-selected epoch {selected['epoch']}: test acc {100 * selected['test_acc']:.2f}%"
            if selected
            else ""
        )
        print(
            f"TEST (final epoch {metrics['epochs']}): loss {metrics['test_loss']:.4f} "
            f"acc {100 * metrics['test_acc']:.2f}%{chosen}"
        )
    print(f"{metrics['params']:,} params, {metrics['seconds']:.1f}s of training. Run directory: {metrics['run_dir']}")
