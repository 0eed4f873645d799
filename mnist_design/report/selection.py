"""results/README.md's selection tables, rendered from each study's summary.yaml (written by the search).

    blocks(Path("results"))   # {"selection_design_2000": "| candidate trial | ...", ...}, one per finished selection

Each table lists the study's candidates, best mean first: their parameters, the epoch they reached in the search,
their validation accuracy on each selection seed and the mean that chose the finalist. Nothing in it is test data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from mnist_design.report.tables import markdown

STUDIES_DIR, SUMMARY_FILE = "studies", "summary.yaml"  # results/studies/<study>/summary.yaml
README_FILE = "README.md"  # results/README.md: what has run, with these tables between markers
HEADER = ["candidate trial", "params", "search reached epoch", "val acc % by seed", "mean", "what"]


def finished(results: Path) -> dict[str, dict[str, Any]]:
    """Each study's summary.yaml with a finished selection, by study name."""
    found = {}
    for summary_file in sorted((results / STUDIES_DIR).glob(f"*/{SUMMARY_FILE}")):
        summary = OmegaConf.to_container(OmegaConf.load(summary_file))
        if (summary.get("selection") or {}).get("finished"):
            found[summary_file.parent.name] = summary
    return found


def what(row: dict[str, Any], finalist: int, best_single: int | None) -> str:
    """Where the candidate came from, whether it is the finalist, and whether one seed alone would have chosen it."""
    origin = f"`{row['published']}` with its own recipe" if row.get("published") else "searched"
    notes = [
        *(["**the finalist**"] if row["trial"] == finalist else []),
        "the base config" if row.get("base") else origin,
        *(["the best single trial of the search"] if row["trial"] == best_single and row["trial"] != finalist else []),
    ]
    return "; ".join(notes)


def table(summary: dict[str, Any]) -> str:
    """The candidates, best mean first; the finalist's mean in bold."""
    selection, best_single = summary["selection"], (summary.get("best") or {}).get("trial")
    seeds, finalist = selection["seeds"], selection["finalist"]
    lines = []
    for row in sorted(selection["candidates"], key=lambda r: -r["mean"]):
        mean = f"{100 * row['mean']:.2f}"
        lines.append(
            [
                str(row["trial"]),
                f"{row['params']:,}",
                str(row["reached_epoch"]),
                " / ".join(f"{100 * row['per_seed'][seed]:.2f}" for seed in seeds),
                f"**{mean}**" if row["trial"] == finalist else mean,
                what(row, finalist, best_single),
            ]
        )
    header = [*HEADER[:3], f"{HEADER[3]} {' / '.join(map(str, seeds))}", *HEADER[4:]]
    return markdown(header, lines, right=(0, 1, 2, 4))


def blocks(results: Path) -> dict[str, str]:
    """results/README's selection blocks, by block name."""
    return {f"selection_{study}": table(summary) for study, summary in finished(results).items()}
