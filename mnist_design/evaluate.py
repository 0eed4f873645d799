"""Evaluate a checkpoint on the MNIST test set: loss, accuracy, confusion matrix and the misclassified digits.

    python -m mnist_design.evaluate ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt
    python -m mnist_design.evaluate ckpt_path=... data_dir=/elsewhere/mnist trainer.accelerator=cpu

The model and the data settings are rebuilt from the checkpoint alone (its hyperparameters travel inside it);
``last.ckpt`` reproduces the run's ``test_*`` numbers. Results go to a fresh directory under outputs/evaluate/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from mnist_design.config import config_dir
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.errors import exit_on_user_error
from mnist_design.runs import records as runs
from mnist_design.training import factory, scoring


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    model, data_settings = factory.classifier_from_checkpoint(cfg.ckpt_path)
    if cfg.get("data_dir"):
        data_settings["data_dir"] = cfg.data_dir
    datamodule = MNISTDataModule(**data_settings)
    trainer = factory.lightning_trainer(cfg, logger=False, callbacks=[], enable_checkpointing=False)
    metrics = {"checkpoint": str(cfg.ckpt_path), **scoring.metrics_on_test(trainer, model, datamodule)}
    metrics["figures"] = [
        str(p) for p in runs.write_figures(out_dir, scoring.figures_on_test(model, datamodule, trainer))
    ]
    runs.write_metrics(out_dir, metrics)
    print(f"TEST ({cfg.ckpt_path}): loss {metrics['test_loss']:.4f} acc {100 * metrics['test_acc']:.2f}%")
    print(f"Confusion matrix and misclassified digits in {out_dir}")
    return metrics


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        evaluate(cfg)


if __name__ == "__main__":
    main()
