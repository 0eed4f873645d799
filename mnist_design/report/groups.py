"""Group the collected runs by the tags they wrote at run time; nothing is recognised by file or folder names.

rows = tutorial_rows(found, research.tutorial_rows)   # {"row1": [runs...], ..., "row4": [...]}, every row present
by_tag(found, "recipe")                       # {"ema": [...], "tta": [...]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from mnist_design.runs.metrics import TEST_ACC
from mnist_design.runs.records import Run


def tested(group: Sequence[Run]) -> list[Run]:
    """Runs with test metrics, in seed order."""
    return sorted((r for r in group if TEST_ACC in r.metrics), key=lambda r: (r.seed, str(r.path)))


def by_tag(found: Sequence[Run], key: str, keep: Callable[[Run], bool] = lambda r: True) -> dict[str, list[Run]]:
    """Tested runs grouped by the value of one tag, in sorted order of the values."""
    groups: dict[str, list[Run]] = {}
    for run in tested(found):
        if run.tag(key) and keep(run):
            groups.setdefault(run.tag(key), []).append(run)
    return dict(sorted(groups.items()))


def tutorial_rows(found: Sequence[Run], rows: Iterable[str]) -> dict[str, list[Run]]:
    """The tutorial's rows with their own recipe (no recipe= on top), in its order, every row even without runs."""
    grouped = by_tag(found, "row", keep=lambda r: not r.tag("recipe"))
    return {row: grouped.get(row, []) for row in rows}


def title(group: Sequence[Run], name: str) -> str:
    """A group's name with the title its runs' experiment gave it."""
    return f"{name} {group[0].tag('title')}".strip() if group else name


def seeds(group: Sequence[Run]) -> str:
    return ",".join(str(r.seed) for r in group)


def epochs(group: Sequence[Run]) -> str:
    return "/".join(sorted({str(r.metrics["epochs"]) for r in group}))
