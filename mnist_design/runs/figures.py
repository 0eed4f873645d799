"""The figures of a run and of the report, as matplotlib Figures (saved as PNG and sent to TensorBoard).

fig = learning_curves({"row4": history}); save(fig, "curves.png")
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image

from mnist_design.runs import metrics as registry


def curves() -> list[tuple[registry.MetricSpec, str, str]]:
    """(metric, its train key, its val key) for each curve the registry asks for."""
    return [(spec, f"train_{spec.name}", f"val_{spec.name}") for spec in registry.METRICS if spec.curve]


def save(fig: Figure, path: str | Path) -> Path:
    """The figure as a 128-colour palette PNG: plots and digits need no more, and the files stay tens of KB."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    Image.open(buffer).convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def pixels(path: str | Path) -> np.ndarray:
    """A saved figure as an RGB array (height, width, 3), e.g. for TensorBoard's image tab."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def learning_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> Figure:
    """Train and validation loss and accuracy per epoch, and the learning rate; one colour per named history."""
    drawn = curves()
    fig, axes = plt.subplots(1, len(drawn) + 1, figsize=(5 * (len(drawn) + 1), 4))
    for colour, (name, history) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in history]
        for ax, (spec, train_key, val_key) in zip(axes, drawn):
            ax.plot(epochs, [h.get(train_key, np.nan) for h in history], f"C{colour}.--", label=f"{name} train")
            ax.plot(epochs, [h.get(val_key, np.nan) for h in history], f"C{colour}.-", label=f"{name} val")
            ax.set_title(spec.name)
        axes[-1].plot(epochs, [h["lr"] for h in history], f"C{colour}.-", label=name)
    for ax, (spec, train_key, val_key) in zip(axes, drawn):
        final = [
            h[key] for history in histories.values() for h in history[-1:] for key in (train_key, val_key) if key in h
        ]
        if not spec.percent:
            ax.set_yscale("log")  # early epochs of a slow starter would flatten every other curve
        elif final and min(final) > 0.95:
            ax.set_ylim(0.95, 1.0)  # zoom on the last per-mille, where the rows differ; early epochs fall below
    axes[-1].set_title("learning rate (end of epoch)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def prediction_grid(images: torch.Tensor, labels: torch.Tensor, predicted: torch.Tensor, count: int = 40) -> Figure:
    """Test images titled predicted/true; misclassified ones first, in red. ``images`` are uint8 (N, 28, 28)."""
    wrong = (predicted != labels).nonzero().flatten()
    right = (predicted == labels).nonzero().flatten()
    shown = torch.cat([wrong, right])[:count]
    columns = 10
    fig, axes = plt.subplots(
        (len(shown) + columns - 1) // columns,
        columns,
        figsize=(columns * 1.3, 1.5 * len(shown) / columns + 0.5),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, shown.tolist()):
        miss = bool(predicted[index] != labels[index])
        ax.imshow(images[index].cpu().numpy(), cmap="gray_r")
        ax.set_title(
            f"{int(predicted[index])} (true {int(labels[index])})",
            fontsize=8,
            color="red" if miss else "black",
            fontweight="bold" if miss else "normal",
        )
    fig.suptitle(f"{len(wrong)} of {len(labels)} misclassified (red: predicted (true))", fontsize=10)
    return fig


def confusion_matrix(matrix: torch.Tensor) -> Figure:
    """Counts per (true, predicted) digit, the diagonal greyed out so the mistakes stand out."""
    counts = matrix.cpu().numpy()
    off_diagonal = np.where(np.eye(len(counts), dtype=bool), 0, counts)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.imshow(off_diagonal, cmap="Reds")
    for (true, pred), value in np.ndenumerate(counts):
        ax.text(pred, true, str(value), ha="center", va="center", fontsize=7, color="grey" if true == pred else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(len(counts)))
    ax.set_yticks(range(len(counts)))
    ax.set_title("confusion matrix (test set)")
    return fig


class SizePoint(NamedTuple):
    """One point of the accuracy-vs-parameters figure: a design's size, its (mean) accuracy, and over its seeds the
    sample std and the worst accuracy (None: a single figure, e.g. a published one)."""

    params: int
    accuracy: float
    spread: float = 0.0
    label: str = ""
    lowest: float | None = None


def accuracy_vs_parameters(
    series: Mapping[str, Sequence[SizePoint]], x_label: str = "parameters", title: str = "How many parameters?"
) -> Figure:
    """Accuracy against parameters (or another size: ``x_label``) on a log axis, one marker style per series.

    Series named "...trials..." are drawn light (many points, validation only); "published..." as open markers; the
    rest as mean ± std bars, with each point's worst seed as a small triangle below it.
    """
    fig, ax = plt.subplots(figsize=(8, 5))
    for colour, (name, points) in enumerate(series.items()):
        if not points:
            continue
        params = [p.params for p in points]
        percent, spread = [100 * p.accuracy for p in points], [100 * p.spread for p in points]
        if "trials" in name:
            ax.scatter(params, percent, s=12, color="grey", alpha=0.35, label=name)
        elif "published" in name:
            ax.scatter(params, percent, s=50, facecolors="none", edgecolors=f"C{colour}", label=name)
        else:
            ax.errorbar(params, percent, yerr=spread, fmt="o", color=f"C{colour}", capsize=3, label=name)
            worst = [(p.params, 100 * p.lowest) for p in points if p.lowest is not None]
            if worst:
                series_name = name.split(" (")[0]  # "our finals (test, ...)" -> "our finals, worst seed"
                ax.scatter(*zip(*worst), s=18, marker="v", color=f"C{colour}", label=f"{series_name}, worst seed")
        for x, y, point in zip(params, percent, points):
            if point.label:
                ax.annotate(point.label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    # 2,000 reads better than 2x10^3; only 2, 3 and 5 between the decades, or the labels collide
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}" if f"{value:.0f}"[0] in "235" else ""))
    # the axis fits the measured points with their spread; search trials (pruned ones sit far below) may fall off it
    shown = [p for name, points in series.items() if "trials" not in name for p in points]
    if shown:
        bottom = min(min(p.accuracy - p.spread, p.accuracy if p.lowest is None else p.lowest) for p in shown)
        ax.set_ylim(100 * bottom - 0.1, min(100 * max(p.accuracy + p.spread for p in shown) + 0.15, 100))
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel("accuracy %")
    ax.set_title(f"{title} Accuracy against size")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def heatmap(rows: Sequence[str], columns: Sequence[str], percent: np.ndarray, title: str) -> Figure:
    """A rows x columns grid of percentages, each cell written in it (darker = lower)."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(columns), 1.2 + 0.42 * len(rows)))
    ax.imshow(percent, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for (i, j), value in np.ndenumerate(percent):
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7, color="white" if value < 60 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
