"""README's GPU block, from what a lent GPU left under results/gpu/ (mnist_design/report/front.py adds it):

    results/gpu/card.txt           # nvidia-smi's name, driver and memory, then the Python, torch and CPU lines
    results/gpu/default/seed_S/    # python -m mnist_design.train seed=S hydra.run.dir=results/gpu/default/seed_S
    results/gpu/bench/bench.json   # python -m mnist_design.bench hydra.run.dir=results/gpu/bench

The default run's test accuracy is paired by seed with the same run on the CPU (the tutorial's final row in
results/runs/), so the block says whether the card changes the result, not only how fast it gets there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from mnist_design.bench.paths import BENCH_FILE
from mnist_design.report.speed import checked_bench_table
from mnist_design.report.stats import cell, paired
from mnist_design.report.tables import markdown
from mnist_design.report.validate import trusted
from mnist_design.runs import records as runs
from mnist_design.runs.metrics import TEST_ACC

GPU_DIR = "gpu"  # below results/
CARD_FILE = "card.txt"
DEFAULT_RUNS = "default"  # the default train command's runs, one seed_S folder each
BENCH_DIR = "bench"


def seconds_cell(group: Sequence[runs.Run]) -> str:
    """'70 (55–74)': the median training time of a run, and its range."""
    seconds = [float(r.metrics["seconds"]) for r in group]
    return f"{statistics.median(seconds):.0f} ({min(seconds):.0f}–{max(seconds):.0f})"


def runs_table(gpu: Sequence[runs.Run], cpu: Sequence[runs.Run]) -> str:
    """The default run on the GPU beside the same run on the CPU, with their paired test difference."""
    header = ["device", "hardware", "seeds", "test acc % (mean ± std, min)", "training s a run (median, range)"]
    lines = [
        [
            " / ".join(sorted({str(x.metrics["device"]) for x in r})),
            " / ".join(sorted({str(x.metrics["hardware"]) for x in r})),  # every machine the runs were trained on
            ",".join(str(x.seed) for x in r),
            cell(r, TEST_ACC),
            seconds_cell(r),
        ]
        for r in (gpu, cpu)
        if r
    ]
    table = markdown(header, lines)
    if gpu and cpu:
        table += f"\n\nGPU − CPU, paired by seed: {paired(gpu, cpu).shown()}."
    return table


def block(results: Path, cpu_runs: Sequence[runs.Run]) -> str:
    """The GPU block's text: the card, the default run beside the CPU's, the bench; a line when none was lent."""
    folder = results / GPU_DIR
    if not (folder / CARD_FILE).is_file():
        return f"_No GPU records under `{results.name}/{GPU_DIR}/` yet: no session that wrote them had a GPU._"
    card_file, bench_file = folder / CARD_FILE, folder / BENCH_DIR / BENCH_FILE
    try:
        card = "; ".join(" ".join(line.split()) for line in card_file.read_text().splitlines() if line.strip())
    except (OSError, UnicodeDecodeError) as error:
        card = f"unreadable ({card_file}: {type(error).__name__})"
    found, skipped = runs.collect([folder / DEFAULT_RUNS]) if (folder / DEFAULT_RUNS).is_dir() else ([], [])
    found, left_out = trusted([run for run in found if TEST_ACC in run.metrics])  # report/validate.py
    found = [run for run in found if usable_seconds(run)]
    parts = [f"The card: {card}.", runs_table(sorted(found, key=lambda r: r.seed), cpu_runs)]
    parts += [f"Left out: {line}" for line in [*skipped, *left_out]]
    if bench_file.is_file():
        parts.append(checked_bench_table(bench_file))
    return "\n\n".join(parts)


def usable_seconds(run: runs.Run) -> bool:
    value = run.metrics.get("seconds")
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
