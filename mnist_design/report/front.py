"""The answer's front: test accuracy against parameters, per budget, from the run records committed in results/.

    front = Front.load(Path("results"))  # research.yaml and the finals, read once
    front.table()                        # the markdown table README shows between its front markers
    python -m mnist_design.report front=true   # prints it, draws results/front.png, rewrites README's block

Each design is the runs tagged ``design: <name>`` under results/runs/ (finals: 15 epochs, seeds 0-4, final-epoch
test); its budget is the smallest in results/research.yaml that it is under. A published design shows its own
published figure beside ours (results/research.yaml says how that figure was measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_design import figures, rundir, runs
from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError
from mnist_design.report.research import Research
from mnist_design.report.stats import cell, stats
from mnist_design.report.tables import markdown
from mnist_design.rundir import RunDir

RUNS_DIR = "runs"  # finished run records (metrics, history, config) below results/
BEGIN, END = "<!-- front:begin -->", "<!-- front:end -->"  # README's generated block
HEADER = ["budget", "design", "params", "seeds", "test acc % (mean ± std, min)", "published", "target", "met"]


class FrontUnwritable(UserError):
    """README has no front block to rewrite, or cannot be read or written."""


def finals(results: Path) -> dict[str, list[runs.Run]]:
    """Tested runs under results/runs/ by their design tag, each group in seed order."""
    found, _ = runs.collect([results / RUNS_DIR]) if (results / RUNS_DIR).is_dir() else ([], [])
    groups: dict[str, list[runs.Run]] = {}
    for run in found:
        if run.tag("design") and isinstance(run.metrics.get("test_acc"), float):
            groups.setdefault(run.tag("design"), []).append(run)
    return {design: sorted(group, key=lambda r: r.seed) for design, group in groups.items()}


@dataclass(frozen=True)
class Front:
    """results/ read once: what it compares against and its finals by design."""

    results: Path
    research: Research
    designs: dict[str, list[runs.Run]]

    @classmethod
    def load(cls, results: Path, research: Research | None = None) -> Front:
        return cls(results, research or Research.load(results), finals(results))

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

    def draw(self) -> Path | None:
        """results/front.png: our finals (mean ± std over seeds) and the published designs' own figures."""
        if not self.designs:
            return None
        ours = [(g[0].metrics["params"], *stats(g, "test_acc")[:2], name) for name, g in self.designs.items()]
        series = {
            "our finals (test, mean ± std over seeds)": ours,
            "published, as their sources measured": self.research.published_points(),
        }
        return figures.save(figures.accuracy_vs_parameters(series), RunDir(self.results).figure(rundir.FRONT))


def render(results: Path) -> str:
    """The front table for a results folder (README's block)."""
    return Front.load(results).table()


def readme_block(readme: str) -> str:
    """What README holds between its front markers."""
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def with_block(readme: str, block: str) -> str:
    """The readme with its front block replaced; a ValueError when it has no pair of markers."""
    if BEGIN not in readme or END not in readme.split(BEGIN, 1)[1]:
        raise ValueError("no front markers in it")
    before, rest = readme.split(BEGIN, 1)
    return f"{before}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"


def write(front: Front, readme: Path | None) -> Path:
    """Print the front table, draw its figure, and rewrite README's block with it (readme=None: print only)."""
    table = front.table()
    print(table)
    drawn = front.draw()
    if drawn:
        print(f"{drawn} drawn")
    if readme is None:
        return front.results
    try:
        updated = with_block(readme.read_text(), table)
    except (OSError, ValueError) as error:
        raise FrontUnwritable(
            f"readme={readme}: cannot update its front block ({error}); needs {BEGIN} ... {END}"
        ) from None
    write_atomic(readme, updated.encode())
    return readme
