"""The answer's front: test accuracy against parameters, per budget, from the run records committed in results/.

    table = render(Path("results"))      # the markdown table README shows between its front markers
    python -m mnist_design.report front=true   # prints it, and rewrites README's block with it

Each design is the runs tagged ``design: <name>`` under results/runs/ (finals: 15 epochs, seeds 0-4, final-epoch
test); its budget is the smallest in results/research.yaml that it is under. A published design shows its own
published figure beside ours (results/research.yaml says how that figure was measured).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from tabulate import tabulate

from mnist_design import runs

RESEARCH_FILE = "research.yaml"  # targets and published figures, beside the evidence
RUNS_DIR = "runs"  # finished run records (metrics.json, history.jsonl, .hydra/)
BEGIN, END = "<!-- front:begin -->", "<!-- front:end -->"  # README's generated block
HEADER = ["budget", "design", "params", "seeds", "test acc % (mean ± std, min)", "published", "target", "met"]


def research(results: Path) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.load(results / RESEARCH_FILE))


def percent(value: float) -> str:
    return f"{100 * value:.2f}"


def budget_of(params: int, budgets: list[int]) -> int | None:
    """The smallest budget the design is under (the targets say "< budget")."""
    return next((budget for budget in sorted(budgets) if params < budget), None)


EXACT = 1e-9  # test accuracies are multiples of 1/10,000: compare their means without float noise


def met(target: dict[str, float], accuracies: list[float]) -> str:
    mean_ok = statistics.fmean(accuracies) >= target["mean"] - EXACT
    floor_ok = "every_seed" not in target or min(accuracies) >= target["every_seed"] - EXACT
    return "yes" if mean_ok and floor_ok else "no"


def rows(results: Path) -> list[list[str]]:
    """One row per design with tested runs, by budget then parameters."""
    data = research(results)
    targets, published = data["targets"], data.get("published", {})
    found, _ = runs.collect([results / RUNS_DIR]) if (results / RUNS_DIR).is_dir() else ([], [])
    groups: dict[str, list[runs.Run]] = {}
    for run in found:
        if run.tag("design") and isinstance(run.metrics.get("test_acc"), float):
            groups.setdefault(run.tag("design"), []).append(run)
    table = []
    for design, group in groups.items():
        params = int(group[0].metrics["params"])
        budget = budget_of(params, list(targets))
        group.sort(key=lambda r: r.seed)
        accuracies = [float(r.metrics["test_acc"]) for r in group]
        theirs = published.get(design)
        target = targets.get(budget) if budget else None
        table.append(
            [
                f"< {budget:,}" if budget else "–",
                design,
                f"{params:,}",
                ",".join(str(r.seed) for r in group),
                runs.cell(group, "test_acc"),
                f"{percent(theirs['test_acc'])} ({theirs['params']:,} params)" if theirs else "–",
                f"≥ {percent(target['mean'])}" if target else "–",
                met(target, accuracies) if target else "–",
            ]
        )
    return sorted(table, key=lambda row: (int(row[2].replace(",", "")), row[1]))


def render(results: Path) -> str:
    found = rows(results)
    if not found:
        return (
            f"_No final runs under `{results.name}/{RUNS_DIR}/` yet: see `{results.name}/README.md` for what is left._"
        )
    return tabulate(found, headers=HEADER, tablefmt="github", disable_numparse=True)


def readme_block(readme: str) -> str:
    """What README holds between its front markers."""
    return readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def with_block(readme: str, block: str) -> str:
    """The readme with its front block replaced; a ValueError when it has no pair of markers."""
    if BEGIN not in readme or END not in readme.split(BEGIN, 1)[1]:
        raise ValueError("no front markers in it")
    before, rest = readme.split(BEGIN, 1)
    return f"{before}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"
