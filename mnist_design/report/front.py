"""README's evidence, from the run records committed in results/: the tutorial's rows, the front and the answer.

    front = Front.load(Path("results"))  # research.yaml, the tutorial's rows and the finals, read once
    front.blocks()                       # {"rows", "front", "baselines", "answer", "gpu"}: README's blocks
    python -m mnist_design.report front=true   # prints them, draws results/*.png, rewrites README's blocks (and
                                               # results/README's study tables, mnist_design/report/study_tables.py)

Each design is the runs tagged ``design: <name>`` under results/runs/ (finals: 15 epochs, the seeds
results/research.yaml names, final-epoch test; seeds added to a tied pair enter its paired differences only), and the
tutorial's own design is its final row's runs; a design's budget is the smallest in results/research.yaml that it is
under, and its baselines there are the tutorial's design, the published ones and, once a later finalist of the budget
has finals, the earlier finalists the search spaces cross (mnist_design/search/baselines.py). Every difference is
paired by seed with a 95 % interval (report/stats.py), and "tied" where that interval holds zero. A published design
shows its own published figure beside ours (results/research.yaml says how that figure was measured). The tutorial's
rows are the runs tagged ``row: <rowN>`` there, shown beside the tutorial's own single runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from pathlib import Path

from mnist_design.report import gpu, speed
from mnist_design.report.costs import Costs
from mnist_design.report.curve import Point, gain, knee, per_doubling, resolved_front, verdict, verdict_and_evidence
from mnist_design.report.finals import RUNS_DIR, by_seed_role, seeds_cell, tested_runs
from mnist_design.report.groups import by_tag, epochs, tutorial_rows
from mnist_design.report.research import Research
from mnist_design.report.sections import draw_learning_curves, prediction_grid
from mnist_design.report.stats import cell, paired, size_point, stats
from mnist_design.report.tables import comparison_table, markdown
from mnist_design.runs import figures
from mnist_design.runs import layout as rundir
from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir
from mnist_design.runs.metrics import TEST_ACC, VAL_ACC
from mnist_design.search import baselines

HEADER = [
    "budget",
    "design",
    "kind",
    "params",
    "seeds",
    "test acc % (mean ± std, min)",
    "vs the design above (paired test Δ, 95 % CI)",
    "vs the budget's best baseline",
    "published",
    "target",
    "met",
]
SEED_DESIGN = "the tutorial's design"  # the kind of the tutorial's final row, a baseline at its budget
PUBLISHED = "published"
SEARCHED = "searched"
EARLIER = "earlier finalist"  # a searched design a later study of its budget crosses, once that one has finals


@dataclass(frozen=True)
class Front:
    """results/ read once: what it compares against, the tutorial's rows, and its finals by design (the tutorial's own
    design among them, from its final row's runs)."""

    results: Path
    research: Research
    designs: dict[str, list[runs.Run]]  # the runs of the finals' seeds, by design
    tutorial_rows: dict[str, list[runs.Run]]  # every row of the tutorial's table, with no runs where none is committed
    skipped: tuple[str, ...] = ()  # one line per run record that could not be used, naming its file
    crossed: frozenset[str] = frozenset()  # earlier finalists that later searches cross as baselines
    added: dict[str, list[runs.Run]] = field(default_factory=dict)  # seeds added to a tied pair: paired Δ only

    @classmethod
    def load(cls, results: Path, research: Research | None = None) -> Front:
        research = research or Research.load(results)
        found, skipped = tested_runs(results)
        rows = tutorial_rows(found, research.tutorial_rows)
        grouped = by_tag(found, "design")
        if rows.get(research.baseline):
            grouped = {**grouped, research.baseline: rows[research.baseline]}
        designs, added, left_out = by_seed_role(grouped, research)
        crossed = frozenset(baselines.crossed_finalists())
        return cls(results, research, designs, rows, (*skipped, *left_out), crossed, added)

    def paired_runs(self, design: str) -> list[runs.Run]:
        """What a design's paired differences are measured on: its finals and any seeds added to it."""
        return self.designs[design] + self.added.get(design, [])

    def params(self, design: str) -> int:
        return int(self.designs[design][0].metrics["params"])

    def budget(self, design: str) -> int | None:
        return self.research.budget_of(self.params(design))

    def kind(self, design: str) -> str:
        if design == self.research.baseline:
            return SEED_DESIGN
        if design in self.research.published:
            return PUBLISHED
        return EARLIER if design in self.crossed and self.newer_finalists(design) else SEARCHED

    def newer_finalists(self, design: str) -> list[str]:
        """The searched designs of the budget that no search crosses as a baseline: the later finalists."""
        own = {self.research.baseline, *self.research.published, *self.crossed}
        return [d for d in self.designs if d not in own and self.budget(d) == self.budget(design)]

    def best_baseline(self, budget: int | None) -> str | None:
        """The budget's baseline (the tutorial's design, a published one, an earlier finalist) with the best mean
        validation accuracy among those with every seed: chosen on validation, so the test set only reports."""
        baselines = [d for d in self.complete() if self.kind(d) != SEARCHED and self.budget(d) == budget]
        return max(baselines, key=lambda d: stats(self.designs[d], VAL_ACC)[0], default=None)

    def complete(self) -> list[str]:
        """The designs with as many seeds as the most any has: one still training its finals is shown, with its
        seeds, but does not stand for its budget on a mean of fewer runs."""
        return [d for d in self.order() if len(self.designs[d]) >= self.most_seeds()]

    def most_seeds(self) -> int:
        return max((len(group) for group in self.designs.values()), default=0)

    def order(self) -> list[str]:
        """The designs by parameters."""
        return sorted(self.designs, key=lambda d: (self.params(d), d))

    def rows(self) -> list[list[str]]:
        """One row per design with tested runs, by parameters."""
        names, most = self.order(), self.most_seeds()  # seeds_cell says where a design has fewer
        return [self.row(d, names[i - 1] if i else None, most) for i, d in enumerate(names)]

    def row(self, design: str, above: str | None, most: int) -> list[str]:
        group, params, budget = self.designs[design], self.params(design), self.budget(design)
        theirs = self.research.published.get(design)
        best = self.best_baseline(budget)
        versus = "– (the best baseline)" if best == design else "–"
        if best and best != design:
            versus = f"`{best}`: {paired(self.paired_runs(design), self.paired_runs(best)).shown()}"
        return [
            f"< {budget:,}" if budget else "–",
            design,
            self.kind(design),
            f"{params:,}",
            seeds_cell(group, most, self.added.get(design, [])),
            cell(group, TEST_ACC),
            f"`{above}`: {paired(self.paired_runs(design), self.paired_runs(above)).shown()}" if above else "–",
            versus,
            f"{100 * theirs['test_acc']:.2f} ({theirs['params']:,} params)" if theirs else "–",
            self.research.goal(budget) if budget else "–",
            self.research.verdict(params, [float(r.metrics[TEST_ACC]) for r in group]),
        ]

    def table(self) -> str:
        """The markdown table README shows between its front markers."""
        if not self.designs:
            name = self.results.name
            return f"_No final runs under `{name}/{RUNS_DIR}/` yet: see `{name}/README.md` for what is left._"
        return markdown(HEADER, self.rows(), right=(3,))

    def rows_table(self) -> str:
        """The tutorial's table with the committed runs of each row beside the tutorial's own single runs."""
        if not any(self.tutorial_rows.values()):
            return f"_No runs of the tutorial's rows under `{self.results.name}/{RUNS_DIR}/` yet._"
        return comparison_table(self.tutorial_rows, self.research)

    def baseline_table(self) -> str:
        """Each searched design against every baseline of its budget, paired on their shared seeds."""
        lines = [
            [f"< {self.budget(d):,}", d, b, self.kind(b), paired(self.paired_runs(d), self.paired_runs(b)).shown()]
            for d in self.order()
            if self.kind(d) == SEARCHED and self.budget(d)
            for b in self.order()
            if self.kind(b) != SEARCHED and self.budget(b) == self.budget(d)
        ]
        if not lines:
            return "_No searched design shares a budget with a baseline that has finals yet._"
        header = ["budget", "searched design", "baseline", "kind", "searched − baseline (paired test Δ, 95 % CI)"]
        return markdown(header, lines)

    def point(self, design: str) -> Point:
        mean = stats(self.designs[design], TEST_ACC)[0]
        return Point(design, self.params(design), mean, tuple(self.paired_runs(design)))

    def candidates(self) -> list[Point]:
        """Per budget, the design (ours, a baseline) with the best mean validation accuracy: one point per budget,
        chosen on validation, so two designs of nearly one size are not a step of their own."""
        best: dict[int | None, str] = {}
        for design in self.complete():
            budget = self.budget(design)
            val = stats(self.designs[design], VAL_ACC)[0]
            if budget not in best or val > stats(self.designs[best[budget]], VAL_ACC)[0]:
                best[budget] = design
        return [self.point(design) for design in best.values()]

    def curve(self) -> list[Point]:
        """The resolved front of the budgets' candidates."""
        return resolved_front(self.candidates())

    def answer(self) -> list[str]:
        """README's answer to the tutorial's question: its verdict, then the evidence a sentence each, from resolved
        differences only."""
        candidates = self.candidates()
        curve = resolved_front(candidates)
        if len(curve) < 2:
            return [f"_Fewer than two designs have finals under `{self.results.name}/{RUNS_DIR}/`: no curve yet._"]
        first, last, bend = curve[0], curve[-1], knee(curve)
        length = f"{epochs([run for point in curve for run in point.runs])} epochs"  # what the finals trained
        evidence = [
            "How the front is drawn: per budget, the design with the best mean validation accuracy stands for it; by "
            "parameters, one joins the front only where its paired test gain over the last one kept has a 95 % "
            "interval above zero.",
            f"The front: {', '.join(p.shown() for p in curve)}.",
            f"Test accuracy per doubling of parameters: {'; '.join(per_doubling(a, b) for a, b in pairwise(curve))}.",
        ]
        if bend is not None:  # knee() has none below three points
            evidence.append(
                f"The knee is {bend.shown()}: from {first.params:,} parameters to it, test accuracy gains "
                f"{gain(first, bend).shown()}; from it to {last.shown()}, {gain(bend, last).shown()} for "
                f"{last.params / bend.params:.1f}× the parameters."
            )
        left_out = [
            f"{p.shown()}, {gain(kept, p).shown()} against {kept.shown()}"
            for p in candidates
            if p not in curve
            for kept in [max((k for k in curve if k.params < p.params), key=lambda k: k.params)]
        ]
        if left_out:
            evidence.append(f"Not on the front, not resolved above a smaller design: {'; '.join(left_out)}.")
        if self.added:
            evidence.append(self.added_seeds())
        return [verdict(curve, length), *evidence]

    def added_seeds(self) -> str:
        """The sentence saying which designs have seeds beyond the finals', and what those seeds count for."""
        names = " and ".join(f"`{design}`" for design in self.order() if design in self.added)
        added = ", ".join(str(seed) for seed in sorted({r.seed for group in self.added.values() for r in group}))
        finals = ", ".join(str(seed) for seed in self.research.final_seeds)
        return (
            f"Seeds {added} were added to {names}, a pair the knee hung on while tied (at most "
            f"{self.research.seed_cap} seeds a design): they enter paired differences only, so means, spreads and "
            f"targets stay over seeds {finals}."
        )

    @cached_property
    def costs(self) -> Costs:
        """The deploy records of the designs, read once for the blocks and the figures."""
        return Costs.load(self)

    def blocks(self) -> dict[str, str]:
        """Each README block's text, by block name: the accuracy front's, then the costs and shift tables'."""
        costs = self.costs
        bend = knee(self.curve())
        return {
            "rows": self.rows_table(),
            "front": self.table(),
            "baselines": self.baseline_table(),
            "answer": verdict_and_evidence(
                [*self.answer(), *costs.knee_costs(bend.name if bend else None), *costs.reorderings()]
            ),
            "gpu": gpu.block(self.results, self.tutorial_rows.get(self.research.baseline, [])),
            "cpu_bench": speed.cpu_block(self.results),
            **costs.blocks(),
        }

    def draw(self) -> list[Path]:
        """results/front.png (our finals, mean ± std and worst over seeds, beside the published designs' own figures),
        results/learning_curves.png (the tutorial's rows, mean over seeds) and results/predictions.png (the baseline
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
        drawn.append(draw_learning_curves(self.tutorial_rows, self.results))
        baseline = self.tutorial_rows.get(self.research.baseline)
        drawn.append(prediction_grid(baseline[0], out.figure(rundir.PREDICTIONS)) if baseline else None)
        drawn += self.costs.draw()
        return [path for path in drawn if path]


def render(results: Path) -> dict[str, str]:
    """README's blocks for a results folder, by block name."""
    return Front.load(results).blocks()
