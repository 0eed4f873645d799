"""results/README.md's reproducibility audit: each rerun beside the committed record of the same design and seed.

    block(Path("results"))   # the "reruns" table: committed test accuracy, rerun test accuracy, what each ran on

A rerun (results/reruns/<design>/seed_<S>/) is the committed command run again, one thread, to keep the final
weights the committed run did not keep. Its numbers are recorded beside the committed ones, never in their place:
a difference is a finding about reproducibility across machines, not an error.
"""

from __future__ import annotations

from pathlib import Path

from mnist_design.report.costs import RERUNS_DIR
from mnist_design.report.stats import signed
from mnist_design.report.tables import markdown
from mnist_design.runs import records as runs
from mnist_design.runs.metrics import TEST_ACC

HEADER = ["design", "seed", "committed test %", "rerun test %", "rerun − committed pp", "committed on", "rerun on"]


def committed_dir(results: Path, rerun: runs.Run) -> Path:
    return results / "runs" / rerun.path.parent.name / rerun.path.name


def block(results: Path) -> str:
    found, _ = runs.collect([results / RERUNS_DIR]) if (results / RERUNS_DIR).is_dir() else ([], [])
    lines = []
    for rerun in sorted(found, key=lambda r: (r.path.parent.name, r.seed)):
        try:
            committed = runs.read_run(committed_dir(results, rerun))
        except runs.RunUnreadable:
            continue
        ours, theirs = float(rerun.metrics[TEST_ACC]), float(committed.metrics[TEST_ACC])
        lines.append([
            f"`{rerun.path.parent.name}`", rerun.seed, f"{100 * theirs:.2f}", f"{100 * ours:.2f}",
            signed(100 * (ours - theirs)), committed.metrics.get("hardware", "–"), rerun.metrics.get("hardware", "–"),
        ])  # fmt: skip
    if not lines:
        return f"_No reruns under `{results.name}/{RERUNS_DIR}/` yet._"
    same = sum(1 for line in lines if line[4] == "+0.00")
    return (
        markdown(HEADER, lines) + f"\n\n{same} of {len(lines)} reruns reproduce the committed test accuracy to 0.01 pp."
    )
