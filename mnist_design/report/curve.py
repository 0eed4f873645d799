"""The accuracy-against-parameters curve README's answer reads: its points, which of them are resolved steps, and
its knee.

    front = resolved_front(points)   # by parameters, a design joins only where its paired gain is resolved
    knee(front)                      # Kneedle's knee on log parameters, or None
    verdict(front, "15 epochs")      # the answer in one line, ahead of its evidence
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mnist_design.report.stats import Difference, paired
from mnist_design.runs import records as runs


@dataclass(frozen=True)
class Point:
    """One design on the curve: its name, parameters, mean final-epoch test accuracy over its seeds, and its runs
    (what its paired differences are measured on)."""

    name: str
    params: int
    mean: float
    runs: tuple[runs.Run, ...] = field(default=(), compare=False)

    def shown(self) -> str:
        return f"`{self.name}` ({self.params:,} parameters, {100 * self.mean:.2f} %)"


def gain(smaller: Point, larger: Point) -> Difference:
    """The larger design's paired test gain over the smaller one."""
    return paired(larger.runs, smaller.runs)


def resolved_front(points: list[Point]) -> list[Point]:
    """The designs no smaller one matches: by parameters, a design joins only where its paired test gain over the
    last design kept is resolved (its 95 % interval above zero); a tie keeps the smaller design."""
    kept: list[Point] = []
    for point in sorted(points, key=lambda p: (p.params, -p.mean)):
        if not kept or gain(kept[-1], point).verdict() == "better":
            kept.append(point)
    return kept


def knee(front: list[Point]) -> Point | None:
    """Kneedle's knee (Satopaa et al., 2011) on log parameters: the inner point furthest above the chord from the
    smallest to the largest design, both axes scaled to [0, 1]; None while no inner point lies above it. Hand-written:
    a few lines on a handful of points, where the kneed package would be one more dependency."""
    if len(front) < 3 or front[-1].mean <= front[0].mean:
        return None
    xs, ys = [math.log(p.params) for p in front], [p.mean for p in front]
    above = [(y - ys[0]) / (ys[-1] - ys[0]) - (x - xs[0]) / (xs[-1] - xs[0]) for x, y in zip(xs, ys)]
    best = max(range(1, len(front) - 1), key=above.__getitem__)
    return front[best] if above[best] > 0 else None


def per_doubling(smaller: Point, larger: Point) -> str:
    """The paired gain from one front point to the next, per doubling of parameters."""
    step = gain(smaller, larger).scaled(1 / math.log2(larger.params / smaller.params))
    return f"{smaller.params:,} → {larger.params:,}: {step.shown('pp per doubling')}"


def verdict(front: list[Point], length: str) -> str:
    """The answer in one line, ahead of its evidence: the knee, or where the answer lies while there is none."""
    first, last, bend = front[0], front[-1], knee(front)
    if len(front) == 2:
        return (
            f"**At {length}, at or above {last.params:,} parameters**: two points make no bend, so the answer "
            f"stays there until a larger design on the front gains less."
        )
    if bend is None:
        return (
            f"**At {length}, at or above {last.params:,} parameters**: the curve does not bend yet (no design "
            f"between {first.params:,} and {last.params:,} parameters lies above the straight line joining them, "
            f"in log parameters)."
        )
    return (
        f"**At {length}, about {bend.params:,} parameters**: past the knee, {bend.shown()}, more parameters buy little."
    )


def verdict_and_evidence(sentences: list[str]) -> str:
    """The first sentence as its own paragraph, the rest as a list under it: the answer reads before its proof."""
    verdict_line, *evidence = sentences
    return "\n".join([verdict_line, "", *(f"- {sentence}" for sentence in evidence)]) if evidence else verdict_line
