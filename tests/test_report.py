import json
from pathlib import Path

from omegaconf import OmegaConf

from conftest import run_cli
from mnist_design.report import by_row, collect_runs, write_report


def fake_run(root: Path, name: str, cfg, choices: dict, test_acc: float, seed: int) -> Path:
    run = root / name
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save({"hydra": {"runtime": {"choices": choices}}}, run / ".hydra" / "hydra.yaml")
    OmegaConf.save({"model": cfg.model}, run / ".hydra" / "config.yaml")
    metrics = {"params": 7496, "epochs": 2, "seconds": 3.0, "train_acc": 0.99, "train_loss": 0.03,
               "val_acc": test_acc - 0.001, "val_loss": 0.03, "test_acc": test_acc, "test_loss": 0.02,
               "seed": seed, "device": "cpu"}
    (run / "metrics.json").write_text(json.dumps(metrics))
    history = [{"epoch": e, "train_loss": 0.1 / e, "val_loss": 0.1 / e, "train_acc": 0.97 + e / 100,
                "val_acc": 0.97 + e / 100, "lr": 0.01, "seconds": 1.0} for e in (1, 2)]
    (run / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    return run


def two_runs(root: Path, compose_cfg) -> None:
    fake_run(root, "0_skeleton", compose_cfg("experiment=row1"),
             {"model": "skeleton", "augment": "off", "scheduler": "none"}, 0.9850, 0)
    fake_run(root, "1_best", compose_cfg(), {"model": "best", "augment": "on", "scheduler": "onecycle"}, 0.9940, 0)


def test_report_assembles_from_two_fake_runs(tmp_path: Path, compose_cfg) -> None:
    two_runs(tmp_path / "sweep", compose_cfg)
    runs = collect_runs([tmp_path / "sweep"])
    rows = by_row(runs)
    assert [len(rows[r]) for r in ("row1", "row2", "row3", "row4")] == [1, 0, 0, 1]
    report = write_report(runs, tmp_path / "out", "python -m mnist_design.report sweep_dirs=[x]").read_text()
    assert "| row1 basic skeleton | 7,496 | 2 | 0 | 99.00 ± 0.00 (min 99.00)" in report
    assert "98.50 ± 0.00 (min 98.50)" in report and "99.40 ± 0.00 (min 99.40)" in report
    assert "test 99.56 / 0.0168" in report  # the seed's published number beside ours
    assert "**row2**: no runs collected." in report
    assert "**row4** (+ OneCycleLR (best)) does NOT improve on row3" not in report
    assert "| 9.0 Conv2d | [-1, 10, 1, 1] | 160 |" in report and "**total** | | **7,496**" in report
    assert "| **GAP** | 6 | 1 | 20 | 20 | 0 | 6 | 1 | 2 | 2 | 18 | 28 |" in report
    assert (tmp_path / "out" / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_analysis_says_plainly_when_a_row_does_not_improve(tmp_path: Path, compose_cfg) -> None:
    fake_run(tmp_path / "s", "a", compose_cfg(), {"model": "augmented", "augment": "on", "scheduler": "none"}, 0.995, 0)
    fake_run(tmp_path / "s", "b", compose_cfg(), {"model": "best", "augment": "on", "scheduler": "onecycle"}, 0.993, 0)
    report = write_report(collect_runs([tmp_path / "s"]), tmp_path / "out", "cmd").read_text()
    assert "**row4** (+ OneCycleLR (best)) does NOT improve on row3: test accuracy -0.20 pp" in report


def test_report_command_collects_a_sweep_dir(tmp_path: Path, compose_cfg) -> None:
    two_runs(tmp_path / "sweep", compose_cfg)
    result = run_cli(f"sweep_dirs=[{tmp_path / 'sweep'}]", f"out_dir={tmp_path / 'report'}", cwd=tmp_path,
                     module="mnist_design.report")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "report" / "REPORT.md").is_file()


def test_report_with_nothing_to_collect_fails_clearly(tmp_path: Path) -> None:
    result = run_cli(f"sweep_dirs=[{tmp_path}]", f"out_dir={tmp_path / 'report'}", cwd=tmp_path,
                     module="mnist_design.report")
    assert result.returncode == 2 and result.stderr.startswith("error: no finished runs")


def test_report_trains_the_four_rows_itself_when_given_no_runs(mnist_dir: Path, tmp_path: Path) -> None:
    overrides = [f"data.data_dir={mnist_dir}", "data.train_subset=256", "trainer.max_epochs=1",
                 "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.accelerator=cpu"]
    quoted = ",".join(f'"{o}"' for o in overrides)
    result = run_cli("seeds=[0]", "schedulers=false", f"train_overrides=[{quoted}]", "out_dir=report", cwd=tmp_path,
                     module="mnist_design.report", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "report" / "REPORT.md").read_text()
    for row in ("row1 basic skeleton | 7,304", "row2 + BatchNorm & dropout | 7,496", "row3", "row4"):
        assert row in report
    assert "no runs" not in report.split("## What each step did")[0]
    assert len(list((tmp_path / "report" / "runs" / "table").glob("*/metrics.json"))) == 4


def test_recipes_and_designs_get_their_own_tables_and_stay_out_of_row4(tmp_path: Path, compose_cfg) -> None:
    best = {"model": "best", "augment": "on", "scheduler": "onecycle"}
    for seed, acc in ((0, 0.9950), (1, 0.9940)):
        fake_run(tmp_path / "s", f"base{seed}", compose_cfg(), {**best, "recipe": None}, acc, seed)
        fake_run(tmp_path / "s", f"ema{seed}", compose_cfg(), {**best, "recipe": "ema"}, acc + 0.0010, seed)
    fake_run(tmp_path / "s", "d8", compose_cfg(), {"model": "design8k", "augment": "on", "scheduler": "onecycle",
                                                   "experiment": "design8k"}, 0.9955, 0)
    runs = collect_runs([tmp_path / "s"])
    assert [r.path.name for r in by_row(runs)["row4"]] == ["base0", "base1"]
    report = write_report(runs, tmp_path / "out", "cmd").read_text()
    assert "| ema | 0,1 | 99.45 ± 0.07 (min 99.40) | +0.10 (2 seeds) |" in report
    assert "| baseline | 0,1 | 99.35 ± 0.07 (min 99.30) | – |" in report
    assert "| design8k | 7,496 | 2 | 0 | 99.45 ± 0.00 (min 99.45) | 99.55 ± 0.00 (min 99.55) | < 8,000 params, " \
           "≥ 99.60 % | **no** |" in report
