"""REPORT.md from collected runs: the tutorial's table, the step analysis, ablations, designs, figures, the best model.

    path = write_report(found, Path("outputs/report"), "python -m mnist_design.report ...", Research.load(results))

Every section is computed from the runs' metrics and history files and their saved configs; a section whose runs are
missing is left out (the tutorial's rows always show, saying "no runs").
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.models.receptive_field import field_table, receptive_fields
from mnist_design.report.groups import by_tag, tutorial_rows
from mnist_design.report.research import Research
from mnist_design.report.stats import mean_history, size_point
from mnist_design.report.tables import (
    ablation_table,
    all_runs_table,
    analysis,
    comparison_table,
    design_table,
    layer_table,
)
from mnist_design.runs import figures
from mnist_design.runs import layout as rundir
from mnist_design.runs.layout import RunDir
from mnist_design.runs.metrics import VAL_ACC
from mnist_design.runs.records import Run
from mnist_design.training import factory, scoring

ABLATION_TAGS = ("scheduler", "recipe")  # tags of runs that change one thing of the tutorial's baseline row
STEP_BASE = "base"  # the step= preset every design step is compared with (conf/step/base.yaml)


def model_sections(name: str, cfg: DictConfig) -> list[str]:
    model = factory.classifier(cfg)
    return [
        f"### {name}: layers",
        layer_table(model),
        f"### {name}: receptive field",
        field_table(receptive_fields(model.net)),
    ]


def prediction_grid(run: Run, out: Path) -> Path | None:
    """The run's own prediction grid, or one drawn now from its last checkpoint."""
    existing = run.dir.figure(rundir.PREDICTIONS)
    if existing.is_file():
        return Path(shutil.copyfile(existing, out))
    if not run.dir.last_checkpoint.is_file():
        return None
    model, data_settings = factory.classifier_from_checkpoint(run.dir.last_checkpoint)
    datamodule = MNISTDataModule(**data_settings)
    datamodule.prepare_data()
    return figures.save(scoring.figures_on_test(model, datamodule)[rundir.PREDICTIONS], out)


def best_model_sections(candidates: Sequence[Run], out_dir: Path) -> list[str]:
    chosen = max(candidates, key=lambda r: r.metrics[VAL_ACC])  # chosen on validation, never on test
    name = chosen.tag("row") or chosen.tag("design")
    sections = [f"## The best model ({name})", *model_sections(name, chosen.config)]
    grid = RunDir(out_dir).figure(rundir.PREDICTIONS)
    if prediction_grid(chosen, grid) is not None:
        sections.append(
            f"### Predictions of its run with the best validation accuracy (seed {chosen.seed}, test acc "
            f"{100 * chosen.metrics['test_acc']:.2f} %)\n\n![predictions]({grid.name})"
        )
    return sections


def hardware(found: Sequence[Run]) -> str:
    return "; ".join(sorted({str(r.metrics.get("hardware", r.metrics.get("device", "?"))) for r in found}))


def front_points(found: Sequence[Run], groups: dict[str, dict[str, list[Run]]], research: Research) -> dict:
    """What the accuracy-vs-parameters figure draws, by series."""

    def summarise(named: dict[str, list[Run]]) -> list[figures.SizePoint]:
        return [size_point(name, group) for name, group in named.items() if group]

    trials = [
        figures.SizePoint(r.metrics["params"], r.metrics[VAL_ACC])
        for r in found
        if r.tag("search") and VAL_ACC in r.metrics
    ]
    return {
        "the tutorial's rows (test, mean ± std)": summarise(groups["row"]),
        f"the tutorial's design as step={STEP_BASE} (test, mean ± std)": summarise(
            {"": groups["step"].get(STEP_BASE, [])}
        ),
        "our designs (test, mean ± std)": summarise(groups["design"]),
        "search trials (validation)": trials,
        "published, as their sources measured (test)": research.published_points(),
    }


def draw_learning_curves(rows: dict[str, list[Run]], out_dir: Path) -> Path | None:
    """learning_curves.png in out_dir: each row's mean over its seeds; None when no run has a history."""
    curves = {row: mean_history(group) for row, group in rows.items() if any(r.history for r in group)}
    if not curves:
        return None
    return figures.save(figures.learning_curves(curves), RunDir(out_dir).figure(rundir.LEARNING_CURVES))


def learning_curves_section(rows: dict[str, list[Run]], out_dir: Path) -> list[str]:
    path = draw_learning_curves(rows, out_dir)
    return [f"## Learning curves (mean over seeds)\n\n![learning curves]({path.name})"] if path else []


def ablation_sections(found: Sequence[Run], baseline: list[Run], steps: dict[str, list[Run]]) -> list[str]:
    sections = []
    for key in ABLATION_TAGS:
        groups = by_tag(found, key)
        if groups and baseline:
            sections += [
                f"## Ablations: {key} (ranked on validation accuracy)",
                "Each variant changes one thing of its baseline; the test column is shown for the record, "
                "nothing was chosen with it.",
                ablation_table(groups, baseline, key),
            ]
    if steps.get(STEP_BASE):
        sections += [
            "## Design step by step (ranked on validation accuracy)",
            f"Each step is the tutorial's design and recipe (`step={STEP_BASE}`) with exactly one change (conf/step/); "
            "the Δ pairs runs of the same seed. The test column is shown for the record, nothing was chosen with it.",
            ablation_table({k: g for k, g in steps.items() if k != STEP_BASE}, steps[STEP_BASE], "step"),
        ]
    return sections


def design_sections(designs: dict[str, list[Run]], research: Research) -> list[str]:
    if not designs:
        return []
    sections = [
        "## Designs found by the search, retrained on several seeds",
        "Chosen on validation accuracy; retrained for the full schedule and tested once.",
        design_table(designs, research),
    ]
    for name, group in sorted(designs.items(), key=lambda item: item[1][0].metrics["params"]):
        sections += model_sections(name, group[0].config)
    return sections


def write_report(found: Sequence[Run], out_dir: Path, command: str, research: Research) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = tutorial_rows(found, research.tutorial_rows)
    groups = {"row": rows, "design": by_tag(found, "design"), "step": by_tag(found, "step")}
    minutes = sum(r.metrics.get("seconds", 0) for r in found) / 60
    sections = [
        "# The tutorial's table, reproduced",
        f"Generated {datetime.date.today().isoformat()} by `{command}` from {len(found)} runs; hardware: "
        f"{hardware(found)}; total training time {minutes:.1f} min. Test metrics are those of the final epoch's "
        "weights, as in the tutorial's table; validation is a 5,000-image split of the training set and nothing was "
        "chosen on the test set. Values are mean ± sample std over seeds, with the minimum in brackets.",
        comparison_table(rows, research),
        "## What each step did (computed from the table)",
        "\n".join(analysis(rows)),
        *learning_curves_section(rows, out_dir),
        *ablation_sections(found, rows.get(research.baseline, []), groups["step"]),
        *design_sections(groups["design"], research),
    ]
    points = front_points(found, groups, research)
    if any(points[name] for name in points if "published" not in name):
        drawn = figures.accuracy_vs_parameters(points)
        path = figures.save(drawn, RunDir(out_dir).figure(rundir.ACCURACY_VS_PARAMETERS))
        sections.append(f"## Accuracy against parameters\n\n![accuracy vs parameters]({path.name})")
    best = rows.get(research.baseline) or [r for group in groups["design"].values() for r in group]
    if best:
        sections += best_model_sections(best, out_dir)
    sections += ["## All runs, best validation accuracy first", all_runs_table(found)]
    report = out_dir / "REPORT.md"
    report.write_text("\n\n".join(sections) + "\n")
    return report
