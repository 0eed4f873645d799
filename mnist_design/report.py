"""The seed's comparison table and the parameter question, regenerated from real runs: outputs/report/REPORT.md.

    python -m mnist_design.report      # train 4 rows x seeds [0,1,2] + schedulers, then report
    python -m mnist_design.report recipes=[ema,tta] designs=[pareto8k]    # + recipe ablations and searched designs
    python -m mnist_design.report steps=[padding28,gap_late] schedulers=false   # + design steps from the seed's design
    python -m mnist_design.report sweep_dirs=[outputs/multiruns]    # collect finished runs: nothing is retrained
    python -m mnist_design.report 'train_overrides=["trainer.max_epochs=3"]'   # a quick, smaller report
    python -m mnist_design.report sweep_dirs=[outputs/searches/design_8000] out_dir=outputs/s8k_report   # a search

Parts: collect (mnist_design/runs.py) -> group by the tags each run wrote (row, recipe, design, scheduler, search)
-> one table renderer -> figures. Nothing is recognised by file or folder names, and every number is computed from
metrics.json and history.jsonl. Launching runs is a thin wrapper over Hydra's multirun.
"""

from __future__ import annotations

import datetime
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import hydra
from lightning.pytorch.utilities.model_summary import ModelSummary
from omegaconf import DictConfig, OmegaConf

from mnist_design import factory, figures, front, runs, scoring
from mnist_design.atomic import write_atomic
from mnist_design.config import check_options, config_dir
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.errors import UserError, exit_on_user_error
from mnist_design.models.receptive_field import markdown as receptive_field_markdown
from mnist_design.models.receptive_field import receptive_fields
from mnist_design.runs import Run, cell, stats

# The seed README's published single-run numbers (final epoch, test set evaluated every epoch), by row tag.
PUBLISHED = {
    "row1": {"params": "7.3k", "train_acc": 0.9858, "train_loss": 0.01337, "test_acc": 0.9866, "test_loss": 0.0464},
    "row2": {"params": "7.4k", "train_acc": 0.9858, "train_loss": 0.01337, "test_acc": 0.9928, "test_loss": 0.0230},
    "row3": {"params": "7.4k", "train_acc": 0.9900, "train_loss": 0.01188, "test_acc": 0.9934, "test_loss": 0.0213},
    "row4": {"params": "7.4k", "train_acc": 0.9924, "train_loss": 0.00553, "test_acc": 0.9956, "test_loss": 0.0168},
}
# Published single runs of other small MNIST nets (params, test accuracy): drawn apart, labelled "published, one run".
PUBLISHED_ELSEWHERE = [(3762, 0.9952), (7918, 0.9950), (9900, 0.9960), (7496, 0.9956)]
# The parameter-budget targets, by budget: (mean final-epoch test accuracy over 5 seeds, every seed at least or None).
TARGETS = {8000: (0.9955, 0.9945), 5000: (0.9945, None), 2000: (0.9900, None)}
METRICS = ("train_acc", "train_loss", "val_acc", "test_acc", "test_loss")


class NoRuns(UserError):
    """Nothing finished to report on."""


# --- group --------------------------------------------------------------------------------------------------------


def tested(group: Sequence[Run]) -> list[Run]:
    """Runs with test metrics, in seed order."""
    return sorted((r for r in group if "test_acc" in r.metrics), key=lambda r: (r.seed, str(r.path)))


def by_tag(all_runs: Sequence[Run], key: str, keep: Callable[[Run], bool] = lambda r: True) -> dict[str, list[Run]]:
    """Tested runs grouped by the value of one tag, in sorted order of the values."""
    groups: dict[str, list[Run]] = {}
    for run in tested(all_runs):
        if run.tag(key) and keep(run):
            groups.setdefault(run.tag(key), []).append(run)
    return dict(sorted(groups.items()))


def seed_rows(all_runs: Sequence[Run]) -> dict[str, list[Run]]:
    """The seed's four rows (their own recipe: no recipe= on top), every row present even without runs."""
    found = by_tag(all_runs, "row", keep=lambda r: not r.tag("recipe"))
    return {row: found.get(row, []) for row in PUBLISHED}


# --- numbers and tables -------------------------------------------------------------------------------------------


def seeds(group: Sequence[Run]) -> str:
    return ",".join(str(r.seed) for r in group)


def epochs(group: Sequence[Run]) -> str:
    return "/".join(sorted({str(r.metrics["epochs"]) for r in group}))


def table(header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A markdown table; columns in ``right`` are right-aligned (numbers)."""
    rule = ["---:" if i in right else "---" for i in range(len(header))]

    def escaped(cell: object) -> str:  # a tag value may hold "|", which would split the cell
        return str(cell).replace("|", "\\|")

    return "\n".join(
        "|" + "|".join(f" {escaped(cell)} " if str(cell) else " " for cell in line) + "|"
        for line in [header, rule, *rows]
    )


def published_cell(row: str) -> str:
    p = PUBLISHED[row]
    return (
        f"{p['params']}, train {100 * p['train_acc']:.2f} / {p['train_loss']}, "
        f"test {100 * p['test_acc']:.2f} / {p['test_loss']}"
    )


def title(group: Sequence[Run], name: str) -> str:
    return f"{name} {group[0].tag('title')}".strip() if group else name


def comparison_table(rows: dict[str, list[Run]]) -> str:
    lines = []
    for row, group in rows.items():
        if not group:
            lines.append([row, "–", "–", "no runs", "", "", "", "", "", published_cell(row)])
            continue
        lines.append(
            [
                title(group, row),
                f"{group[0].metrics['params']:,}",
                epochs(group),
                seeds(group),
                *(cell(group, key) for key in METRICS),
                published_cell(row),
            ]
        )
    return table(
        [
            "row",
            "params",
            "epochs",
            "seeds",
            "train acc %",
            "train loss",
            "val acc %",
            "test acc %",
            "test loss",
            "seed's published (params, train acc / loss, test acc / loss)",
        ],
        lines,
        right=(1, 2),
    )


def analysis(rows: dict[str, list[Run]]) -> list[str]:
    """One line per row vs the previous row: change in mean test accuracy and in the train-test gap."""
    lines, previous = [], None
    for row, group in rows.items():
        if not group:
            lines.append(f"- **{row}**: no runs collected.")
            continue
        test = stats(group, "test_acc")[0]
        gap = statistics.fmean(r.metrics["train_acc"] - r.metrics["test_acc"] for r in group)
        label = f"**{row}** ({group[0].tag('title') or row})"
        if previous is None:
            lines.append(f"- {label}: test accuracy {100 * test:.2f} %, train−test gap {100 * gap:+.2f} pp.")
        else:
            name, before, before_gap = previous
            verdict = "improves on" if test > before else "does NOT improve on"
            lines.append(
                f"- {label} {verdict} {name}: test accuracy {100 * (test - before):+.2f} pp "
                f"({100 * before:.2f} → {100 * test:.2f} %); train−test gap {100 * (gap - before_gap):+.2f} "
                f"pp ({100 * before_gap:+.2f} → {100 * gap:+.2f})."
            )
        previous = (row, test, gap)
    return lines


def paired_delta(group: Sequence[Run], baseline: Sequence[Run], key: str) -> tuple[float, float, int]:
    """Mean and sample std of the difference to the baseline over the seeds both have (same seed = same data
    order and augmentation draws)."""
    base = {r.seed: float(r.metrics[key]) for r in baseline}
    pairs = [float(r.metrics[key]) - base[r.seed] for r in group if r.seed in base]
    if not pairs:
        return float("nan"), float("nan"), 0
    return statistics.fmean(pairs), (statistics.stdev(pairs) if len(pairs) > 1 else 0.0), len(pairs)


def ablation_table(groups: dict[str, list[Run]], baseline: Sequence[Run], what: str) -> str:
    """Each variant against the baseline on the same seeds, ranked on validation accuracy."""
    ranked = sorted({**groups, "baseline": list(baseline)}.items(), key=lambda item: -stats(item[1], "val_acc")[0])
    lines = []
    for name, group in ranked:
        delta, spread, pairs = paired_delta(group, baseline, "val_acc")
        shown = "–" if name == "baseline" or not pairs else f"{100 * delta:+.2f} ± {100 * spread:.2f} ({pairs} seeds)"
        lines.append([name, seeds(group), cell(group, "val_acc"), shown, cell(group, "test_acc")])
    return table(
        [what, "seeds", "val acc %", "Δ val vs baseline, same seeds (pp)", "test acc % (reported, not used)"],
        lines,
        right=(3,),
    )


def target_of(params: int) -> tuple[int, float, float | None] | None:
    """The smallest budget the design fits under, its target mean and its per-seed floor."""
    fits = [budget for budget in TARGETS if params < budget]
    return (min(fits), *TARGETS[min(fits)]) if fits else None


def verdict(group: Sequence[Run], mean_goal: float, floor: float | None) -> str:
    """'yes', or by how much the mean (or the worst seed) missed."""
    mean, _, low = stats(group, "test_acc")
    misses = [f"mean {100 * (mean - mean_goal):+.2f} pp"] if mean < mean_goal else []
    misses += [f"min {100 * (low - floor):+.2f} pp"] if floor is not None and low < floor else []
    return f"**no** ({', '.join(misses)})" if misses else "yes"


def design_table(groups: dict[str, list[Run]]) -> str:
    lines = []
    for name, group in sorted(groups.items(), key=lambda item: item[1][0].metrics["params"]):
        params, target = group[0].metrics["params"], target_of(group[0].metrics["params"])
        goal, met = "–", "–"
        if target:
            budget, mean_goal, floor = target
            goal = f"< {budget:,} params, mean ≥ {100 * mean_goal:.2f} %" + (
                f", every seed ≥ {100 * floor:.2f} %" if floor is not None else ""
            )
            met = verdict(group, mean_goal, floor)
        lines.append(
            [
                name,
                f"{params:,}",
                epochs(group),
                seeds(group),
                cell(group, "val_acc"),
                cell(group, "test_acc"),
                goal,
                met,
            ]
        )
    return table(
        ["design", "params", "epochs", "seeds", "val acc %", "test acc %", "target (mean test acc)", "met"],
        lines,
        right=(1, 2),
    )


def all_runs_table(all_runs: Sequence[Run]) -> str:
    """Every run, best validation accuracy first: a sweep (or a search) summarised."""
    lines = []
    ranked = sorted(all_runs, key=lambda r: r.metrics.get("val_acc", float("-inf")), reverse=True)
    for rank, run in enumerate(ranked, 1):
        m = run.metrics
        test = f"{100 * m['test_acc']:.2f}" if "test_acc" in m else "–"
        tags = " ".join(f"{k}={v}" for k, v in run.tags.items() if k != "title")
        lines.append(
            [
                rank,
                f"{100 * m.get('val_acc', float('nan')):.2f}",
                test,
                f"{m.get('params', 0):,}",
                m.get("epochs"),
                f"{m.get('seconds', 0):.0f}",
                tags,
                run.path.name,
            ]
        )
    return table(["#", "val acc %", "test acc %", "params", "epochs", "seconds", "tags", "run"], lines, right=range(6))


def mean_history(group: Sequence[Run]) -> list[dict[str, float]]:
    """Per-epoch mean over the runs that reached that epoch."""
    merged = []
    for epoch in sorted({h["epoch"] for r in group for h in r.history}):
        records = [h for r in group for h in r.history if h["epoch"] == epoch]
        merged.append({key: statistics.fmean(h[key] for h in records) for key in records[0]})
    return merged


# --- the best model's tables and prediction grid -------------------------------------------------------------------


def run_config(run: Run) -> DictConfig:
    return OmegaConf.load(run.path / ".hydra" / "config.yaml")


def layer_table(cfg: DictConfig) -> str:
    """The seed-style summary: each leaf layer, its output shape and parameter count."""
    summary = ModelSummary(factory.classifier(cfg), max_depth=-1)
    lines = []
    for name, kind, out, params in zip(summary.layer_names, summary.layer_types, summary.out_sizes, summary.param_nums):
        if name.startswith("net.layers.") and kind != "Sequential":
            shape = ", ".join(str(v) for v in [-1, *out[1:]])  # the seed's torchsummary style: -1 for the batch
            lines.append([f"{name.removeprefix('net.layers.')} {kind}", f"[{shape}]", f"{params:,}"])
    lines.append(["**total**", "", f"**{summary.total_parameters:,}**"])
    return table(["layer (type)", "output shape", "params"], lines, right=(2,))


def prediction_grid(run: Run, out: Path) -> Path | None:
    """The run's own predictions.png, or one drawn now from its last checkpoint."""
    existing = run.path / "predictions.png"
    if existing.is_file():
        return Path(shutil.copyfile(existing, out))
    checkpoint = run.path / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        return None
    model, data_settings = factory.classifier_from_checkpoint(checkpoint)
    datamodule = MNISTDataModule(**data_settings)
    datamodule.prepare_data()
    return figures.save(scoring.figures_on_test(model, datamodule)["predictions"], out)


def design_sections(designs: dict[str, list[Run]]) -> list[str]:
    """Each searched design's layers and receptive field, from its first run's saved config."""
    sections = []
    for name, group in sorted(designs.items(), key=lambda item: item[1][0].metrics["params"]):
        cfg = run_config(group[0])
        sections += [
            f"### {name}: layers",
            layer_table(cfg),
            f"### {name}: receptive field",
            receptive_field_markdown(receptive_fields(factory.classifier(cfg).net)),
        ]
    return sections


def best_model_sections(best: Sequence[Run], out_dir: Path) -> list[str]:
    chosen = max(best, key=lambda r: r.metrics["val_acc"])  # chosen on validation, never on test
    cfg = run_config(chosen)
    sections = [
        f"## The best model ({chosen.tag('row') or chosen.tag('design')})",
        layer_table(cfg),
        "### Receptive field",
        receptive_field_markdown(receptive_fields(factory.classifier(cfg).net)),
    ]
    if prediction_grid(chosen, out_dir / "predictions.png") is not None:
        sections.append(
            f"### Predictions of its run with the best validation accuracy (seed {chosen.seed}, test acc "
            f"{100 * chosen.metrics['test_acc']:.2f} %)\n\n![predictions](predictions.png)"
        )
    return sections


# --- assemble -------------------------------------------------------------------------------------------------------


def hardware(all_runs: Sequence[Run]) -> str:
    machines = sorted({str(r.metrics.get("hardware", r.metrics.get("device", "?"))) for r in all_runs})
    return "; ".join(machines)


def front_points(
    all_runs: Sequence[Run], rows: dict[str, list[Run]], designs: dict[str, list[Run]], steps: dict[str, list[Run]]
) -> dict:
    """What the accuracy-vs-parameters figure draws, each as (params, mean, std, label)."""

    def summarise(groups: dict[str, list[Run]]) -> list[tuple[int, float, float, str]]:
        return [(g[0].metrics["params"], *stats(g, "test_acc")[:2], name) for name, g in groups.items() if g]

    trials = [
        (r.metrics["params"], r.metrics["val_acc"], 0.0, "")
        for r in all_runs
        if r.tag("search") and "val_acc" in r.metrics
    ]
    return {
        "seed rows (test, mean ± std)": summarise(rows),
        "the seed's design as step=base (test, mean ± std)": summarise({"": steps.get("base", [])}),
        "our designs (test, mean ± std)": summarise(designs),
        "search trials (validation)": trials,
        "published, one run (test)": [(p, a, 0.0, "") for p, a in PUBLISHED_ELSEWHERE],
    }


def write_report(all_runs: Sequence[Run], out_dir: Path, command: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, designs = seed_rows(all_runs), by_tag(all_runs, "design")
    sections = [
        "# The seed's table, reproduced",
        f"Generated {datetime.date.today().isoformat()} by `{command}` from {len(all_runs)} runs; hardware: "
        f"{hardware(all_runs)}; total training time {sum(r.metrics.get('seconds', 0) for r in all_runs) / 60:.1f} "
        "min. Test metrics are those of the final epoch's weights, as in the seed's table; validation is a "
        "5,000-image split of the training set and nothing was chosen on the test set. Values are mean ± sample std "
        "over seeds, with the minimum in brackets.",
        comparison_table(rows),
        "## What each step did (computed from the table)",
        "\n".join(analysis(rows)),
    ]
    curves = {row: mean_history(group) for row, group in rows.items() if any(r.history for r in group)}
    if curves:
        figures.save(figures.learning_curves(curves), out_dir / "learning_curves.png")
        sections.append("## Learning curves (mean over seeds)\n\n![learning curves](learning_curves.png)")
    baseline = rows["row4"]  # every ablation changes one thing of the seed's row 4
    for key in ("scheduler", "recipe"):
        groups = by_tag(all_runs, key)
        if groups and baseline:
            sections += [
                f"## Ablations: {key} (ranked on validation accuracy)",
                "Each variant changes one thing of its baseline; the test column is shown for the record, "
                "nothing was chosen with it.",
                ablation_table(groups, baseline, key),
            ]
    steps = by_tag(all_runs, "step")
    if steps.get("base"):
        sections += [
            "## Design step by step (ranked on validation accuracy)",
            "Each step is the seed's design and recipe (`step=base`) with exactly one change (conf/step/); "
            "the Δ pairs runs of the same seed. The test column is shown for the record, nothing was chosen "
            "with it.",
            ablation_table({k: g for k, g in steps.items() if k != "base"}, steps["base"], "step"),
        ]
    if designs:
        sections += [
            "## Designs found by the search, retrained on several seeds",
            "Chosen on validation accuracy; retrained for the full schedule and tested once.",
            design_table(designs),
            *design_sections(designs),
        ]
    points = front_points(all_runs, rows, designs, steps)
    if (
        points["seed rows (test, mean ± std)"]
        or points["our designs (test, mean ± std)"]
        or points["search trials (validation)"]
    ):
        figures.save(figures.accuracy_vs_parameters(points), out_dir / "accuracy_vs_parameters.png")
        sections.append("## Accuracy against parameters\n\n![accuracy vs parameters](accuracy_vs_parameters.png)")
    best = rows["row4"] or [r for group in designs.values() for r in group]
    if best:
        sections += best_model_sections(best, out_dir)
    sections += ["## All runs, best validation accuracy first", all_runs_table(all_runs)]
    report = out_dir / "REPORT.md"
    report.write_text("\n\n".join(sections) + "\n")
    return report


# --- train what is missing, then report -----------------------------------------------------------------------------


def joined(values: Sequence) -> str:
    return ",".join(str(v) for v in values)


def train_sweeps(cfg: DictConfig, runs_dir: Path) -> None:
    """One Hydra multirun per part of the report, each with its own seeds."""
    for key, group in (("recipes", "recipe"), ("designs", "experiment"), ("steps", "step")):
        check_options(key, group, list(cfg[key]))  # a typo fails here, not after hours of other sweeps
    sweeps = {"table": [f"seed={joined(cfg.seeds)}", "experiment=row1,row2,row3,row4"]}
    if cfg.schedulers:  # onecycle on the best model is row 4 itself
        sweeps["schedulers"] = [
            f"seed={joined(cfg.seeds)}",
            "scheduler=none,step,plateau",
            "+tags.scheduler=${hydra:runtime.choices.scheduler}",
        ]
    if cfg.recipes:
        sweeps["recipes"] = [f"seed={joined(cfg.recipe_seeds)}", f"recipe={joined(cfg.recipes)}"]
    if cfg.designs:
        sweeps["designs"] = [f"seed={joined(cfg.design_seeds)}", f"experiment={joined(cfg.designs)}"]
    if cfg.steps:  # every step is compared with the base step on the same seeds
        sweeps["steps"] = [f"seed={joined(cfg.step_seeds)}", f"step={joined(['base', *cfg.steps])}"]
    for name, overrides in sweeps.items():
        command = [
            sys.executable,
            "-m",
            "mnist_design.train",
            "-m",
            *overrides,
            "callbacks.model_summary=null",
            f"hydra.sweep.dir={runs_dir / name}",
            *cfg.train_overrides,
        ]
        print("running:", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)


def write_front(cfg: DictConfig) -> Path:
    """The front table from results/, printed, and written into README's marked block."""
    table = front.render(Path(cfg.results_dir))
    print(table)
    if not cfg.readme:
        return Path(cfg.results_dir)
    readme = Path(cfg.readme)
    try:
        text = readme.read_text()
        updated = front.with_block(text, table)
    except (OSError, ValueError) as error:
        raise NoRuns(
            f"readme={readme}: cannot update its front block ({error}); needs {front.BEGIN} ... {front.END}"
        ) from None
    write_atomic(readme, updated.encode())
    return readme


def report(cfg: DictConfig) -> Path:
    if cfg.front:
        return write_front(cfg)
    out_dir, roots = Path(cfg.out_dir), list(cfg.sweep_dirs)
    if not roots:
        train_sweeps(cfg, out_dir / "runs")
        roots = [out_dir / "runs"]
    found, problems = runs.collect(roots)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    if not found:
        raise NoRuns(f"no finished runs (metrics.json) under {', '.join(map(str, roots))}")
    command = ("python -m mnist_design.report " + " ".join(sys.argv[1:])).strip()
    return write_report(found, out_dir, command)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="report")
def main(cfg: DictConfig) -> None:
    started = time.perf_counter()
    with exit_on_user_error():
        written = report(cfg)
    print(f"{written} written in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
