"""Statistics over groups of runs: mean ± sample std (min), paired differences with 95 % intervals on shared seeds,
mean curves."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import ttest_rel

from mnist_design.runs.figures import SizePoint
from mnist_design.runs.metrics import TEST_ACC, TRAIN_ACC
from mnist_design.runs.records import Run

CONFIDENCE = 0.95  # every interval the report states
BOOTSTRAP = 4000  # resamples of the paired bootstrap over images (a fixed generator: the same records, the same text)


def stats(group: Sequence[Run], key: str) -> tuple[float, float, float]:
    """(mean, sample std, min) over runs; std is 0 for a single run."""
    values = [float(r.metrics[key]) for r in group]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), min(values)


def size_point(label: str, group: Sequence[Run]) -> SizePoint:
    """A design's point on the accuracy-vs-parameters figure: test accuracy over its seeds, mean ± std and worst."""
    mean, std, low = stats(group, TEST_ACC)
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
    return statistics.fmean(r.metrics[TRAIN_ACC] - r.metrics[TEST_ACC] for r in group)


@dataclass(frozen=True)
class Difference:
    """A paired difference of one metric over the seeds two groups share (same seed = same data order and
    augmentation draws): its mean and 95 % Student-t interval (scipy.stats.ttest_rel). A difference is claimed only
    when the interval excludes zero; otherwise the two are tied."""

    mean: float
    low: float
    high: float
    seeds: int

    @property
    def resolved(self) -> bool:
        return self.seeds > 1 and (self.low > 0 or self.high < 0)

    def verdict(self, better: str = "better", worse: str = "worse") -> str:
        if not self.resolved:
            return "tied"
        return better if self.mean > 0 else worse

    def scaled(self, factor: float) -> Difference:
        """The same difference in other units (per doubling of parameters, say)."""
        return Difference(self.mean * factor, self.low * factor, self.high * factor, self.seeds)

    def shown(self, unit: str = "pp") -> str:
        """'+0.13 ± 0.06 pp (5 seeds, better)'; a single shared seed has no interval and is tied."""
        if self.seeds == 0:
            return "– (no shared seeds)"
        if self.seeds == 1:
            return f"{signed(100 * self.mean)} {unit} (1 seed: no interval, tied)"
        half = 100 * (self.high - self.low) / 2
        return f"{signed(100 * self.mean)} ± {half:.2f} {unit} ({self.seeds} seeds, {self.verdict()})"


def signed(value: float) -> str:
    """'+0.13' / '-0.13' to two decimals; a value that rounds to zero reads '+0.00', never '-0.00'."""
    return f"{round(value, 2) + 0.0:+.2f}"  # + 0.0 turns the -0.0 that round() may leave into 0.0


def paired(group: Sequence[Run], baseline: Sequence[Run], key: str = TEST_ACC) -> Difference:
    """group − baseline over the seeds both have, with its 95 % interval."""
    return paired_by_seed(
        {r.seed: float(r.metrics[key]) for r in group}, {r.seed: float(r.metrics[key]) for r in baseline}
    )


def paired_by_seed(ours: dict[int, float], baseline: dict[int, float]) -> Difference:
    """ours − baseline over the seeds both have (seed -> value), with its 95 % interval."""
    pairs = [(value, baseline[seed]) for seed, value in ours.items() if seed in baseline]
    if not pairs:
        return Difference(math.nan, math.nan, math.nan, 0)
    ours, theirs = (list(side) for side in zip(*pairs))
    mean = statistics.fmean(a - b for a, b in pairs)
    if len(pairs) == 1 or statistics.pstdev(a - b for a, b in pairs) == 0:  # no spread: the interval is the mean
        return Difference(mean, mean, mean, len(pairs)) if len(pairs) > 1 else Difference(mean, -math.inf, math.inf, 1)
    interval = ttest_rel(ours, theirs).confidence_interval(CONFIDENCE)
    return Difference(mean, float(interval.low), float(interval.high), len(pairs))


def mean_history(group: Sequence[Run]) -> list[dict[str, float]]:
    """Per-epoch mean over the runs that reached that epoch."""
    merged = []
    for epoch in sorted({h["epoch"] for r in group for h in r.history}):
        records = [h for r in group for h in r.history if h["epoch"] == epoch]
        merged.append({key: statistics.fmean(h[key] for h in records) for key in records[0]})
    return merged


def bootstrap(ours: np.ndarray, theirs: np.ndarray) -> Difference:
    """ours − theirs in accuracy over the same images, with a 95 % paired-bootstrap interval (fixed seed): the four
    kinds of image (both right, only ours, only theirs, neither) resampled as a multinomial."""
    n = len(ours)
    only_ours, only_theirs = int((ours & ~theirs).sum()), int((~ours & theirs).sum())
    cells = np.array([only_ours, only_theirs, n - only_ours - only_theirs]) / n
    draws = np.random.default_rng(0).multinomial(n, cells, size=BOOTSTRAP)
    differences = (draws[:, 0] - draws[:, 1]) / n
    tail = (1 - CONFIDENCE) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return Difference((only_ours - only_theirs) / n, float(low), float(high), n)


def shown_over_images(difference: Difference) -> str:
    half = 100 * (difference.high - difference.low) / 2
    verdict = "better" if difference.low > 0 else "worse" if difference.high < 0 else "tied"
    return f"{signed(100 * difference.mean)} ± {half:.2f} pp ({difference.seeds:,} images of seed 0, {verdict})"
