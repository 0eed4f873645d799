"""The one registry of what a run measures: every metric's name, how it is computed, shown, and where it goes.

    for metric in METRICS: ...                  # loss and acc, each logged per stage as "<stage>/<name>"
    record_key("val/acc") == "val_acc"          # the key in the history and metrics files
    metric("val/loss").direction == "minimize"  # what a search does with it

Everything else derives from this list: the LightningModule's metric objects and ``self.log`` calls, the per-epoch
console line and the history file, the keys of the metrics file, the HParams table's metrics and the learning curves. To
add a metric, add one entry here (and a test).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor
from torchmetrics import MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

from mnist_design.data import NUM_CLASSES

STAGES = ("train", "val", "test")


@dataclass(frozen=True)
class MetricSpec:
    name: str  # logged as "<stage>/<name>"
    factory: Callable[[], Metric]  # a fresh torchmetrics object per stage, updated with (loss, logits, labels)
    update: str  # "loss": fed the batch's mean loss, once per image; "logits": fed (logits, labels)
    percent: bool  # shown as a percentage (accuracies) or as a plain number (losses)
    direction: str  # "maximize" or "minimize": what "better" means, for a search and for ranking
    curve: bool = True  # drawn in the learning curves and kept per epoch in the history file
    hparam: bool = True  # beside the hyperparameters in TensorBoard's HParams table

    def show(self, value: float) -> str:
        return f"{100 * value:.2f}%" if self.percent else f"{value:.4f}"

    def feed(self, measured: Metric, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
        """One batch into this metric's object (a stage's ``factory()``)."""
        if self.update == "loss":
            # One value per image, not weight=batch size: torchmetrics 1.9 drops the weight under
            # nan_strategy="disable" (Lightning-AI/torchmetrics#3434), which would count a short last batch in full.
            measured.update(loss.detach().expand(len(labels)))
        else:
            measured.update(logits.detach(), labels)


# No check that reads the device at every update: the inputs are ours (validate_args=False skips torchmetrics'
# torch.unique of targets and predictions; nan_strategy="disable" skips MeanMetric's NaN test), and a NaN loss is
# caught by StopOnNonFiniteLoss (mnist_design/training/callbacks.py) without a host sync per step.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("loss", lambda: MeanMetric(nan_strategy="disable"), update="loss", percent=False, direction="minimize"),
    MetricSpec(
        "acc",
        lambda: MulticlassAccuracy(num_classes=NUM_CLASSES, average="micro", validate_args=False),
        update="logits",
        percent=True,
        direction="maximize",
    ),
)


def logged_name(stage: str, spec: MetricSpec) -> str:
    return f"{stage}/{spec.name}"


def record_key(logged: str) -> str:
    """Lightning's logged "val/acc" -> "val_acc", the key in the history and metrics files and the report."""
    return logged.replace("/", "_")


# The record keys the report and the commands read by name, derived from the registry's stages and names.
TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, TEST_ACC, TEST_LOSS = (
    record_key(f"{stage}/{name}") for stage in STAGES for name in ("acc", "loss")
)


def metric(logged: str) -> MetricSpec:
    """The registry entry of a logged name such as "val/acc" (or its record key "val_acc")."""
    stage, _, name = logged.replace("_", "/", 1).partition("/")
    for spec in METRICS:
        if spec.name == name and stage in STAGES:
            return spec
    allowed = ", ".join(logged_name(s, spec) for s in STAGES for spec in METRICS)
    raise KeyError(f"{logged!r} is not a metric; allowed: {allowed}")


def monitorable() -> tuple[str, ...]:
    """What a scheduler or a search may watch: the metrics logged every epoch for training and validation."""
    return tuple(logged_name(stage, spec) for stage in ("train", "val") for spec in METRICS)


def epoch_keys() -> tuple[str, ...]:
    """What each history record holds per epoch besides epoch, lr and seconds: train and val curves."""
    return tuple(record_key(logged_name(stage, spec)) for stage in ("train", "val") for spec in METRICS if spec.curve)


def hparam_keys() -> tuple[str, ...]:
    """The final numbers shown beside the hyperparameters."""
    return tuple(record_key(logged_name(stage, spec)) for stage in STAGES for spec in METRICS if spec.hparam)
