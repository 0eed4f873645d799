"""Evaluate a checkpoint on the MNIST test set: loss, accuracy, confusion matrix and the misclassified digits.

    python -m mnist_design.evaluate ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt
    python -m mnist_design.evaluate ckpt_path=... data_dir=/elsewhere/mnist trainer.accelerator=cpu

The model and the data settings are rebuilt from the checkpoint alone (its hyperparameters travel inside it);
``last.ckpt`` reproduces the run's ``test_*`` numbers. Results go to a fresh directory under outputs/evaluate/.
The functions here also make the figures that every training run writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig
from torchmetrics.functional.classification import multiclass_confusion_matrix

from mnist_design import figures
from mnist_design.checkpoints import CheckpointError, load_classifier
from mnist_design.config import config_dir
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.data.sources import MNISTUnavailable
from mnist_design.module import MNISTClassifier


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """Lightning's "test/acc" -> "test_acc", as floats."""
    return {name.replace("/", "_"): float(value) for name, value in metrics.items() if "/" in name}


def metrics_on_test(trainer: L.Trainer, model: MNISTClassifier, datamodule: MNISTDataModule,
                 ckpt_path: str | None = None) -> dict[str, float]:
    return scalars(trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path, verbose=False)[0])


def read_history(path: Path) -> list[dict[str, float]]:
    """history.jsonl, keeping the last record of each epoch (a resumed run appends again from its checkpoint)."""
    if not path.is_file():
        return []
    by_epoch = {record["epoch"]: record for record in map(json.loads, path.read_text().splitlines()) if record}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


@torch.no_grad()
def predicted_test_labels(model: MNISTClassifier, datamodule: MNISTDataModule, batch_size: int = 1000) -> torch.Tensor:
    """The model's labels for the whole test set, on this process alone (also under DDP, where rank 0 draws)."""
    datamodule.setup("test")
    images, labels = datamodule.splits["test"]
    was_training = model.training
    model.eval()
    predicted = []
    for start in range(0, len(labels), batch_size):
        batch = (images[start : start + batch_size].to(model.device), labels[start : start + batch_size])
        predicted.append(model(datamodule.prepare_batch(batch, augment=False)[0]).argmax(dim=1).cpu())
    model.train(was_training)
    return torch.cat(predicted)


def figures_on_test(model: MNISTClassifier, datamodule: MNISTDataModule) -> dict[str, Any]:
    """Prediction grid and confusion matrix of the model's current weights on the test set."""
    predicted = predicted_test_labels(model, datamodule)
    images, labels = (t.cpu() for t in datamodule.splits["test"])
    return {
        "predictions": figures.prediction_grid(images, labels, predicted),
        "confusion_matrix": figures.confusion_matrix(multiclass_confusion_matrix(predicted, labels, num_classes=10)),
    }


def write_figures(out_dir: Path, named: dict[str, Any], logger: Any = None) -> list[Path]:
    """Each figure as out_dir/NAME.png, and as a TensorBoard image when the run logs to TensorBoard."""
    written = []
    for name, fig in named.items():
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(f"figures/{name}", fig, close=False)
        written.append(figures.save(fig, out_dir / f"{name}.png"))
    return written


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    model, datamodule_hparams = load_classifier(cfg.ckpt_path)
    if cfg.get("data_dir"):
        datamodule_hparams["data_dir"] = cfg.data_dir
    datamodule = MNISTDataModule(**datamodule_hparams)
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], enable_checkpointing=False)
    metrics = {"checkpoint": str(cfg.ckpt_path), **metrics_on_test(trainer, model, datamodule)}
    metrics["figures"] = [str(p) for p in write_figures(out_dir, figures_on_test(model, datamodule))]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"TEST ({cfg.ckpt_path}): loss {metrics['test_loss']:.4f} acc {100 * metrics['test_acc']:.2f}%")
    print(f"Confusion matrix and misclassified digits in {out_dir}")
    return metrics


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except (CheckpointError, MNISTUnavailable) as error:
        print(f"error: {error}\n(set HYDRA_FULL_ERROR=1 for the full trace)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
