from pathlib import Path

import pytest
from conftest import REPO, run_cli

from mnist_design.report import sections, sweeps
from mnist_design.report.groups import by_tag, tutorial_rows
from mnist_design.report.research import Research
from mnist_design.report.stats import Difference
from mnist_design.report.tables import markdown
from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir

RESEARCH = Research.load(REPO / "results")
ROWS = list(RESEARCH.tutorial_rows)


def write_report(found, out_dir: Path, command: str) -> Path:
    return sections.write_report(found, out_dir, command, RESEARCH)


def table_rows(text: str) -> list[list[str]]:
    """Every markdown table line of ``text`` as its cells, padding stripped (an escaped bar stays in its cell)."""
    lines = [line.strip().strip("|").replace("\\|", "\0") for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip().replace("\0", "\\|") for cell in line.split("|")] for line in lines]


def has_row(text: str, *cells: str) -> bool:
    """Some markdown table line of ``text`` starts with these cells."""
    return any(row[: len(cells)] == list(cells) for row in table_rows(text))


def row_cells(text: str, first: str) -> list[str]:
    return next(row for row in table_rows(text) if row[0] == first)


def fake_run(root: Path, name: str, cfg, tags: dict, test_acc: float, seed: int, params: int = 7496) -> Path:
    run = root / name
    runs.write_config(run, cfg, [])
    metrics = {
        "params": params,
        "epochs": 2,
        "seconds": 3.0,
        "train_acc": 0.99,
        "train_loss": 0.03,
        "val_acc": test_acc - 0.001,
        "val_loss": 0.03,
        "test_acc": test_acc,
        "test_loss": 0.02,
        "seed": seed,
        "device": "cpu",
        "tags": tags,
    }
    runs.write_metrics(run, metrics)
    for e in (1, 2):
        runs.append_history(
            RunDir(run).history,
            {
                "epoch": e,
                "train_loss": 0.1 / e,
                "val_loss": 0.1 / e,
                "train_acc": 0.97 + e / 100,
                "val_acc": 0.97 + e / 100,
                "lr": 0.01,
                "seconds": 1.0,
            },
        )
    return run


def two_runs(root: Path, compose_cfg) -> None:
    fake_run(root, "a", compose_cfg("experiment=row1"), {"row": "row1", "title": "basic skeleton"}, 0.9850, 0)
    fake_run(root, "b", compose_cfg("experiment=row4"), {"row": "row4", "title": "+ OneCycleLR (best)"}, 0.9940, 0)


def test_report_groups_by_the_tags_runs_wrote_not_by_names(tmp_path: Path, compose_cfg) -> None:
    two_runs(tmp_path / "sweep", compose_cfg)
    found, problems = runs.collect([tmp_path / "sweep"])
    rows = tutorial_rows(found, ROWS)
    assert problems == [] and [len(rows[r]) for r in ("row1", "row2", "row3", "row4")] == [1, 0, 0, 1]
    report = write_report(found, tmp_path / "out", "python -m mnist_design.report sweep_dirs=[x]").read_text()
    assert has_row(report, "row1 basic skeleton", "7,496", "2", "0", "99.00 (one run)")
    assert "98.50 (one run)" in report and "99.40 (one run)" in report
    assert "test 99.56 / 0.0168" in report  # the tutorial's published number beside ours
    assert "**row2**: no runs collected." in report
    assert has_row(report, "9.0 Conv2d", "[-1, 10, 1, 1]", "160") and has_row(report, "**total**", "", "**7,496**")
    assert has_row(report, "**GAP**", *"6 1 20 20 0 6 1 2 2 18 28".split())
    for png in ("learning_curves.png", "accuracy_vs_parameters.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"


def test_analysis_claims_a_step_only_when_its_paired_interval_excludes_zero(tmp_path: Path, compose_cfg) -> None:
    for seed, (before, after) in enumerate([(0.995, 0.993), (0.994, 0.9925), (0.996, 0.9935)]):
        fake_run(tmp_path / "s", f"a{seed}", compose_cfg(), {"row": "row3"}, before, seed)
        fake_run(tmp_path / "s", f"b{seed}", compose_cfg(), {"row": "row4"}, after, seed)
    fake_run(tmp_path / "s", "c0", compose_cfg(), {"row": "row2"}, 0.990, 0)  # one shared seed: no interval
    found, _ = runs.collect([tmp_path / "s"])
    report = write_report(found, tmp_path / "out", "cmd").read_text()
    assert "**row4** (row4) is worse than row3: test accuracy -0.20 ± " in report and "(3 seeds, worse)" in report
    assert "**row3** (row3) is tied with row2: test accuracy +0.50 pp (1 seed: no interval, tied)" in report


def test_a_truncated_metrics_file_is_named_and_skipped(tmp_path: Path, compose_cfg) -> None:
    two_runs(tmp_path / "sweep", compose_cfg)
    RunDir(tmp_path / "sweep" / "a").metrics.write_text('{"params": 7')
    found, problems = runs.collect([tmp_path / "sweep"])
    assert [r.path.name for r in found] == ["b"]
    assert len(problems) == 1 and "sweep/a/metrics.json is unreadable or truncated" in problems[0]


@pytest.mark.slow
def test_report_command_collects_a_sweep_dir(tmp_path: Path, compose_cfg) -> None:
    two_runs(tmp_path / "sweep", compose_cfg)
    (tmp_path / "sweep" / "c").mkdir()
    RunDir(tmp_path / "sweep" / "c").metrics.write_text("{")
    result = run_cli(
        f"sweep_dirs=[{tmp_path / 'sweep'}]",
        f"out_dir={tmp_path / 'report'}",
        cwd=tmp_path,
        module="mnist_design.report",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "report" / "REPORT.md").is_file()
    assert "skipped: " in result.stderr and "c/metrics.json" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_report_with_nothing_to_collect_fails_clearly(tmp_path: Path) -> None:
    result = run_cli(
        f"sweep_dirs=[{tmp_path}]", f"out_dir={tmp_path / 'report'}", cwd=tmp_path, module="mnist_design.report"
    )
    assert result.returncode == 2 and result.stderr.startswith("error: no finished runs")


def test_report_trains_the_four_rows_itself_when_given_no_runs(run_entry, mnist_dir: Path, tmp_path: Path) -> None:
    overrides = [
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.accelerator=cpu",
    ]
    quoted = ",".join(f'"{o}"' for o in overrides)
    status, _, err = run_entry(  # the report in-process; the train multirun it launches is a subprocess
        "mnist_design.report",
        "seeds=[0]",
        "schedulers=false",
        f"train_overrides=[{quoted}]",
        "out_dir=report",
        cwd=tmp_path,
    )
    assert status == 0, err[-3000:]
    report = (tmp_path / "report" / "REPORT.md").read_text()
    assert has_row(report, "row1 basic skeleton", "7,304") and has_row(report, "row2 + BatchNorm & dropout", "7,496")
    assert "row3" in report and "row4" in report
    assert "no runs" not in report.split("## What each step did")[0]
    assert len(list((tmp_path / "report" / "runs" / "table").glob("*/metrics.json"))) == 4


def test_recipes_and_designs_get_their_own_tables_and_stay_out_of_row4(tmp_path: Path, compose_cfg) -> None:
    for seed, acc in ((0, 0.9950), (1, 0.9940)):
        fake_run(tmp_path / "s", f"base{seed}", compose_cfg(), {"row": "row4"}, acc, seed)
        fake_run(tmp_path / "s", f"ema{seed}", compose_cfg(), {"row": "row4", "recipe": "ema"}, acc + 0.0010, seed)
    fake_run(tmp_path / "s", "d8", compose_cfg(), {"design": "pareto8k"}, 0.9955, 0, params=7100)
    found, _ = runs.collect([tmp_path / "s"])
    assert [r.path.name for r in tutorial_rows(found, ROWS)["row4"]] == ["base0", "base1"]
    assert list(by_tag(found, "recipe")) == ["ema"]
    report = write_report(found, tmp_path / "out", "cmd").read_text()
    assert has_row(report, "ema", "0,1", "99.45 ± 0.07 (min 99.40)", "+0.10 ± 0.00 pp (2 seeds, better)")
    assert has_row(report, "baseline", "0,1", "99.35 ± 0.07 (min 99.30)", "–")
    assert has_row(
        report,
        *["pareto8k", "7,100", "2", "0", "99.45 (one run)", "99.55 (one run)"],
        *["< 8,000 params, mean ≥ 99.55, every seed ≥ 99.45 %", "yes"],
    )
    assert "### pareto8k: layers" in report and "### pareto8k: receptive field" in report


def test_design_steps_are_compared_with_the_base_step_seed_by_seed(tmp_path: Path, compose_cfg) -> None:
    for seed, acc in ((0, 0.9930), (1, 0.9920), (2, 0.9940)):
        fake_run(tmp_path / "s", f"base{seed}", compose_cfg("step=base"), {"step": "base"}, acc, seed)
        fake_run(
            tmp_path / "s",
            f"pad{seed}",
            compose_cfg("step=padding28"),
            {"step": "padding28"},
            acc + 0.0005 * (seed + 1),
            seed,
        )
    report = write_report(runs.collect([tmp_path / "s"])[0], tmp_path / "out", "cmd").read_text()
    assert "## Design step by step" in report
    assert has_row(report, "padding28", "0,1,2", "99.30 ± 0.13 (min 99.20)", "+0.10 ± 0.12 pp (3 seeds, tied)")
    assert has_row(report, "baseline", "0,1,2", "99.20 ± 0.10 (min 99.10)", "–")


def test_a_design_misses_its_target_by_a_stated_margin_when_one_seed_is_low(tmp_path: Path, compose_cfg) -> None:
    for seed, acc in ((0, 0.9970), (1, 0.9960), (2, 0.9940)):
        fake_run(tmp_path / "s", f"d{seed}", compose_cfg(), {"design": "pareto8k"}, acc, seed, params=7100)
    report = write_report(runs.collect([tmp_path / "s"])[0], tmp_path / "out", "cmd").read_text()
    assert has_row(report, "pareto8k", "7,100", "2", "0,1,2")
    assert row_cells(report, "pareto8k")[5:] == [
        "99.57 ± 0.15 (min 99.40)",
        "< 8,000 params, mean ≥ 99.55, every seed ≥ 99.45 %",
        "**no** (min -0.05 pp)",
    ]


def test_the_report_sweeps_each_part_on_its_own_seeds(tmp_path: Path, compose_cfg, monkeypatch) -> None:
    launched = []
    monkeypatch.setattr(sweeps.subprocess, "run", lambda command, check: launched.append(command[4:]))
    cfg = compose_cfg(
        "schedulers=false", "designs=[pareto8k]", "steps=[padding28]", "step_seeds=[0,1]", config_name="report"
    )
    sweeps.train_sweeps(cfg, tmp_path / "runs")
    assert [command[:2] for command in launched] == [
        ["seed=0,1,2", "experiment=row1,row2,row3,row4"],
        ["seed=0,1,2,3,4", "experiment=pareto8k"],
        ["seed=0,1", "step=base,padding28"],
    ]


def test_a_tag_holding_a_bar_stays_one_cell() -> None:
    rendered = markdown(["tag", "acc"], [["a|b", "99.5"]])
    assert rendered.splitlines()[2].split() == ["|", "a\\|b", "|", "99.5", "|"]


def test_a_difference_that_rounds_to_zero_reads_plus_zero_not_minus_zero() -> None:
    assert Difference(-0.00004, -0.001, 0.001, 5).shown().startswith("+0.00 ± 0.10 pp")
    assert Difference(-0.0013, -0.002, -0.0006, 5).shown() == "-0.13 ± 0.07 pp (5 seeds, worse)"
