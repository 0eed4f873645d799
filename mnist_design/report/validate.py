"""The run records the report trusts: every value it reads checked once, when it is read (issue 46).

    kept, skipped = trusted(found)   # skipped: one line per record left out, naming its file and the field

A record is left out, never counted, when its test accuracy is not a finite number in [0, 1], its seed is not a whole
number, it repeats a (design or row, seed) another record already has, or its parameter count differs from the one
most of its design's records agree on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from mnist_design.runs import records as runs
from mnist_design.runs.metrics import TEST_ACC

GROUP_TAGS = ("design", "row")  # what a record stands for in the report


def accuracy_problem(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"test_acc is {value!r}, not a finite accuracy"
    return None if 0 <= value <= 1 else f"test_acc is {value!r}, outside [0, 1]"


def seed_problem(value: object) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"seed is {value!r}, not a whole number >= 0"


def group_of(run: runs.Run) -> str:
    return next((f"{tag} {run.tags[tag]}" for tag in GROUP_TAGS if tag in run.tags), "untagged")


def trusted(found: Sequence[runs.Run]) -> tuple[list[runs.Run], list[str]]:
    kept, skipped, seen = [], [], {}
    for run in sorted(found, key=lambda r: str(r.path)):
        problem = accuracy_problem(run.metrics.get(TEST_ACC)) or seed_problem(run.metrics.get("seed", 0))
        key = (group_of(run), run.metrics.get("seed", 0))
        if problem is None and key in seen:
            problem = f"a second record of {key[0]}, seed {key[1]} (the first is {seen[key]})"
        if problem:
            skipped.append(f"{run.path / 'metrics.json'}: {problem}, so it is left out")
            continue
        seen[key] = run.path / "metrics.json"
        kept.append(run)
    return same_params(kept, skipped)


def same_params(kept: list[runs.Run], skipped: list[str]) -> tuple[list[runs.Run], list[str]]:
    """Leave out the records whose params differ from what most records of their design say."""
    usual = {
        group: Counter(r.metrics.get("params") for r in kept if group_of(r) == group).most_common(1)[0][0]
        for group in {group_of(r) for r in kept}
    }
    result = []
    for run in kept:
        expected = usual[group_of(run)]
        if run.metrics.get("params") != expected:
            skipped.append(
                f"{run.path / 'metrics.json'}: params is {run.metrics.get('params')!r} where the other records of "
                f"{group_of(run)} say {expected!r}, so it is left out"
            )
        else:
            result.append(run)
    return result, skipped
