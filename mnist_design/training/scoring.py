"""Scoring a model on the test split, shared by train, evaluate and report: metrics, predictions, figures.

metrics = metrics_on_test(trainer, model, datamodule)          # {"test_loss": ..., "test_acc": ...}
named = figures_on_test(model, datamodule, trainer)             # {"predictions": Figure, "confusion_matrix": Figure}
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torchmetrics.functional.classification import multiclass_confusion_matrix

from mnist_design.data import NUM_CLASSES
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.runs import figures
from mnist_design.runs import layout as rundir
from mnist_design.runs.metrics import VAL_ACC
from mnist_design.runs.portable import portable
from mnist_design.runs.records import scalars
from mnist_design.training.checkpoints import read_checkpoint
from mnist_design.training.factory import classifier_from
from mnist_design.training.module import MNISTClassifier


def metrics_on_test(trainer: L.Trainer, model: MNISTClassifier, datamodule: MNISTDataModule) -> dict[str, float]:
    """Test loss and accuracy of the model's current weights."""
    return scalars(trainer.test(model, datamodule=datamodule, verbose=False)[0])


def selected_checkpoint_metrics(
    trainer: L.Trainer,
    datamodule: MNISTDataModule,
    path: str,
    val_acc: float,
) -> dict[str, Any]:
    """Test metrics of a checkpoint that validation selected, on a model of its own (the live one is untouched)."""
    checkpoint = read_checkpoint(path)
    model, _ = classifier_from(checkpoint, path)
    return {
        "epoch": int(checkpoint["epoch"]) + 1,
        VAL_ACC: val_acc,
        "checkpoint": portable(path),
        **metrics_on_test(trainer, model, datamodule),
    }


def images_tested(trainer: L.Trainer, datamodule: MNISTDataModule) -> int:
    """How many test images the last ``trainer.test`` measured, over all processes (fewer under limit_test_batches)."""
    batches = sum(trainer.num_test_batches) * trainer.world_size
    return min(len(datamodule.splits["test"][1]), int(batches * datamodule.hparams.eval_batch_size))


@torch.no_grad()
def predicted_test_labels(
    model: MNISTClassifier, datamodule: MNISTDataModule, count: int | None = None, batch_size: int = 1000
) -> torch.Tensor:
    """The model's labels for the first ``count`` test images (all by default), on this process alone (also under
    DDP, where rank 0 draws)."""
    datamodule.setup("test")
    images, labels = (split[:count] for split in datamodule.splits["test"])
    was_training = model.training
    model.eval()
    predicted = []
    for start in range(0, len(labels), batch_size):
        batch = (images[start : start + batch_size].to(model.device), labels[start : start + batch_size])
        predicted.append(model(datamodule.prepare_batch(batch, augment=False)[0]).argmax(dim=1).cpu())
    model.train(was_training)
    return torch.cat(predicted)


def figures_on_test(
    model: MNISTClassifier, datamodule: MNISTDataModule, tested_by: L.Trainer | None = None
) -> dict[str, Any]:
    """Prediction grid (mistakes first) and confusion matrix of the model's current weights: on as many test images
    as ``tested_by``'s last test measured (on one process, the same ones), or on the whole test set."""
    count = images_tested(tested_by, datamodule) if tested_by else None
    predicted = predicted_test_labels(model, datamodule, count)
    images, labels = (t[:count].cpu() for t in datamodule.splits["test"])
    return {
        rundir.PREDICTIONS: figures.prediction_grid(images, labels, predicted),
        rundir.CONFUSION_MATRIX: figures.confusion_matrix(
            multiclass_confusion_matrix(predicted, labels, num_classes=NUM_CLASSES)
        ),
    }
