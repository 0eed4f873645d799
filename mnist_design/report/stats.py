"""Statistics over groups of runs: mean ± sample std (min), paired deltas on shared seeds, mean curves."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from mnist_design.figures import SizePoint
from mnist_design.runs import Run


def stats(group: Sequence[Run], key: str) -> tuple[float, float, float]:
    """(mean, sample std, min) over runs; std is 0 for a single run."""
    values = [float(r.metrics[key]) for r in group]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), min(values)


def size_point(label: str, group: Sequence[Run]) -> SizePoint:
    """A design's point on the accuracy-vs-parameters figure: test accuracy over its seeds, mean ± std and worst."""
    mean, std, low = stats(group, "test_acc")
    return SizePoint(group[0].metrics["params"], mean, std, label, low if len(group) > 1 else None)


def cell(group: Sequence[Run], key: str) -> str:
    """'99.45 ± 0.07 (min 99.40)' for an accuracy (in %), the same in plain numbers for anything else; one run has no
    spread, so it shows as '99.45 (one run)'."""
    mean, std, low = stats(group, key)
    if len(group) == 1:
        return f"{100 * mean:.2f} (one run)" if key.endswith("acc") else f"{mean:.4f} (one run)"
    if key.endswith("acc"):
        return f"{100 * mean:.2f} ± {100 * std:.2f} (min {100 * low:.2f})"
    return f"{mean:.4f} ± {std:.4f} (min {low:.4f})"


def train_test_gap(group: Sequence[Run]) -> float:
    return statistics.fmean(r.metrics["train_acc"] - r.metrics["test_acc"] for r in group)


def paired_delta(group: Sequence[Run], baseline: Sequence[Run], key: str) -> tuple[float, float, int]:
    """Mean and sample std of the difference to the baseline over the seeds both have (same seed = same data
    order and augmentation draws), and how many seeds that is."""
    base = {r.seed: float(r.metrics[key]) for r in baseline}
    pairs = [float(r.metrics[key]) - base[r.seed] for r in group if r.seed in base]
    if not pairs:
        return float("nan"), float("nan"), 0
    return statistics.fmean(pairs), (statistics.stdev(pairs) if len(pairs) > 1 else 0.0), len(pairs)


def mean_history(group: Sequence[Run]) -> list[dict[str, float]]:
    """Per-epoch mean over the runs that reached that epoch."""
    merged = []
    for epoch in sorted({h["epoch"] for r in group for h in r.history}):
        records = [h for r in group for h in r.history if h["epoch"] == epoch]
        merged.append({key: statistics.fmean(h[key] for h in records) for key in records[0]})
    return merged
