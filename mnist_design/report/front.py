"""README's evidence, from the run records committed in results/: the seed's rows, the front and the answer.

    front = Front.load(Path("results"))  # research.yaml, the seed's rows and the finals, read once
    front.blocks()                       # {"rows": ..., "front": ..., "answer": ...}: README's generated blocks
    python -m mnist_design.report front=true   # prints them, draws results/*.png, rewrites README's blocks (and
                                               # results/README's study tables, mnist_design/report/study_tables.py)

Each design is the runs tagged ``design: <name>`` under results/runs/ (finals: 15 epochs, seeds 0-4, final-epoch
test); its budget is the smallest in results/research.yaml that it is under. A published design shows its own
published figure beside ours (results/research.yaml says how that figure was measured). The seed's rows are the
runs tagged ``row: <rowN>`` there, shown beside the seed's own single runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from mnist_design import figures, rundir, runs
from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError
from mnist_design.report import study_tables
from mnist_design.report.groups import by_tag, seed_rows
from mnist_design.report.research import Research
from mnist_design.report.sections import draw_learning_curves, prediction_grid
from mnist_design.report.stats import cell, size_point, stats
from mnist_design.report.tables import comparison_table, markdown
from mnist_design.rundir import RunDir

RUNS_DIR = "runs"  # finished run records (metrics, history, config) below results/
HEADER = ["budget", "design", "params", "seeds", "test acc % (mean ± std, min)", "published", "target", "met"]


class FrontUnwritable(UserError):
    """A README lacks a block to rewrite, or cannot be read or written."""


def markers(block: str) -> tuple[str, str]:
    """The pair of HTML comments README keeps a generated block between."""
    return f"<!-- {block}:begin -->", f"<!-- {block}:end -->"


def tested_runs(results: Path) -> list[runs.Run]:
    """The runs under results/runs/ with a test accuracy."""
    found, _ = runs.collect([results / RUNS_DIR]) if (results / RUNS_DIR).is_dir() else ([], [])
    return [run for run in found if isinstance(run.metrics.get("test_acc"), float)]


@dataclass(frozen=True)
class Point:
    """One design on the curve: its name, parameters and mean final-epoch test accuracy over its seeds."""

    name: str
    params: int
    mean: float

    def shown(self) -> str:
        return f"`{self.name}` ({self.params:,} parameters, {100 * self.mean:.2f} %)"


def upper_front(points: list[Point]) -> list[Point]:
    """The designs no smaller one beats: by parameters, each more accurate than every smaller design."""
    kept: list[Point] = []
    for point in sorted(points, key=lambda p: (p.params, -p.mean)):
        if not kept or point.mean > kept[-1].mean:
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


@dataclass(frozen=True)
class Front:
    """results/ read once: what it compares against, the seed's rows, and its finals by design."""

    results: Path
    research: Research
    designs: dict[str, list[runs.Run]]
    seed_rows: dict[str, list[runs.Run]]  # every row of the seed's table, with no runs where none is committed

    @classmethod
    def load(cls, results: Path, research: Research | None = None) -> Front:
        research = research or Research.load(results)
        found = tested_runs(results)
        return cls(results, research, by_tag(found, "design"), seed_rows(found, research.seed_rows))

    def rows(self) -> list[list[str]]:
        """One row per design with tested runs, by parameters."""
        return sorted(
            (self.row(d, g) for d, g in self.designs.items()), key=lambda row: (int(row[2].replace(",", "")), row[1])
        )

    def row(self, design: str, group: list[runs.Run]) -> list[str]:
        params = int(group[0].metrics["params"])
        budget = self.research.budget_of(params)
        theirs = self.research.published.get(design)
        return [
            f"< {budget:,}" if budget else "–",
            design,
            f"{params:,}",
            ",".join(str(r.seed) for r in group),
            cell(group, "test_acc"),
            f"{100 * theirs['test_acc']:.2f} ({theirs['params']:,} params)" if theirs else "–",
            self.research.goal(budget) if budget else "–",
            self.research.verdict(params, [float(r.metrics["test_acc"]) for r in group]),
        ]

    def table(self) -> str:
        """The markdown table README shows between its front markers."""
        if not self.designs:
            name = self.results.name
            return f"_No final runs under `{name}/{RUNS_DIR}/` yet: see `{name}/README.md` for what is left._"
        return markdown(HEADER, self.rows(), right=(2,))

    def rows_table(self) -> str:
        """The seed's table with the committed runs of each row beside the seed's own single runs."""
        if not any(self.seed_rows.values()):
            return f"_No runs of the seed's rows under `{self.results.name}/{RUNS_DIR}/` yet._"
        return comparison_table(self.seed_rows, self.research)

    def curve(self) -> list[Point]:
        """Per budget, its most accurate design with finals (ours or a published one retrained), then the upper
        front of those: one point per budget, so two designs of nearly one size are not a step of their own."""
        best: dict[int | None, Point] = {}
        for name, group in self.designs.items():
            point = Point(name, int(group[0].metrics["params"]), stats(group, "test_acc")[0])
            budget = self.research.budget_of(point.params)
            if budget not in best or point.mean > best[budget].mean:
                best[budget] = point
        return upper_front(list(best.values()))

    def answer(self) -> str:
        """README's answer to the seed's question, in one paragraph, from the front's numbers only."""
        curve = self.curve()
        if len(curve) < 2:
            return f"_Fewer than two designs have finals under `{self.results.name}/{RUNS_DIR}/`: no curve yet._"
        steps = "; ".join(
            f"{a.params:,} → {b.params:,}: {100 * (b.mean - a.mean) / math.log2(b.params / a.params):+.2f} pp"
            for a, b in pairwise(curve)
        )
        first, last, bend = curve[0], curve[-1], knee(curve)
        lead = (
            f"On the front of the finals above (per budget its most accurate design, each more accurate than every "
            f"smaller one: "
            f"{', '.join(p.shown() for p in curve)}), mean test accuracy gains per doubling of parameters: {steps}."
        )
        if len(curve) == 2:
            return (
                f"{lead} Two points make no bend: at 15 epochs the answer lies at or above {last.params:,} "
                f"parameters until a larger design on the front gains less."
            )
        if bend is None:
            return (
                f"{lead} The curve does not bend yet: no design between {first.params:,} and {last.params:,} "
                f"parameters lies above the straight line joining them (in log parameters), so at 15 epochs the "
                f"answer lies at or above {last.params:,} parameters."
            )
        return (
            f"{lead} The knee is {bend.shown()}: from {first.params:,} parameters to it, accuracy gains "
            f"{100 * (bend.mean - first.mean):.2f} pp; from it to {last.shown()}, "
            f"{100 * (last.mean - bend.mean):.2f} pp for {last.params / bend.params:.1f}× the parameters. So, at 15 "
            f"epochs, about {bend.params:,} parameters: beyond that each parameter buys little."
        )

    def blocks(self) -> dict[str, str]:
        """Each README block's text, by block name."""
        return {"rows": self.rows_table(), "front": self.table(), "answer": self.answer()}

    def draw(self) -> list[Path]:
        """results/front.png (our finals, mean ± std and worst over seeds, beside the published designs' own figures),
        results/learning_curves.png (the seed's rows, mean over seeds) and results/predictions.png (the baseline
        row's first run on the test set), each where its runs exist."""
        out = RunDir(self.results)
        drawn: list[Path | None] = []  # None: a figure with no runs to draw it from
        if self.designs:
            ours = [size_point(name, group) for name, group in self.designs.items()]
            series = {
                "our finals (test, mean ± std over seeds)": ours,
                "published, as their sources measured": self.research.published_points(),
            }
            drawn.append(figures.save(figures.accuracy_vs_parameters(series), out.figure(rundir.FRONT)))
        drawn.append(draw_learning_curves(self.seed_rows, self.results))
        baseline = self.seed_rows.get(self.research.baseline)
        drawn.append(prediction_grid(baseline[0], out.figure(rundir.PREDICTIONS)) if baseline else None)
        return [path for path in drawn if path]


def render(results: Path) -> dict[str, str]:
    """README's blocks for a results folder, by block name."""
    return Front.load(results).blocks()


def readme_block(readme: str, block: str) -> str:
    """What README holds between a block's markers."""
    begin, end = markers(block)
    return readme.split(begin, 1)[1].split(end, 1)[0].strip()


def with_block(readme: str, block: str, text: str) -> str:
    """The readme with one block's text replaced; a ValueError when it has no pair of that block's markers."""
    begin, end = markers(block)
    if begin not in readme or end not in readme.split(begin, 1)[1]:
        raise ValueError(f"no {begin} ... {end} in it")
    before, rest = readme.split(begin, 1)
    return f"{before}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}"


def rewrite(readme: Path, blocks: dict[str, str]) -> None:
    """Replace each named block of one markdown file; one line naming the file when it cannot."""
    try:
        updated = readme.read_text()
        for block, text in blocks.items():
            updated = with_block(updated, block, text)
    except (OSError, ValueError) as error:
        raise FrontUnwritable(f"readme={readme}: cannot update its generated blocks ({error})") from None
    write_atomic(readme, updated.encode())


def write(front: Front, readme: Path | None) -> Path:
    """Print README's blocks and results/README's study tables, draw the figures, and rewrite both files' blocks
    with them (readme=None: print only; a results folder without its own README.md gets none)."""
    blocks, study_blocks = front.blocks(), study_tables.blocks(front.results)
    print("\n\n".join([*blocks.values(), *study_blocks.values()]))
    for drawn in front.draw():
        print(f"{drawn} drawn")
    if readme is None:
        return front.results
    rewrite(readme, blocks)
    if study_blocks and (front.results / study_tables.README_FILE).is_file():
        rewrite(front.results / study_tables.README_FILE, study_blocks)
    return readme
