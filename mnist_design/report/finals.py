"""The finals the front is drawn from: the run records under results/runs/ that can be trusted, and each design's
runs split by the role of their seed (the finals' seeds, or seeds added to a tied pair for its paired difference).

    tested, skipped = tested_runs(Path("results"))     # skipped: one line per record left out, naming its file
    finals, added, left_out = by_seed_role(groups, research)
"""

from __future__ import annotations

from pathlib import Path

from mnist_design.report.groups import seeds
from mnist_design.report.research import FINAL, PAST_CAP, RESEARCH_FILE, Research
from mnist_design.report.validate import trusted
from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir
from mnist_design.runs.metrics import TEST_ACC

RUNS_DIR = "runs"  # finished run records (metrics, history, config) below results/


def tested_runs(results: Path) -> tuple[list[runs.Run], list[str]]:
    """The runs under results/runs/ with a finite test accuracy, and one line naming each run left out and why."""
    found, skipped = runs.collect([results / RUNS_DIR]) if (results / RUNS_DIR).is_dir() else ([], [])
    unfinished = [d for d in sorted((results / RUNS_DIR).glob("*/*")) if d.is_dir() and not RunDir(d).finished()]
    skipped += [
        f"{RunDir(d).metrics}: missing, so {d.name} is left out (unfinished, or its record lost)" for d in unfinished
    ]
    tested, left_out = trusted([run for run in found if TEST_ACC in run.metrics])  # report/validate.py
    return tested, skipped + left_out


def seeds_cell(group: list[runs.Run], most: int, added: list[runs.Run]) -> str:
    """The seeds a design was rendered from, saying so when that is fewer than the other designs have, and the seeds
    added to it for a paired difference."""
    shown = seeds(group) if len(group) >= most else f"{seeds(group)} (only {len(group)} of {most})"
    return f"{shown} (+{seeds(added)} in paired Δ only)" if added else shown


def by_seed_role(
    groups: dict[str, list[runs.Run]], research: Research
) -> tuple[dict[str, list[runs.Run]], dict[str, list[runs.Run]], list[str]]:
    """Each design's runs of the finals' seeds, its runs of seeds added to a tied pair, and a line per run left out
    because its seed is past the cap (or per design with added seeds only)."""
    finals: dict[str, list[runs.Run]] = {}
    added: dict[str, list[runs.Run]] = {}
    left_out = []
    for design, group in groups.items():
        for run in group:
            role = research.seed_role(run.seed)
            if role == PAST_CAP:
                left_out.append(
                    f"{run.path / 'metrics.json'}: seed {run.seed} is past the cap of {research.seed_cap} seeds a "
                    f"design (finals.cap in {RESEARCH_FILE}), so it is left out"
                )
            else:
                (finals if role == FINAL else added).setdefault(design, []).append(run)
    for design in sorted(added.keys() - finals.keys()):  # added seeds pair with finals: alone they stand for nothing
        left_out.append(f"{design}: only seeds added to a tied pair, none of the finals', so it is left out")
        del added[design]
    return finals, added, left_out
