"""results/README.md's study tables, rendered from the committed studies: their journals and summary.yaml files.

    blocks(Path("results"))   # {"studies": ..., "selection_design_2000": ..., ...}: results/README's generated blocks

The ``studies`` table says how far each study has come (from its journal, so a study still running shows too); each
finished selection gets its own table of candidates, best mean first: their parameters, the epoch they reached in
the search, their monitored validation value on each selection seed and the mean that chose the finalist. Nothing
in them is test data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from mnist_design.errors import UserError
from mnist_design.report.tables import markdown
from mnist_design.runs.metrics import metric
from mnist_design.runs.portable import portable
from mnist_design.search import stores, studies

STUDIES_DIR = "studies"  # results/studies/<study>/: journal.log, summary.yaml, select/
README_FILE = "README.md"  # results/README.md: what has run, with these tables between markers
HEADER = ["candidate trial", "params", "search reached epoch", "by seed", "mean", "what"]
# The state table's counts: studies.describe's keys, and their column names.
COUNTS = {
    "trials": "proposals",
    "refused_before_training": "refused before training",
    "trained": "trained",
    "pruned": "pruned",
    "complete": "complete",
    "fail": "failed",
}
STATE_HEADER = ["study", "command", *COUNTS.values(), "selection"]


class StudyUnreadable(UserError):
    """A committed journal that Optuna cannot read as a study."""


def summaries(results: Path) -> dict[str, dict[str, Any]]:
    """Each study's summary.yaml (written when a search invocation ends), by study name."""
    found = {}
    for summary_file in sorted((results / STUDIES_DIR).glob(f"*/{studies.SUMMARY_FILE}")):
        try:
            summary = OmegaConf.to_container(OmegaConf.load(summary_file))
        except Exception as error:  # noqa: BLE001 - YAML and OmegaConf raise several kinds for a malformed file
            raise StudyUnreadable(f"{summary_file}: not a study summary ({type(error).__name__}: {error})") from None
        if not isinstance(summary, dict):
            raise StudyUnreadable(f"{summary_file}: not a study summary (a mapping is expected)")
        found[summary_file.parent.name] = summary
    return found


def finished(found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The summaries with a finished selection, by study name."""
    return {name: s for name, s in found.items() if (s.get("selection") or {}).get("finished")}


def selection_state(summary: dict[str, Any] | None) -> str:
    selection = (summary or {}).get("selection")
    if selection and selection.get("finished"):
        return f"done: finalist trial {selection['finalist']}"
    return "in progress" if selection else "not yet"


def read_study(journal: Path) -> Any:
    """The study a committed journal holds; one line naming the file when it is not one."""
    try:
        return studies.load(journal.parent)
    except Exception as error:  # noqa: BLE001 - Optuna raises several kinds for a file that is not a journal
        raise StudyUnreadable(f"{journal}: cannot read the study in it ({type(error).__name__}: {error})") from None


def state_table(results: Path, done: dict[str, dict[str, Any]]) -> str:
    """One row per committed study, by budget: its command and its counts as its journal has them now, and its
    selection's state from its summary in ``done``."""
    rows = []
    for journal in sorted((results / STUDIES_DIR).glob(f"*/{stores.JOURNAL_FILE}")):
        study = read_study(journal)
        attrs, counts = study.user_attrs, studies.describe(study)
        if not {"budget", "base"} <= set(attrs):
            raise StudyUnreadable(f"{journal}: a study this project did not start (no budget or base recorded in it)")
        command = studies.command(attrs, portable(journal.parent))
        numbers = [str(counts[key]) for key in COUNTS]
        row = [f"`{study.study_name}`", f"`{command}`", *numbers, selection_state(done.get(journal.parent.name))]
        budget = int(attrs["budget"]) if str(attrs["budget"]).isdigit() else 0  # budget=null sorts first
        rows.append((budget, row))
    lines = [row for _, row in sorted(rows)]
    return markdown(STATE_HEADER, lines, right=range(2, 2 + len(COUNTS)))


def what(row: dict[str, Any], finalist: int, best_single: int | None) -> str:
    """Where the candidate came from, whether it is the finalist, and whether one seed alone would have chosen it."""
    name = studies.baseline_name(row)
    origin = {None: "searched", studies.BASE: "the base config"}.get(name, f"`{name}` with its own recipe")
    if row.get("cross"):
        design, recipe = name.split(studies.CROSS)
        origin = f"a baseline: `{design}`'s design under `{recipe}`'s recipe"
    notes = [
        *(["**the finalist**"] if row["trial"] == finalist else []),
        origin,
        *(["the best single trial of the search"] if row["trial"] == best_single and row["trial"] != finalist else []),
    ]
    return "; ".join(notes)


def table(summary: dict[str, Any]) -> str:
    """The candidates, best mean first, in the monitored metric's own units; the finalist's mean in bold."""
    selection, best_single = summary["selection"], (summary.get("best") or {}).get("trial")
    seeds, finalist, spec = selection["seeds"], selection["finalist"], metric(selection["monitor"])
    sign = -1 if spec.direction == "maximize" else 1
    lines = []
    for row in sorted(selection["candidates"], key=lambda r: (r["mean"] is None, sign * (r["mean"] or 0))):
        mean = "failed (a seed diverged)" if row.get("failed") else spec.show(row["mean"])
        lines.append(
            [
                str(row["trial"]),
                f"{row['params']:,}",
                str(row["reached_epoch"]),
                " / ".join(spec.show(row["per_seed"][seed]) for seed in seeds),
                f"**{mean}**" if row["trial"] == finalist else mean,
                what(row, finalist, best_single),
            ]
        )
    header = [*HEADER[:3], f"{selection['monitor']} {HEADER[3]} {' / '.join(map(str, seeds))}", *HEADER[4:]]
    return markdown(header, lines, right=(0, 1, 2, 4))


def blocks(results: Path) -> dict[str, str]:
    """results/README's generated blocks, by block name."""
    found = summaries(results)
    tables = {f"selection_{study}": checked_table(study, summary) for study, summary in finished(found).items()}
    return {"studies": state_table(results, found), **tables} if (results / STUDIES_DIR).is_dir() else tables


def checked_table(study: str, summary: dict[str, Any]) -> str:
    """A finished selection's table; one line naming the study when its summary lacks what the table reads."""
    try:
        return table(summary)
    except (KeyError, TypeError, ValueError) as error:
        raise StudyUnreadable(
            f"{STUDIES_DIR}/{study}/{studies.SUMMARY_FILE}: its selection lacks {error} (written by another version?)"
        ) from None
