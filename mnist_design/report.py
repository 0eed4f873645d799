"""The seed's comparison table, regenerated from real runs with spread over seeds: outputs/report/REPORT.md.

    python -m mnist_design.report                                   # train 4 rows x seeds [0,1,2] + schedulers, then report
    python -m mnist_design.report seeds=[0,1,2,3,4]
    python -m mnist_design.report recipes=[ema,tta] designs=[design8k,design5k]   # + ablations and searched designs
    python -m mnist_design.report sweep_dirs=[outputs/sweeps]      # collect finished runs: nothing is retrained
    python -m mnist_design.report 'train_overrides=["trainer.max_epochs=3"]'   # a quick, smaller report
    python -m mnist_design.report sweep_dirs=[outputs/searches/s1] out_dir=outputs/s1_report   # any sweep, ranked

Runs are recognised by their Hydra choices (.hydra/hydra.yaml), not by folder names: a run of model=skeleton
augment=off scheduler=none is row 1 whether it came from experiment=row1 or from explicit overrides. Everything
in the report is computed from metrics.json and history.jsonl; analysis lines are derived from the numbers.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.model_summary import ModelSummary
from omegaconf import DictConfig, OmegaConf

from mnist_design import figures
from mnist_design.checkpoints import load_classifier
from mnist_design.config import config_dir
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.evaluate import figures_on_test, read_history
from mnist_design.module import MNISTClassifier
from mnist_design.receptive_field import markdown as receptive_field_markdown
from mnist_design.receptive_field import receptive_fields

# (model, augment, scheduler) choices of each seed row.
ROWS = {
    "row1": ("skeleton", "off", "none"),
    "row2": ("bn_dropout", "off", "none"),
    "row3": ("augmented", "on", "none"),
    "row4": ("best", "on", "onecycle"),
}
ROW_TITLES = {"row1": "basic skeleton", "row2": "+ BatchNorm & dropout", "row3": "+ rotation augmentation",
              "row4": "+ OneCycleLR (best)"}
# The seed README's published single-run numbers (final epoch, test set evaluated every epoch).
PUBLISHED = {
    "row1": {"params": "7.3k", "train_acc": 0.9858, "train_loss": 0.01337, "test_acc": 0.9866, "test_loss": 0.0464},
    "row2": {"params": "7.4k", "train_acc": 0.9858, "train_loss": 0.01337, "test_acc": 0.9928, "test_loss": 0.0230},
    "row3": {"params": "7.4k", "train_acc": 0.9900, "train_loss": 0.01188, "test_acc": 0.9934, "test_loss": 0.0213},
    "row4": {"params": "7.4k", "train_acc": 0.9924, "train_loss": 0.00553, "test_acc": 0.9956, "test_loss": 0.0168},
}
SCHEDULERS = ("none", "step", "plateau", "onecycle")
# Budgeted designs (experiment=design8k|design5k): parameter budget and the mean test accuracy the issue aims at.
DESIGN_TARGETS = {"design8k": (8000, 0.9960), "design5k": (5000, 0.9940)}
METRICS = ("train_acc", "train_loss", "val_acc", "test_acc", "test_loss")


@dataclass
class Run:
    path: Path
    metrics: dict[str, Any]
    choices: dict[str, str]
    history: list[dict[str, float]] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)

    @property
    def signature(self) -> tuple[str, str, str]:
        return self.choices.get("model", ""), self.choices.get("augment", ""), self.choices.get("scheduler", "")

    def choice(self, group: str) -> str:
        """The run's option of a config group; '' when none was chosen."""
        value = self.choices.get(group)
        return "" if value in (None, "None", "null") else value


# --- collect ---------------------------------------------------------------------------------------------------


def collect_runs(roots: Sequence[str | Path]) -> list[Run]:
    """Every finished run (metrics.json beside .hydra/) under the given directories."""
    runs = []
    for root in roots:
        for metrics_file in sorted(Path(root).rglob("metrics.json")):
            run_dir = metrics_file.parent
            hydra_dir = run_dir / ".hydra"
            if not (hydra_dir / "hydra.yaml").is_file():
                continue
            choices = OmegaConf.to_container(OmegaConf.load(hydra_dir / "hydra.yaml").hydra.runtime.choices)
            overrides = hydra_dir / "overrides.yaml"
            runs.append(Run(run_dir, json.loads(metrics_file.read_text()), {k: str(v) for k, v in choices.items()},
                            read_history(run_dir / "history.jsonl"),
                            [str(o) for o in OmegaConf.load(overrides)] if overrides.is_file() else []))
    return runs


def tested(runs: Sequence[Run]) -> list[Run]:
    """Runs with test metrics, in seed order."""
    return sorted((r for r in runs if "test_acc" in r.metrics), key=lambda r: (r.metrics.get("seed", 0), str(r.path)))


def plain_recipe(runs: Sequence[Run]) -> list[Run]:
    """Tested runs trained with the seed's own recipe (no recipe= ablation on top)."""
    return [r for r in tested(runs) if not r.choice("recipe")]


def by_row(runs: Sequence[Run]) -> dict[str, list[Run]]:
    return {row: [r for r in plain_recipe(runs) if r.signature == signature] for row, signature in ROWS.items()}


def by_scheduler(runs: Sequence[Run]) -> dict[str, list[Run]]:
    return {name: [r for r in plain_recipe(runs) if r.signature[:2] == ("best", "on") and r.signature[2] == name]
            for name in SCHEDULERS}


def by_recipe(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Row 4 ("baseline") and each recipe= ablation trained on the best model."""
    groups = {"baseline": by_row(runs)["row4"]}
    for run in tested(runs):
        if run.choice("recipe") and run.choice("model") == "best" and not run.choice("experiment").startswith("design"):
            groups.setdefault(run.choice("recipe"), []).append(run)
    return groups


def by_design(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Finalists of the budgeted design search, by experiment= preset."""
    groups: dict[str, list[Run]] = {}
    for run in tested(runs):
        if run.choice("experiment").startswith("design"):
            groups.setdefault(run.choice("experiment"), []).append(run)
    return dict(sorted(groups.items()))


# --- numbers ---------------------------------------------------------------------------------------------------


def stats(runs: Sequence[Run], key: str) -> tuple[float, float, float]:
    """(mean, sample std, min) over runs; std is 0 for a single run."""
    values = [float(r.metrics[key]) for r in runs]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), min(values)


def cell(runs: Sequence[Run], key: str) -> str:
    mean, std, low = stats(runs, key)
    if key.endswith("acc"):
        return f"{100 * mean:.2f} ± {100 * std:.2f} (min {100 * low:.2f})"
    return f"{mean:.4f} ± {std:.4f} (min {low:.4f})"


def published_cell(row: str) -> str:
    p = PUBLISHED[row]
    return (f"{p['params']}, train {100 * p['train_acc']:.2f} / {p['train_loss']}, "
            f"test {100 * p['test_acc']:.2f} / {p['test_loss']}")


def comparison_table(rows: dict[str, list[Run]]) -> str:
    lines = ["| row | params | epochs | seeds | train acc % | train loss | val acc % | test acc % | test loss "
             "| seed's published (params, train acc / loss, test acc / loss) |",
             "| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |"]
    for row, runs in rows.items():
        if not runs:
            lines.append(f"| {row} {ROW_TITLES[row]} | – | – | no runs | | | | | | {published_cell(row)} |")
            continue
        seeds = ",".join(str(r.metrics.get("seed")) for r in runs)
        epochs = "/".join(sorted({str(r.metrics["epochs"]) for r in runs}))
        lines.append(f"| {row} {ROW_TITLES[row]} | {runs[0].metrics['params']:,} | {epochs} | {seeds} | "
                     + " | ".join(cell(runs, key) for key in METRICS) + f" | {published_cell(row)} |")
    return "\n".join(lines)


def analysis(rows: dict[str, list[Run]]) -> list[str]:
    """One line per row vs the previous row: change in mean test accuracy and in the train-test gap."""
    lines, previous = [], None
    for row, runs in rows.items():
        if not runs:
            lines.append(f"- **{row}**: no runs collected.")
            continue
        test = stats(runs, "test_acc")[0]
        gap = statistics.fmean(r.metrics["train_acc"] - r.metrics["test_acc"] for r in runs)
        if previous is None:
            lines.append(f"- **{row}** ({ROW_TITLES[row]}): test accuracy {100 * test:.2f} %, "
                         f"train−test gap {100 * gap:+.2f} pp.")
        else:
            name, before, before_gap = previous
            delta = 100 * (test - before)
            verdict = "improves on" if delta > 0 else "does NOT improve on"
            lines.append(f"- **{row}** ({ROW_TITLES[row]}) {verdict} {name}: test accuracy {delta:+.2f} pp "
                         f"({100 * before:.2f} → {100 * test:.2f} %); train−test gap {100 * (gap - before_gap):+.2f} pp "
                         f"({100 * before_gap:+.2f} → {100 * gap:+.2f}).")
        previous = (row, test, gap)
    return lines


def scheduler_table(groups: dict[str, list[Run]]) -> str:
    lines = ["| scheduler (best model, augment on) | seeds | val acc % | test acc % | test loss |",
             "| --- | --- | --- | --- | --- |"]
    for name, runs in groups.items():
        if runs:
            seeds = ",".join(str(r.metrics.get("seed")) for r in runs)
            lines.append(f"| {name} | {seeds} | {cell(runs, 'val_acc')} | {cell(runs, 'test_acc')} "
                         f"| {cell(runs, 'test_loss')} |")
        else:
            lines.append(f"| {name} | no runs | | | |")
    return "\n".join(lines)


def paired_delta(runs: Sequence[Run], baseline: Sequence[Run], key: str) -> tuple[float, int]:
    """Mean difference to the baseline over the seeds both have (same seed = same init and data order)."""
    base = {r.metrics.get("seed"): float(r.metrics[key]) for r in baseline}
    pairs = [float(r.metrics[key]) - base[r.metrics.get("seed")] for r in runs if r.metrics.get("seed") in base]
    return (statistics.fmean(pairs), len(pairs)) if pairs else (float("nan"), 0)


def recipe_table(groups: dict[str, list[Run]]) -> str:
    lines = ["| recipe | seeds | val acc % | Δ val vs baseline, same seeds (pp) | test acc % (reported, not used) |",
             "| --- | --- | --- | ---: | --- |"]
    ranked = sorted(groups.items(), key=lambda item: -stats(item[1], "val_acc")[0])
    for name, runs in ranked:
        seeds = ",".join(str(r.metrics.get("seed")) for r in runs)
        delta, pairs = paired_delta(runs, groups["baseline"], "val_acc")
        shown = "–" if name == "baseline" or not pairs else f"{100 * delta:+.2f} ({pairs} seeds)"
        lines.append(f"| {name} | {seeds} | {cell(runs, 'val_acc')} | {shown} | {cell(runs, 'test_acc')} |")
    return "\n".join(lines)


def design_table(groups: dict[str, list[Run]]) -> str:
    lines = ["| design | params | epochs | seeds | val acc % | test acc % | target (mean test acc) | met |",
             "| --- | ---: | ---: | --- | --- | --- | --- | --- |"]
    for name, runs in groups.items():
        seeds = ",".join(str(r.metrics.get("seed")) for r in runs)
        epochs = "/".join(sorted({str(r.metrics["epochs"]) for r in runs}))
        budget, goal = DESIGN_TARGETS.get(name, (None, None))
        mean = stats(runs, "test_acc")[0]
        target = f"< {budget:,} params, ≥ {100 * goal:.2f} %" if goal else "–"
        met = "–" if goal is None else ("yes" if mean >= goal and runs[0].metrics["params"] < budget else "**no**")
        lines.append(f"| {name} | {runs[0].metrics['params']:,} | {epochs} | {seeds} | {cell(runs, 'val_acc')} | "
                     f"{cell(runs, 'test_acc')} | {target} | {met} |")
    return "\n".join(lines)


def all_runs_table(runs: Sequence[Run]) -> str:
    """Every run, best validation accuracy first: a sweep (or an Optuna search) summarised."""
    lines = ["| # | val acc % | test acc % | params | epochs | seconds | overrides | run |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    ranked = sorted(runs, key=lambda r: r.metrics.get("val_acc", float("-inf")), reverse=True)
    for rank, run in enumerate(ranked, 1):
        test = f"{100 * run.metrics['test_acc']:.2f}" if "test_acc" in run.metrics else "–"
        shown = " ".join(o for o in run.overrides if not o.startswith(("hydra.", "callbacks.model_summary")))
        m = run.metrics
        lines.append(f"| {rank} | {100 * m.get('val_acc', float('nan')):.2f} | {test} | {m.get('params', 0):,} | "
                     f"{m.get('epochs')} | {m.get('seconds', 0):.0f} | `{shown}` | {run.path.name} |")
    return "\n".join(lines)


def mean_history(runs: Sequence[Run]) -> list[dict[str, float]]:
    """Per-epoch mean over the runs that reached that epoch."""
    epochs = sorted({h["epoch"] for r in runs for h in r.history})
    merged = []
    for epoch in epochs:
        records = [h for r in runs for h in r.history if h["epoch"] == epoch]
        merged.append({key: statistics.fmean(h[key] for h in records) for key in records[0]})
    return merged


# --- the best model's tables and prediction grid ----------------------------------------------------------------


def layer_table(model_cfg: dict) -> str:
    """The seed-style summary: each leaf layer, its output shape and parameter count."""
    summary = ModelSummary(MNISTClassifier(net=model_cfg, optimizer={}, scheduler=None), max_depth=-1)
    lines = ["| layer (type) | output shape | params |", "| --- | --- | ---: |"]
    for name, kind, out, params in zip(summary.layer_names, summary.layer_types, summary.out_sizes,
                                       summary.param_nums):
        if name.startswith("net.layers.") and kind != "Sequential":
            shape = ", ".join(str(v) for v in [-1, *out[1:]])  # the seed's torchsummary style: -1 for the batch
            lines.append(f"| {name.removeprefix('net.layers.')} {kind} | [{shape}] | {params:,} |")
    lines.append(f"| **total** | | **{summary.total_parameters:,}** |")
    return "\n".join(lines)


def model_config(run: Run) -> dict:
    return OmegaConf.to_container(OmegaConf.load(run.path / ".hydra" / "config.yaml").model, resolve=True)


def prediction_grid(run: Run, out: Path) -> Path | None:
    """The run's own predictions.png, or one made now from its last checkpoint (runs made before figures existed)."""
    existing = run.path / "predictions.png"
    if existing.is_file():
        return Path(shutil.copyfile(existing, out))
    checkpoint = run.path / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        return None
    model, data_hparams = load_classifier(checkpoint)
    datamodule = MNISTDataModule(**data_hparams)
    datamodule.prepare_data()
    return figures.save(figures_on_test(model, datamodule)["predictions"], out)


# --- assemble --------------------------------------------------------------------------------------------------


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def hardware(runs: Sequence[Run]) -> str:
    devices = sorted({str(r.metrics.get("device")) for r in runs})
    return (f"{cpu_name()} ({os.cpu_count()} cores), training device {', '.join(devices)}, "
            f"torch {torch.__version__}, python {platform.python_version()}")


def write_report(runs: Sequence[Run], out_dir: Path, command: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, schedulers = by_row(runs), by_scheduler(runs)
    curves = {f"{row}": mean_history(rs) for row, rs in rows.items() if rs and any(r.history for r in rs)}
    sections = [
        "# The seed's table, reproduced",
        f"Generated {datetime.date.today().isoformat()} by `{command}` from {len(runs)} runs; "
        f"hardware: {hardware(runs)}; total training time {sum(r.metrics['seconds'] for r in runs) / 60:.1f} min. "
        "Test metrics are those of the final epoch's weights, as in the seed's table; validation is a 5,000-image "
        "split of the training set and nothing was chosen on the test set. Values are mean ± sample std over seeds, "
        "with the minimum in brackets.",
        comparison_table(rows),
        "## What each step did (computed from the table)",
        "\n".join(analysis(rows)),
    ]
    if curves:
        figures.save(figures.learning_curves(curves), out_dir / "learning_curves.png")
        sections.append("## Learning curves (mean over seeds)\n\n![learning curves](learning_curves.png)")
    if any(schedulers.values()):
        sections += ["## The scheduler story (best model, augmentation on)", scheduler_table(schedulers)]
    recipes = by_recipe(runs)
    if len(recipes) > 1 and recipes["baseline"]:
        sections += ["## Training-recipe ablations (best model; ranked on validation accuracy)",
                     "Each recipe is one `recipe=` option on top of row 4. The test column is shown for the record; "
                     "nothing was chosen with it.", recipe_table(recipes)]
    designs = by_design(runs)
    if designs:
        sections += ["## Designs found by the budgeted search (`hparams_search=design`), retrained",
                     "Chosen on validation accuracy of the search's proxy runs; retrained for the full schedule on "
                     "several seeds and tested once.", design_table(designs)]
    best_runs = rows["row4"] or [r for r in tested(runs) if r.signature[0] == "best"]
    if best_runs:
        chosen = max(best_runs, key=lambda r: r.metrics["val_acc"])  # chosen on validation, never on test
        model_cfg = model_config(chosen)
        sections += ["## The best model", layer_table(model_cfg),
                     "### Receptive field", receptive_field_markdown(receptive_fields(instantiate(model_cfg)))]
        grid = prediction_grid(chosen, out_dir / "predictions.png")
        if grid is not None:
            sections.append(f"### Predictions of the row-4 run with the best validation accuracy (seed "
                            f"{chosen.metrics.get('seed')}, test acc {100 * chosen.metrics['test_acc']:.2f} %)\n\n"
                            "![predictions](predictions.png)")
    sections += ["## All runs, best validation accuracy first", all_runs_table(runs)]
    report = out_dir / "REPORT.md"
    report.write_text("\n\n".join(sections) + "\n")
    return report


# --- train what is missing, then report ------------------------------------------------------------------------


def joined(values: Sequence) -> str:
    return ",".join(str(v) for v in values)


def train_sweeps(cfg: DictConfig, runs_dir: Path) -> None:
    """One multirun per part of the report, each with its own seeds."""
    sweeps = {"table": [f"seed={joined(cfg.seeds)}", "experiment=row1,row2,row3,row4"]}
    if cfg.schedulers:  # onecycle on the best model is row 4 itself
        sweeps["schedulers"] = [f"seed={joined(cfg.seeds)}", "scheduler=none,step,plateau"]
    if cfg.recipes:
        sweeps["recipes"] = [f"seed={joined(cfg.recipe_seeds)}", f"recipe={joined(cfg.recipes)}"]
    if cfg.designs:
        sweeps["designs"] = [f"seed={joined(cfg.design_seeds)}", f"experiment={joined(cfg.designs)}"]
    for name, overrides in sweeps.items():
        command = [sys.executable, "-m", "mnist_design.train", "-m", *overrides,
                   "callbacks.model_summary=null", f"hydra.sweep.dir={runs_dir / name}", *cfg.train_overrides]
        print("running:", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="report")
def main(cfg: DictConfig) -> None:
    out_dir = Path(cfg.out_dir)
    roots = list(cfg.sweep_dirs)
    started = time.perf_counter()
    if not roots:
        train_sweeps(cfg, out_dir / "runs")
        roots = [out_dir / "runs"]
    runs = collect_runs(roots)
    if not runs:
        print(f"error: no finished runs (metrics.json beside .hydra/) under {', '.join(map(str, roots))}",
              file=sys.stderr)
        sys.exit(2)
    command = "python -m mnist_design.report " + " ".join(sys.argv[1:])
    report = write_report(runs, out_dir, command.strip())
    print(f"{report} written from {len(runs)} runs in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
