"""The report's markdown tables, rendered by tabulate (pipe tables); each takes groups of runs and returns text.

comparison_table(rows, research)      # the tutorial's table: ours (mean ± std over seeds), each step's paired gain, the
                                      # published run
ablation_table(groups, baseline, "recipe")   # each variant against its baseline on the same seeds
design_table(designs, research)       # searched or published designs against their budget's target
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch.utilities.model_summary import ModelSummary
from tabulate import tabulate
from torch import nn

from mnist_design.report.groups import epochs, seeds, title
from mnist_design.report.research import Research
from mnist_design.report.stats import cell, paired, signed, stats, train_test_gap
from mnist_design.runs.metrics import TEST_ACC, TEST_LOSS, TRAIN_ACC, TRAIN_LOSS, VAL_ACC
from mnist_design.runs.records import Run

SEED_COLUMNS = (TRAIN_ACC, TRAIN_LOSS, VAL_ACC, TEST_ACC, TEST_LOSS)  # the tutorial table's columns


def markdown(header: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A markdown (pipe) table; columns in ``right`` are right-aligned (numbers), text is never parsed as numbers."""
    align = ["right" if i in right else "left" for i in range(len(header))]

    def escaped(value: object) -> str:  # a tag value may hold "|", which would split the cell
        return str(value).replace("|", "\\|")

    body = [[escaped(value) for value in row] for row in rows]
    return tabulate(body, headers=list(header), tablefmt="pipe", colalign=align, disable_numparse=True)


def published_cell(numbers: dict) -> str:
    return (
        f"{numbers['params']}, train {100 * numbers['train_acc']:.2f} / {numbers['train_loss']}, "
        f"test {100 * numbers['test_acc']:.2f} / {numbers['test_loss']}"
    )


def comparison_table(rows: dict[str, list[Run]], research: Research) -> str:
    """The tutorial's table: ours beside the tutorial's run, and each row's paired test gain over the row before it."""
    lines, previous = [], None
    for row, group in rows.items():
        theirs = published_cell(research.tutorial_rows[row])
        if not group:
            lines.append([row, "–", "–", "no runs", *[""] * len(SEED_COLUMNS), "–", theirs])
            continue
        step = paired(group, previous).shown() if previous else "–"
        params = f"{group[0].metrics['params']:,}"
        lines.append(
            [
                title(group, row),
                params,
                epochs(group),
                seeds(group),
                *(cell(group, k) for k in SEED_COLUMNS),
                step,
                theirs,
            ]
        )
        previous = group
    header = ["row", "params", "epochs", "seeds", "train acc %", "train loss", "val acc %", "test acc %", "test loss"]
    step_header = "test gain over the row above (paired, 95 % CI)"
    published_header = "the tutorial's published (params, train acc / loss, test acc / loss)"
    return markdown([*header, step_header, published_header], lines, right=(1, 2))


def analysis(rows: dict[str, list[Run]]) -> list[str]:
    """One line per row vs the previous row: its paired test difference (a gain only where the 95 % interval
    excludes zero) and the change in the train-test gap."""
    lines, previous = [], None
    for row, group in rows.items():
        if not group:
            lines.append(f"- **{row}**: no runs collected.")
            continue
        test, gap = stats(group, TEST_ACC)[0], train_test_gap(group)
        label = f"**{row}** ({group[0].tag('title') or row})"
        if previous is None:
            lines.append(f"- {label}: test accuracy {100 * test:.2f} %, train−test gap {signed(100 * gap)} pp.")
        else:
            name, before, before_gap = previous
            step = paired(group, rows[name])
            verdict = step.verdict("improves on", "is worse than").replace("tied", "is tied with")
            lines.append(
                f"- {label} {verdict} {name}: test accuracy {step.shown()} "
                f"({100 * before:.2f} → {100 * test:.2f} %); train−test gap {signed(100 * (gap - before_gap))} "
                f"pp ({signed(100 * before_gap)} → {signed(100 * gap)})."
            )
        previous = (row, test, gap)
    return lines


def ablation_table(groups: dict[str, list[Run]], baseline: Sequence[Run], what: str) -> str:
    """Each variant against the baseline on the same seeds, ranked on validation accuracy."""
    ranked = sorted({**groups, "baseline": list(baseline)}.items(), key=lambda item: -stats(item[1], VAL_ACC)[0])
    lines = []
    for name, group in ranked:
        shown = "–" if name == "baseline" else paired(group, baseline, VAL_ACC).shown()
        lines.append([name, seeds(group), cell(group, VAL_ACC), shown, cell(group, TEST_ACC)])
    header = [what, "seeds", "val acc %", "Δ val vs baseline, same seeds (95 % CI)", "test acc % (reported, not used)"]
    return markdown(header, lines, right=(3,))


def design_table(designs: dict[str, list[Run]], research: Research) -> str:
    lines = []
    for name, group in sorted(designs.items(), key=lambda item: item[1][0].metrics["params"]):
        params = int(group[0].metrics["params"])
        budget = research.budget_of(params)
        goal = f"< {budget:,} params, mean {research.goal(budget)} %" if budget else "–"
        met = research.verdict(params, [float(r.metrics[TEST_ACC]) for r in group])
        lines.append(
            [
                name,
                f"{params:,}",
                epochs(group),
                seeds(group),
                cell(group, VAL_ACC),
                cell(group, TEST_ACC),
                goal,
                met,
            ]
        )
    header = ["design", "params", "epochs", "seeds", "val acc %", "test acc %", "target (mean test acc)", "met"]
    return markdown(header, lines, right=(1, 2))


def all_runs_table(found: Sequence[Run]) -> str:
    """Every run, best validation accuracy first: a sweep (or a search) summarised."""
    lines = []
    ranked = sorted(found, key=lambda r: r.metrics.get(VAL_ACC, float("-inf")), reverse=True)
    for rank, run in enumerate(ranked, 1):
        m = run.metrics
        test = f"{100 * m['test_acc']:.2f}" if TEST_ACC in m else "–"
        tags = " ".join(f"{k}={v}" for k, v in run.tags.items() if k != "title")
        val = f"{100 * m.get('val_acc', float('nan')):.2f}"
        lines.append(
            [
                rank,
                val,
                test,
                f"{m.get('params', 0):,}",
                m.get("epochs"),
                f"{m.get('seconds', 0):.0f}",
                tags,
                run.path.name,
            ]
        )
    return markdown(
        ["#", "val acc %", "test acc %", "params", "epochs", "seconds", "tags", "run"], lines, right=range(6)
    )


def layer_table(model: nn.Module, prefix: str = "net.layers.") -> str:
    """The tutorial-style summary: each leaf layer under ``prefix``, its output shape and parameter count."""
    summary = ModelSummary(model, max_depth=-1)
    lines = []
    for name, kind, out, params in zip(summary.layer_names, summary.layer_types, summary.out_sizes, summary.param_nums):
        if name.startswith(prefix) and kind != "Sequential":
            shape = ", ".join(str(v) for v in [-1, *out[1:]])  # the tutorial's torchsummary style: -1 for the batch
            lines.append([f"{name.removeprefix(prefix)} {kind}", f"[{shape}]", f"{params:,}"])
    lines.append(["**total**", "", f"**{summary.total_parameters:,}**"])
    return markdown(["layer (type)", "output shape", "params"], lines, right=(2,))
