"""README's second front: what each design costs to run and how it holds up off MNIST's test set.

    costs = Costs.load(front)   # the deploy/ records of each design's final runs (python -m mnist_design.robustness)
    costs.blocks()              # {"costs", "shift", "shift_paired", "rows_shift"}: README's blocks
    costs.draw()                # results/accuracy_vs_macs.png, accuracy_vs_int8_bytes.png, corruptions.png

A run's records are looked for in its own deploy/ folder, then in the rerun of the same design and seed
(results/reruns/<design>/seed_<S>/deploy/, weights retrained by the committed command where a run's own were not
kept). Differences are paired: by seed where both designs have every final seed's records, else image by image on
seed 0 (a paired bootstrap over the test images, labelled as such), and claimed only when the 95 % interval
excludes zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from mnist_design.deploy.record import RECORD_FILE as EXPORT_FILE
from mnist_design.deploy.record import read_json
from mnist_design.deploy.settings import DEPLOY_DIR
from mnist_design.report.stats import bootstrap, paired_by_seed, shown_over_images, signed
from mnist_design.report.tables import markdown
from mnist_design.runs import figures
from mnist_design.runs import records as runs
from mnist_design.runs.figures import SizePoint
from mnist_design.shift.suite import CLEAN, CORRECT_FILE, DIGITS, FONTS, read_correct
from mnist_design.shift.suite import RECORD_FILE as ROBUSTNESS_FILE

RERUNS_DIR = "reruns"  # results/reruns/<design>/seed_<S>/: retrained weights for seeds whose own were not kept
INT8_DROP_NAMED = 0.001  # an int8 drop above 0.1 pp is named in the answer (issue 43's target for row4)


@dataclass(frozen=True)
class Deployed:
    """One final run's export and robustness records."""

    seed: int
    folder: Path
    export: dict[str, Any]
    robustness: dict[str, Any]


# What the shift tables show per design, each a value of one run's records (float32 unless named int8).
MEASURES: dict[str, Callable[[Deployed], float]] = {
    "test float32": lambda d: d.robustness["sets"][CLEAN]["float32"],
    "test int8": lambda d: d.robustness["sets"][CLEAN]["int8"],
    "corrupted, covered": lambda d: d.robustness["groups"]["covered"]["float32"],
    "corrupted, not covered": lambda d: d.robustness["groups"]["not covered"]["float32"],
    "UCI digits": lambda d: d.robustness["sets"][DIGITS]["float32"],
    "fonts": lambda d: d.robustness["sets"][FONTS]["float32"],
}
# The paired table's measures: the sets (a group's corruptions, concatenated) and the precision whose per-image bits
# back a difference on one seed.
PAIRED: dict[str, tuple[Callable[[Deployed], list[str]], str]] = {
    "test int8": (lambda d: [CLEAN], "int8"),
    "corrupted, not covered": (lambda d: d.robustness["groups"]["not covered"]["corruptions"], "float32"),
    "UCI digits": (lambda d: [DIGITS], "float32"),
    "fonts": (lambda d: [FONTS], "float32"),
}


def deployed_run(results: Path, design: str, run: runs.Run) -> Deployed | None:
    """The records of one run's weights: its own deploy/ folder, else its rerun's."""
    for folder in (run.path / DEPLOY_DIR, results / RERUNS_DIR / design / f"seed_{run.seed}" / DEPLOY_DIR):
        export, shift = read_json(folder / EXPORT_FILE), read_json(folder / ROBUSTNESS_FILE)
        if export and shift and "int8" in export and (folder / CORRECT_FILE).is_file():
            return Deployed(run.seed, folder, export, shift)
    return None


def mean_cell(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.fmean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def kb(value: float) -> str:
    return f"{value / 1000:.1f}"


@dataclass(frozen=True)
class Costs:
    """The deploy records of every design the front shows (those standing for a budget, their baselines, earlier and
    later finalists) and of the tutorial's rows."""

    results: Path
    designs: dict[str, list[Deployed]]  # by design, in the front's order (by parameters)
    rows: dict[str, list[Deployed]]  # the tutorial's rows, in order
    final_seeds: tuple[int, ...]
    standing: tuple[str, ...]  # the design that stands for each budget (chosen on validation by the front)

    @classmethod
    def load(cls, front: Any) -> Costs:
        standing = [point.name for point in front.candidates()]
        designs = {d: cls.records(front.results, d, front.designs[d]) for d in front.order()}
        rows = {row: cls.records(front.results, row, group) for row, group in front.tutorial_rows.items() if group}
        return cls(
            front.results,
            {d: r for d, r in designs.items() if r},
            {row: r for row, r in rows.items() if r},
            tuple(front.research.final_seeds),
            tuple(standing),
        )

    @staticmethod
    def records(results: Path, design: str, group: Sequence[runs.Run]) -> list[Deployed]:
        found = (deployed_run(results, design, run) for run in sorted(group, key=lambda r: r.seed))
        return [d for d in found if d is not None]

    # --- tables ------------------------------------------------------------------------------------------------

    def cost_table(self) -> str:
        if not self.designs:
            return f"_No deploy records under `{self.results.name}/` yet: run `python -m mnist_design.robustness`._"
        header = [
            "design", "params", "MACs", "float32 kB", "int8 kB", "peak activation kB (float32)",
            "latency float32 / int8 ms (median, p90)", "ONNX vs PyTorch, largest logit Δ",
        ]  # fmt: skip
        lines, machines = [], set()
        for design, records in self.designs.items():
            first = records[0].export
            cost, timed = first["cost"], [r for r in records if r.export["float32"].get("latency")]
            latency = "not timed"
            if timed:
                f32, i8 = timed[0].export["float32"]["latency"], timed[0].export["int8"]["latency"]
                latency = f"{f32['median_ms']:.3f}, {f32['p90_ms']:.3f} / {i8['median_ms']:.3f}, {i8['p90_ms']:.3f}"
                machines.add(f"{f32['machine']} (seed {timed[0].seed})")
            lines.append([
                f"`{design}`", f"{cost['params']:,}", f"{cost['macs']:,}", kb(first["float32"]["weight_bytes"]),
                kb(first["int8"]["weight_bytes"]), kb(cost["peak_activation_bytes_fp32"]), latency,
                f"{max(r.export['float32']['largest_logit_difference'] for r in records):.1e}",
            ])  # fmt: skip
        timed_on = f"\n\nLatency measured on: {'; '.join(sorted(machines))}." if machines else ""
        return markdown(header, lines, right=(1, 2, 3, 4, 5)) + timed_on

    def shift_table(self, groups: dict[str, list[Deployed]]) -> str:
        header = ["design", "weights of seeds", *[f"{m} %" for m in MEASURES], "int8 drop pp"]
        lines = []
        for design, records in groups.items():
            drop = [MEASURES["test float32"](r) - MEASURES["test int8"](r) for r in records]
            lines.append([
                f"`{design}`",
                ",".join(str(r.seed) for r in records),
                *[mean_cell([measure(r) for r in records]) for measure in MEASURES.values()],
                signed(100 * statistics.fmean(drop)),
            ])  # fmt: skip
        return markdown(header, lines)

    def difference(self, ours: list[Deployed], theirs: list[Deployed], measure: str) -> str:
        """ours − theirs: by seed where both have every final seed, else over seed 0's images."""
        mine, other = {r.seed: r for r in ours}, {r.seed: r for r in theirs}
        every = set(self.final_seeds)
        if every <= mine.keys() and every <= other.keys():
            value = MEASURES[measure]
            return paired_by_seed({s: value(mine[s]) for s in every}, {s: value(other[s]) for s in every}).shown()
        if 0 not in mine or 0 not in other:
            return "– (no seed-0 weights for both)"
        return shown_over_images(bootstrap(*(self.image_bits(r, measure) for r in (mine[0], other[0]))))

    @staticmethod
    def image_bits(record: Deployed, measure: str) -> np.ndarray:
        """Which images one run got right on a measure's sets (a group's corruptions one after another)."""
        sets, precision = PAIRED[measure]
        return np.concatenate([
            read_correct(record.folder / CORRECT_FILE, name, precision, record.robustness["sets"][name]["images"])
            for name in sets(record)
        ])  # fmt: skip

    def paired_table(self, groups: dict[str, list[Deployed]], above_name: str) -> str:
        names = list(groups)
        lines = [
            [f"`{d}`", f"`{names[i - 1]}`", *[self.difference(groups[d], groups[names[i - 1]], m) for m in PAIRED]]
            for i, d in enumerate(names)
            if i
        ]
        if not lines:
            return "_Fewer than two designs have deploy records._"
        return markdown(["design", above_name, *[f"Δ {m}" for m in PAIRED]], lines)

    def blocks(self) -> dict[str, str]:
        return {
            "costs": self.cost_table(),
            "shift": self.shift_table(self.designs) if self.designs else self.cost_table(),
            "shift_paired": self.paired_table(self.designs, "vs the design above"),
            "rows_shift": self.shift_table(self.rows) + "\n\n" + self.paired_table(self.rows, "vs the row above")
            if self.rows
            else "_No deploy records of the tutorial's rows yet._",
        }

    # --- the answer's sentences, from resolved differences only ------------------------------------------------

    def value_of(self, design: str, measure: str) -> float:
        return statistics.fmean(MEASURES[measure](r) for r in self.designs[design])

    def knee_costs(self, knee: str | None) -> list[str]:
        """What the knee design of the accuracy front costs to run, for the answer (nothing without a knee)."""
        if knee not in self.designs:
            return []
        first = self.designs[knee][0].export
        cost = first["cost"]
        return [
            f"At the knee, `{knee}` costs {cost['macs']:,} multiply-accumulates per image, "
            f"{kb(first['int8']['weight_bytes'])} kB of int8 weights ({kb(first['float32']['weight_bytes'])} kB in "
            f"float32) and {kb(cost['peak_activation_bytes_fp32'])} kB of peak activations."
        ]

    def reorderings(self) -> list[str]:
        """Between the designs that stand for consecutive budgets: where int8 or the shifted sets resolve the larger
        one below the smaller (the order by size reversed), and which designs lose more than INT8_DROP_NAMED to int8.
        Only differences paired by seed count here: one seed's images say how those weights differ, not the designs
        (the spread between seeds off the test set is often larger than between designs)."""
        standing = [d for d in self.standing if d in self.designs]
        reversed_pairs, unpaired = [], []
        for smaller, larger in pairwise(standing):
            for measure in PAIRED:
                shown = self.difference(self.designs[larger], self.designs[smaller], measure)
                if "seeds" not in shown:
                    unpaired.append(f"`{larger}` vs `{smaller}`")
                    break
                if "worse" in shown:
                    reversed_pairs.append(f"`{larger}` below `{smaller}` on {measure} ({shown})")
        said = [
            "Off the clean test set, between the designs standing for consecutive budgets, paired by seed: "
            + ("; ".join(reversed_pairs) if reversed_pairs else "no larger design is resolved below the smaller one")
            + "."
        ]
        if unpaired:
            said.append(f"Not yet paired by seed (weights of every final seed missing): {', '.join(unpaired)}.")
        dropped = [
            f"`{d}` ({signed(100 * (self.value_of(d, 'test float32') - self.value_of(d, 'test int8')))} pp)"
            for d in self.designs
            if self.value_of(d, "test float32") - self.value_of(d, "test int8") > INT8_DROP_NAMED
        ]
        said.append(
            f"int8 costs more than {100 * INT8_DROP_NAMED:.1f} pp of test accuracy (mean over the seeds with "
            "weights) for " + ", ".join(dropped) + "."
            if dropped
            else f"int8 costs no design more than {100 * INT8_DROP_NAMED:.1f} pp of test accuracy."
        )
        return said

    # --- figures -------------------------------------------------------------------------------------------------

    def draw(self) -> list[Path]:
        """results/accuracy_vs_macs.png and accuracy_vs_int8_bytes.png (test accuracy, float32 and int8, mean ± std
        over the seeds with weights) and results/corruptions.png (designs x sets, float32)."""
        if not self.designs:
            return []
        drawn = []
        sizes = {
            "accuracy_vs_macs": ("multiply-accumulates per image", lambda r: r.export["cost"]["macs"]),
            "accuracy_vs_int8_bytes": ("int8 weight bytes", lambda r: r.export["int8"]["weight_bytes"]),
        }
        for name, (label, size) in sizes.items():
            series = {
                f"{precision} test (mean ± std over seeds)": [
                    self.point(design, records, size(records[0]), measure) for design, records in self.designs.items()
                ]
                for precision, measure in (("float32", "test float32"), ("int8", "test int8"))
            }
            figure = figures.accuracy_vs_parameters(series, x_label=label, title=f"What does {label} buy?")
            drawn.append(figures.save(figure, self.results / f"{name}.png"))
        sets = [s for s in next(iter(self.designs.values()))[0].robustness["sets"]]
        grid = np.array(
            [
                [100 * statistics.fmean(r.robustness["sets"][s]["float32"] for r in rs) for s in sets]
                for rs in self.designs.values()
            ]
        )
        title = "float32 accuracy % on each set (mean over the seeds with weights)"
        drawn.append(
            figures.save(figures.heatmap(list(self.designs), sets, grid, title), self.results / "corruptions.png")
        )
        return drawn

    @staticmethod
    def point(design: str, records: list[Deployed], size: int, measure: str) -> SizePoint:
        values = [MEASURES[measure](r) for r in records]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return SizePoint(size, statistics.fmean(values), spread, design, min(values) if len(values) > 1 else None)
