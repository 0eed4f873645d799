"""The bench's tables: what ``python -m mnist_design.bench`` left in a bench.json, as docs/results.md shows it.

    checked_bench_table(Path("results/bench/cpu/<run>/bench.json"))  # the paths' medians, then the ratios
    cpu_block(Path("results"))  # every CPU bench on record: python -m mnist_design.bench hydra.run.dir=<one new folder>

A GPU's bench is part of the GPU block (mnist_design/report/gpu.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from mnist_design.bench.paths import BENCH_FILE, PATHS, PER_REPEAT, RATES, RENAMED_RATIOS
from mnist_design.report.tables import markdown

CPU_BENCH = Path("bench") / "cpu"  # below results/: one folder per CPU bench run on record, named by when it ended


def ratio_text(key: str, value: float, per_repeat: dict) -> str:
    """'`ratio_vs_raw_loop=1.04` (per repeat 0.88–1.23)'; bench files older than the range carry none."""
    low_high = f" (per repeat {per_repeat[key][0]:.2f}–{per_repeat[key][1]:.2f})" if key in per_repeat else ""
    return f"`{RENAMED_RATIOS.get(key, key)}={value:.2f}`{low_high}"


def bench_table(bench: dict) -> str:
    """The machine (where the file names it), the bench's medians per path, then its ratios."""
    flops = float(bench["flops_per_image"])
    lines = [
        [f"{name} {label}", f"{bench['median'][name]:,.0f}", f"{bench['median'][name] * flops / 1e9:.1f}"]
        for name, (label, _) in PATHS.items()
        if name in bench["median"]  # the compiled path (E) only where it was measured
    ]
    per_repeat = bench.get(PER_REPEAT, {})
    ratios = ", ".join(ratio_text(key, value, per_repeat) for key, value in bench.items() if key.startswith("ratio_"))
    table = markdown(["path", "img/s (median)", "GFLOP/s"], lines, right=(1, 2)) + f"\n\n{ratios}."
    return f"Measured on: {bench['hardware']} ({bench['cpu']}).\n\n{table}" if "hardware" in bench else table


def checked_bench_table(path: Path) -> str:
    """The bench table, or one line naming the file and what is wrong with it (truncated, a key missing, a NaN)."""
    try:
        bench = json.loads(path.read_text())
        table = bench_table(bench)
        if "nan" in table.lower():
            raise ValueError("a median is not a number")
        return table
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        return f"Left out: {path}: unreadable or incomplete ({type(error).__name__}: {error})"


def rounds(path: Path) -> str:
    """'9 rounds', read from the bench file's own per-round rates; empty where the file cannot say."""
    try:
        return f", {len(next(iter(json.loads(path.read_text())[RATES].values())))} rounds"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return ""  # checked_bench_table names what is wrong with the file


def cpu_block(results: Path) -> str:
    """Every CPU bench on record, oldest first, each under the folder it came from; or a line saying there is none.
    All of them, not the best: one run's ratio moves by more than the difference a target asks about."""
    paths = sorted((results / CPU_BENCH).glob(f"*/{BENCH_FILE}"))
    if not paths:
        return f"_No CPU bench under `{results.name}/{CPU_BENCH.as_posix()}/` yet._"
    return "\n\n".join(
        f"**`{path.parent.relative_to(results.parent).as_posix()}/`**{rounds(path)}. {checked_bench_table(path)}"
        for path in paths
    )
