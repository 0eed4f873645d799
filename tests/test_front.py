"""README's front table is exactly what the project renders from the committed results/, so it cannot drift."""

import shutil
from pathlib import Path

from conftest import REPO, journal_study
from omegaconf import OmegaConf

from mnist_design import runs
from mnist_design.config import model_parameters
from mnist_design.factory import compose_run
from mnist_design.report import front
from mnist_design.report.research import RESEARCH_FILE


def test_readme_front_table_is_what_results_render() -> None:
    readme = (REPO / "README.md").read_text()
    assert front.readme_block(readme) == front.render(REPO / "results")


def test_the_front_groups_finals_by_design_and_judges_them_against_their_budget(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    for seed, acc in enumerate([0.9950, 0.9940]):
        runs.write_metrics(
            tmp_path / "runs" / f"woolly_{seed}",
            {"seed": seed, "params": 3692, "test_acc": acc, "tags": {"design": "published_woolly"}},
        )
    runs.write_metrics(
        tmp_path / "runs" / "debug",
        {"seed": 0, "params": 3692, "test_acc": 0.1, "tags": {"design": "published_woolly", "debug": "fdr"}},
    )
    [row] = front.Front.load(tmp_path).rows()
    assert row[:4] == ["< 5,000", "published_woolly", "3,692", "0,1"]
    assert row[4] == "99.45 ± 0.07 (min 99.40)" and row[5] == "99.52 (3,762 params)"
    assert row[6:] == ["≥ 99.45", "yes"]
    assert "published_woolly" in front.render(tmp_path)
    assert front.with_block(f"a {front.BEGIN}\nold\n{front.END} b", "new") == f"a {front.BEGIN}\nnew\n{front.END} b"


def test_the_selection_table_in_results_readme_is_the_summary() -> None:
    """results/README.md quotes each study's selection; every quoted number is the one summary.yaml holds."""
    text = (REPO / "results" / "README.md").read_text()
    for summary_file in sorted((REPO / "results" / "studies").glob("*/summary.yaml")):
        selection = OmegaConf.load(summary_file).selection
        for row in selection.candidates:
            cells = next(
                [c.strip() for c in line.strip("|").split("|")]
                for line in text.splitlines()
                if line.startswith(f"| {row.trial} |")
            )
            seeds = " / ".join(f"{100 * row.per_seed[s]:.2f}" for s in selection.seeds)
            assert [cells[1], cells[2], cells[3].strip("*")] == [f"{row.params:,}", seeds, f"{100 * row.mean:.2f}"]
        assert f"finalist trial {selection.finalist}" in text


RECIPE = ("model", "optimizer", "scheduler", "augment", "data.batch_size", "trainer.max_epochs", "budget")


def test_each_finalist_preset_trains_the_trial_its_study_selected() -> None:
    """conf/experiment/pareto<N>k.yaml is the point summary.yaml names as finalist: design and recipe, key by key."""
    presets = {OmegaConf.load(p).budget: p.stem for p in (REPO / "conf" / "experiment").glob("pareto*.yaml")}
    checked = 0
    for summary_file in sorted((REPO / "results" / "studies").glob("*/summary.yaml")):
        selection = OmegaConf.load(summary_file).selection
        if not (selection and selection.finished):
            continue
        budget = int(journal_study(summary_file.parent).user_attrs["budget"])  # recorded when the study began
        [finalist] = [row for row in selection.candidates if row.trial == selection.finalist]
        searched = compose_run("search", [f"budget={budget}", *finalist.overrides])
        preset = compose_run("train", [f"experiment={presets[budget]}"])
        for key in RECIPE:
            assert OmegaConf.select(preset, key) == OmegaConf.select(searched, key), (presets[budget], key)
        assert model_parameters(preset) == finalist.params
        checked += 1
    assert checked  # design_2000's selection is committed


def test_the_front_command_writes_into_results_dir_and_makes_no_report_dir(tmp_path: Path) -> None:
    """Hydra makes its run directory before the command runs: with front=true that is results_dir itself."""
    front_cfg = compose_run("report", ["front=true", f"results_dir={tmp_path}", "out_dir=elsewhere"])
    assert front_cfg.hydra.run.dir == str(tmp_path)
    assert compose_run("report", [f"results_dir={tmp_path}", "out_dir=elsewhere"]).hydra.run.dir == "elsewhere"
