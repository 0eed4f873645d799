"""README's evidence, from the run records committed in results/: the seed's rows and the answer's front.

    front = Front.load(Path("results"))  # research.yaml, the seed's rows and the finals, read once
    front.blocks()                       # {"rows": ..., "front": ...}: the tables README shows between its markers
    python -m mnist_design.report front=true   # prints them, draws results/*.png, rewrites README's blocks

Each design is the runs tagged ``design: <name>`` under results/runs/ (finals: 15 epochs, seeds 0-4, final-epoch
test); its budget is the smallest in results/research.yaml that it is under. A published design shows its own
published figure beside ours (results/research.yaml says how that figure was measured). The seed's rows are the
runs tagged ``row: <rowN>`` there, shown beside the seed's own single runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_design import figures, rundir, runs
from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError
from mnist_design.report.groups import seed_rows
from mnist_design.report.research import Research
from mnist_design.report.sections import prediction_grid
from mnist_design.report.stats import cell, mean_history, stats
from mnist_design.report.tables import comparison_table, markdown
from mnist_design.rundir import RunDir

RUNS_DIR = "runs"  # finished run records (metrics, history, config) below results/
HEADER = ["budget", "design", "params", "seeds", "test acc % (mean ± std, min)", "published", "target", "met"]


class FrontUnwritable(UserError):
    """README has no front block to rewrite, or cannot be read or written."""


def markers(block: str) -> tuple[str, str]:
    """The pair of HTML comments README keeps a generated block between."""
    return f"<!-- {block}:begin -->", f"<!-- {block}:end -->"


def tested_runs(results: Path) -> list[runs.Run]:
    """The runs under results/runs/ with a test accuracy."""
    found, _ = runs.collect([results / RUNS_DIR]) if (results / RUNS_DIR).is_dir() else ([], [])
    return [run for run in found if isinstance(run.metrics.get("test_acc"), float)]


def finals(found: list[runs.Run]) -> dict[str, list[runs.Run]]:
    """Runs by their design tag, each group in seed order."""
    groups: dict[str, list[runs.Run]] = {}
    for run in found:
        if run.tag("design"):
            groups.setdefault(run.tag("design"), []).append(run)
    return {design: sorted(group, key=lambda r: r.seed) for design, group in groups.items()}


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
        return cls(results, research, finals(found), seed_rows(found, research.seed_rows))

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

    def blocks(self) -> dict[str, str]:
        """Each README block's text, by block name."""
        return {"rows": self.rows_table(), "front": self.table()}

    def draw(self) -> list[Path]:
        """results/front.png (our finals, mean ± std over seeds, beside the published designs' own figures),
        results/learning_curves.png (the seed's rows, mean over seeds) and results/predictions.png (the baseline
        row's first run on the test set), each where its runs exist."""
        out, drawn = RunDir(self.results), []
        if self.designs:
            ours = [(g[0].metrics["params"], *stats(g, "test_acc")[:2], name) for name, g in self.designs.items()]
            series = {
                "our finals (test, mean ± std over seeds)": ours,
                "published, as their sources measured": self.research.published_points(),
            }
            drawn.append(figures.save(figures.accuracy_vs_parameters(series), out.figure(rundir.FRONT)))
        curves = {row: mean_history(group) for row, group in self.seed_rows.items() if any(r.history for r in group)}
        if curves:
            drawn.append(figures.save(figures.learning_curves(curves), out.figure(rundir.LEARNING_CURVES)))
        baseline = self.seed_rows.get(self.research.baseline)
        grid = prediction_grid(baseline[0], out.figure(rundir.PREDICTIONS)) if baseline else None
        return [*drawn, grid] if grid else drawn


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


def write(front: Front, readme: Path | None) -> Path:
    """Print README's blocks, draw their figures, and rewrite README's blocks with them (readme=None: print only)."""
    blocks = front.blocks()
    print("\n\n".join(blocks.values()))
    for drawn in front.draw():
        print(f"{drawn} drawn")
    if readme is None:
        return front.results
    try:
        updated = readme.read_text()
        for block, text in blocks.items():
            updated = with_block(updated, block, text)
    except (OSError, ValueError) as error:
        raise FrontUnwritable(f"readme={readme}: cannot update its generated blocks ({error})") from None
    write_atomic(readme, updated.encode())
    return readme
