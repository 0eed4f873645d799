"""README's front table is exactly what the project renders from the committed results/, so it cannot drift."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REPO
from torchvision.datasets import MNIST

import mnist_design as md
from mnist_design import generated as blocks
from mnist_design.models.net import parameter_count
from mnist_design.report import curve, front, pages, reruns, study_tables
from mnist_design.report.research import RESEARCH_FILE
from mnist_design.runs import records as runs
from mnist_design.runs.layout import FILES
from mnist_design.training.factory import compose_run

# .gitignore commits seed 0's checkpoint of each design and row (other seeds' may be here while they train)
COMMITTED_CHECKPOINTS = sorted((REPO / "results" / front.RUNS_DIR).glob(f"*/seed_0/{FILES['last_checkpoint']}"))


def test_readme_blocks_are_what_results_render() -> None:
    """README and docs/results.md hold exactly what `report front=true` renders from results/, each block once."""
    texts = [(REPO / "README.md").read_text(), (REPO / pages.RESULTS_PAGE).read_text()]
    for block, text in front.render(REPO / "results").items():
        [page] = [page for page in texts if blocks.markers(block)[0] in page]
        assert blocks.readme_block(page, block) == text, block


def test_results_readme_reruns_table_is_what_the_reruns_render() -> None:
    text = (REPO / "results" / study_tables.README_FILE).read_text()
    assert blocks.readme_block(text, "reruns") == reruns.block(REPO / "results")


def write_design(
    results: Path, name: str, params: int, test_accs: list[float], val_offset: float = 0.0, first_seed: int = 0
) -> None:
    """One design's finals: a run per seed with its test accuracy, and validation accuracy just below it."""
    for seed, acc in enumerate(test_accs, start=first_seed):
        runs.write_metrics(
            results / "runs" / f"{name}_{seed}",
            {
                "seed": seed,
                "params": params,
                "epochs": 15,
                "test_acc": acc,
                "val_acc": acc - 0.001 + val_offset,
                "tags": {"design": name},
            },
        )


def test_the_front_groups_finals_by_design_and_judges_them_against_their_budget(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "published_woolly", 3692, [0.9950, 0.9940])
    runs.write_metrics(
        tmp_path / "runs" / "debug",
        {"seed": 0, "params": 3692, "test_acc": 0.1, "tags": {"design": "published_woolly", "debug": "fdr"}},
    )
    [row] = front.Front.load(tmp_path).rows()
    assert row[:5] == ["< 5,000", "published_woolly", "published", "3,692", "0,1"]
    assert row[5] == "99.45 ± 0.07 (min 99.40)" and row[8] == "99.52 (3,762 params)"
    assert row[6:8] == ["–", "– (the best baseline)"] and row[9:] == ["≥ 99.45", "yes"]
    assert "published_woolly" in front.render(tmp_path)["front"]
    begin, end = blocks.markers("front")
    assert blocks.with_block(f"a {begin}\nold\n{end} b", "front", "new") == f"a {begin}\nnew\n{end} b"


def test_the_front_pairs_each_design_with_the_one_above_and_the_best_baseline_and_says_tied(tmp_path: Path) -> None:
    """The tutorial's design is a baseline at its budget; the best baseline is chosen on validation, not on test; a
    design rendered from fewer seeds says so."""
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    for seed, acc in enumerate([0.9950, 0.9945, 0.9955]):
        runs.write_metrics(
            tmp_path / "runs" / f"row4_{seed}",
            {"seed": seed, "params": 7496, "test_acc": acc, "val_acc": 0.999, "tags": {"row": "row4"}},
        )
    write_design(tmp_path, "published_snehanshu", 7918, [0.9960, 0.9955, 0.9965])  # higher test, lower val
    write_design(tmp_path, "ours", 7000, [0.9951, 0.9947, 0.9954])
    write_design(tmp_path, "few", 19000, [0.9970])
    rows = {row[1]: row for row in front.Front.load(tmp_path).rows()}
    assert rows["row4"][2] == "the tutorial's design" and rows["row4"][7] == "– (the best baseline)"
    assert rows["ours"][7].startswith("`row4`: +0.01 ± ") and rows["ours"][7].endswith("(3 seeds, tied)")
    assert rows["published_snehanshu"][6].startswith("`row4`: +0.10 ± 0.00 pp (3 seeds, better)")
    assert rows["few"][4] == "0 (only 1 of 3)" and "1 seed: no interval, tied" in rows["few"][6]


def test_an_earlier_finalist_is_a_baseline_once_a_later_finalist_of_its_budget_has_finals(tmp_path: Path) -> None:
    """pareto8k and pareto8k_v1 are crossed by conf/search_space/design.yaml: searched designs while no later
    finalist has finals, then baselines the new one is paired against."""
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "pareto8k", 7308, [0.9945, 0.9940, 0.9950])
    write_design(tmp_path, "pareto8k_v1", 7376, [0.9935, 0.9930, 0.9940])
    before = front.Front.load(tmp_path)
    assert [before.kind(d) for d in before.order()] == [front.SEARCHED, front.SEARCHED]
    write_design(tmp_path, "pareto8k_v3", 7600, [0.9955, 0.9950, 0.9960], val_offset=0.001)
    after = front.Front.load(tmp_path)
    assert [after.kind(d) for d in after.order()] == [front.EARLIER, front.EARLIER, front.SEARCHED]
    table = after.baseline_table()
    assert "| pareto8k_v3       | pareto8k    | earlier finalist | +0.10 ± 0.00 pp (3 seeds, better)" in table
    assert "pareto8k_v3       | pareto8k_v1" in table
    assert {row[1]: row[7] for row in after.rows()}["pareto8k_v3"].startswith("`pareto8k`: +0.10")


def test_a_design_with_fewer_seeds_does_not_stand_for_its_budget(tmp_path: Path) -> None:
    """A baseline whose finals are still running (one seed, a lucky one) is shown but is not the best baseline and
    does not stand for its budget on the front."""
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "published_snehanshu", 7918, [0.9940, 0.9935, 0.9945])
    write_design(tmp_path, "published_woolly", 3692, [0.9920, 0.9915, 0.9925])
    write_design(tmp_path, "published_pradeep", 7900, [0.9990], val_offset=0.005)  # here an 8k baseline, one seed
    loaded = front.Front.load(tmp_path)
    assert loaded.best_baseline(8000) == "published_snehanshu"
    assert [p.name for p in loaded.candidates()] == ["published_woolly", "published_snehanshu"]


def test_seeds_added_to_a_tied_pair_enter_its_paired_difference_only(tmp_path: Path) -> None:
    """Seeds 5-9 on both designs of a tie resolve it; the designs' means and seeds stay those of the finals, the
    answer says which seeds were added, and a seed past the cap is left out with a line naming its file."""
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "small", 3700, [0.9930, 0.9935, 0.9925, 0.9930, 0.9935])
    write_design(tmp_path, "large", 7300, [0.9940, 0.9930, 0.9945, 0.9925, 0.9940])
    tied = {row[1]: row for row in front.Front.load(tmp_path).rows()}["large"]
    assert tied[6].startswith("`small`: +0.05 ± ") and tied[6].endswith("(5 seeds, tied)")
    write_design(tmp_path, "small", 3700, [0.9900] * 5, first_seed=5)
    write_design(tmp_path, "large", 7300, [0.9950, 0.9955, 0.9950, 0.9945, 0.9950], first_seed=5)
    write_design(tmp_path, "large", 7300, [0.9999], first_seed=12)
    loaded = front.Front.load(tmp_path)
    large = {row[1]: row for row in loaded.rows()}["large"]
    assert large[4] == "0,1,2,3,4 (+5,6,7,8,9 in paired Δ only)" and large[5].startswith("99.36 ± ")
    assert large[6].endswith("(10 seeds, better)")
    assert [line for line in loaded.skipped if "seed 12 is past the cap of 10 seeds" in line]
    said = " ".join(loaded.answer())
    assert "Seeds 5, 6, 7, 8, 9 were added to `small` and `large`" in said
    assert "targets stay over seeds 0, 1, 2, 3, 4" in said


def test_the_rows_block_puts_each_committed_row_beside_the_seeds_own_run(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    metrics = {"params": 7496, "epochs": 15, "train_acc": 0.99, "train_loss": 0.02, "val_acc": 0.995}
    for seed, acc in enumerate([0.9940, 0.9930]):
        runs.write_metrics(
            tmp_path / "runs" / f"row4_{seed}",
            {**metrics, "seed": seed, "test_acc": acc, "test_loss": 0.02, "tags": {"row": "row4", "title": "best"}},
        )
    loaded = front.Front.load(tmp_path)
    assert [len(group) for group in loaded.tutorial_rows.values()] == [0, 0, 0, 2] and list(loaded.designs) == ["row4"]
    table = loaded.rows_table()
    assert "| row4 best" in table and "99.35 ± 0.07 (min 99.30)" in table and "test 99.56" in table
    assert "| row1 " in table and "no runs" in table


def test_results_readme_study_tables_are_what_the_committed_studies_render() -> None:
    """results/README.md's study table and each finished selection: every number is the one its journal or
    summary.yaml holds."""
    text = (REPO / "results" / study_tables.README_FILE).read_text()
    tables = study_tables.blocks(REPO / "results")
    assert "selection_design_2000" in tables  # design_2000's selection is committed
    for block, table in tables.items():
        assert blocks.readme_block(text, block) == table, block


def test_a_selection_table_ranks_by_mean_and_names_the_finalist_and_the_best_single_trial() -> None:
    row = {"params": 1500, "reached_epoch": 15, "overrides": []}
    summary = {
        "best": {"trial": 3},
        "selection": {
            "seeds": [0, 1],
            "monitor": "val/acc",
            "finalist": 7,
            "candidates": [
                {**row, "trial": 3, "per_seed": {0: 0.99, 1: 0.97}, "mean": 0.98},
                {**row, "trial": 7, "per_seed": {0: 0.985, 1: 0.985}, "mean": 0.985, "reached_epoch": 4},
                {**row, "trial": 0, "per_seed": {0: 0.95, 1: 0.95}, "mean": 0.95, "published": "published_warn"},
            ],
        },
    }
    lines = study_tables.table(summary).splitlines()
    assert "val/acc by seed 0 / 1" in lines[0]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [c[0] for c in cells] == ["7", "3", "0"]
    assert cells[0][2:] == ["4", "98.50% / 98.50%", "**98.50%**", "**the finalist**; searched"]
    assert cells[1][5] == "searched; the best single trial of the search"
    assert cells[2][5] == "`published_warn` with its own recipe"


def test_the_front_command_writes_into_results_dir_and_makes_no_report_dir(tmp_path: Path) -> None:
    """Hydra makes its run directory before the command runs: with front=true that is results_dir itself."""
    front_cfg = compose_run("report", ["front=true", f"results_dir={tmp_path}", "out_dir=elsewhere"])
    assert front_cfg.hydra.run.dir == str(tmp_path)
    assert compose_run("report", [f"results_dir={tmp_path}", "out_dir=elsewhere"]).hydra.run.dir == "elsewhere"


def points(tmp_path: Path, designs: dict[str, tuple[int, list[float]]]) -> list[curve.Point]:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    for name, (params, accs) in designs.items():
        write_design(tmp_path, name, params, accs)
    loaded = front.Front.load(tmp_path)
    return [loaded.point(name) for name in designs]


def test_the_knee_is_the_point_furthest_above_the_chord_in_log_parameters(tmp_path: Path) -> None:
    bends = [curve.Point("a", 1000, 0.980), curve.Point("b", 2000, 0.990), curve.Point("c", 8000, 0.992)]
    assert curve.knee(bends) == bends[1]
    climbs = [curve.Point("a", 1000, 0.980), curve.Point("b", 2000, 0.981), curve.Point("c", 4000, 0.990)]
    assert curve.knee(climbs) is None and curve.knee(bends[:2]) is None


def test_a_design_joins_the_front_only_where_its_gain_is_resolved(tmp_path: Path) -> None:
    small, tied, beaten, big = points(
        tmp_path,
        {
            "small": (1000, [0.980, 0.981, 0.982]),
            "tied": (2000, [0.982, 0.979, 0.983]),  # +0.00 on average, an interval around zero
            "beaten": (3000, [0.975, 0.976, 0.977]),
            "big": (4000, [0.990, 0.991, 0.993]),
        },
    )
    assert curve.resolved_front([small, tied, beaten, big]) == [small, big]


def test_the_answer_takes_one_design_per_budget_by_validation_and_names_the_knee(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "tiny_a", 937, [0.990, 0.991, 0.989], val_offset=-0.02)  # best test, worse validation
    write_design(tmp_path, "tiny_b", 947, [0.980, 0.981, 0.9805])
    write_design(tmp_path, "two", 1900, [0.990, 0.9905, 0.9895])
    write_design(tmp_path, "five", 4900, [0.9925, 0.9930, 0.9922])
    loaded = front.Front.load(tmp_path)
    assert [p.name for p in loaded.curve()] == ["tiny_b", "two", "five"]  # tiny_a: its budget's worse validation
    verdict, *evidence = loaded.answer()
    assert verdict.startswith("**At ") and "about 1,900 parameters**: past the knee, `two` (1,900 " in verdict
    assert [line for line in evidence if line.startswith("The knee is `two` (1,900 parameters, 99.00 %): from 947")]
    [nothing] = front.Front.load(tmp_path / "nothing", loaded.research).answer()
    assert "no curve yet" in nothing


def test_two_points_on_the_front_make_no_knee_and_a_tie_is_named(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "one", 900, [0.985, 0.986, 0.984])
    write_design(tmp_path, "two", 1900, [0.984, 0.987, 0.985])
    write_design(tmp_path, "five", 4000, [0.992, 0.993, 0.9925])
    answer = " ".join(front.Front.load(tmp_path).answer())
    assert "The front: `one` (900 parameters, 98.50 %), `five`" in answer
    assert (
        "Not on the front, not resolved above a smaller design: `two` (1,900 parameters, 98.53 %), +0.03 ± " in answer
    )
    assert "two points make no bend" in answer and "The knee is" not in answer and "900 → 4,000: +0.35 ± " in answer


def test_a_committed_journal_that_is_not_a_study_is_one_line_naming_it(tmp_path: Path) -> None:
    journal = tmp_path / study_tables.STUDIES_DIR / "design_x" / "journal.log"
    journal.parent.mkdir(parents=True)
    journal.write_text("not a journal\n")
    with pytest.raises(study_tables.StudyUnreadable, match=r"design_x/journal\.log: cannot read the study in it"):
        study_tables.state_table(tmp_path, {})


def test_every_committed_checkpoint_is_the_trained_model_of_the_run_it_sits_in(mnist_dir: Path) -> None:
    """Each finalist's last.ckpt loads from itself alone, has its run's parameter count, and scores the first 1,000
    test images about as its run scored the whole test set: predict and evaluate work right after a clone."""
    test = MNIST(str(mnist_dir), train=False)
    pixels, labels = test.data[:1000].float() / 255, test.targets[:1000]
    assert len(COMMITTED_CHECKPOINTS) >= 10  # one per design and row (results/README.md)
    for checkpoint in COMMITTED_CHECKPOINTS:
        metrics = runs.read_metrics(checkpoint.parent.parent)
        model = md.load_model(checkpoint)
        assert parameter_count(model.classifier) == metrics["params"], checkpoint
        with torch.no_grad():
            predicted = model.classifier(((pixels - model.mean) / model.std)[:, None]).argmax(dim=1)
        accuracy = (predicted == labels).float().mean().item()
        assert abs(accuracy - metrics["test_acc"]) < 0.02, (checkpoint, accuracy)  # 1,000 images: ~0.4 pp std


def test_the_front_names_every_run_it_cannot_use_and_its_row_says_it_has_fewer_seeds(tmp_path: Path) -> None:
    shutil.copy(REPO / "results" / RESEARCH_FILE, tmp_path / RESEARCH_FILE)
    write_design(tmp_path, "ours", 3000, [0.990, 0.991, 0.992])
    write_design(tmp_path, "theirs", 3500, [0.990, 0.991, 0.992])
    (tmp_path / "runs" / "ours_1" / "metrics.json").write_text('{"params": 30')  # a truncated record
    runs.write_metrics(
        tmp_path / "runs" / "ours_2", {"seed": 2, "params": 3000, "test_acc": float("nan"), "tags": {"design": "ours"}}
    )
    (tmp_path / "runs" / "theirs" / "seed_3").mkdir(parents=True)  # a final whose metrics.json is gone
    loaded = front.Front.load(tmp_path)
    assert len(loaded.skipped) == 3 and any("theirs/seed_3/metrics.json: missing" in s for s in loaded.skipped)
    assert any("ours_1/metrics.json is unreadable or truncated" in line for line in loaded.skipped)
    assert any("ours_2/metrics.json: test_acc is nan" in line for line in loaded.skipped)
    rows = {row[1]: row for row in loaded.rows()}
    assert rows["ours"][4] == "0 (only 1 of 3)" and rows["theirs"][4] == "0,1,2"


@pytest.mark.parametrize(
    "summary, names",
    [("selection: [unclosed\n", "not a study summary"), ("selection: {finished: true}\n", "its selection lacks")],
)
def test_a_malformed_or_short_summary_is_one_line_naming_it(tmp_path: Path, summary: str, names: str) -> None:
    summary_file = tmp_path / study_tables.STUDIES_DIR / "design_x" / "summary.yaml"
    summary_file.parent.mkdir(parents=True)
    summary_file.write_text(summary)
    with pytest.raises(study_tables.StudyUnreadable, match=names):
        study_tables.blocks(tmp_path)


def test_the_gpu_block_pairs_the_gpu_runs_with_the_cpu_runs_and_shows_the_bench(tmp_path: Path) -> None:
    from mnist_design.bench.paths import BENCH_FILE
    from mnist_design.report import gpu

    assert "No GPU records" in gpu.block(tmp_path, [])  # a session without a GPU wrote none
    folder = tmp_path / gpu.GPU_DIR
    (folder / gpu.BENCH_DIR).mkdir(parents=True)
    (folder / gpu.CARD_FILE).write_text("NVIDIA H200, 580.1, 143771 MiB\n\ntorch   2.11\n")
    for seed, (on_gpu, on_cpu) in enumerate([(0.9940, 0.9950), (0.9945, 0.9948), (0.9950, 0.9946)]):
        for device, acc, folder_runs in (("cuda:0", on_gpu, folder / gpu.DEFAULT_RUNS), ("cpu", on_cpu, tmp_path)):
            metrics = {"seed": seed, "params": 7496, "test_acc": acc, "seconds": 10.0 + seed, "tags": {}}
            runs.write_metrics(folder_runs / f"seed_{seed}", {**metrics, "device": device, "hardware": device.upper()})
    cpu_runs, _ = runs.collect([tmp_path / f"seed_{s}" for s in range(3)])
    medians = {name: 100.0 * (i + 1) for i, name in enumerate("ABCD")}
    bench = {"flops_per_image": 1e6, "median": medians, "ratio_vs_raw_loop": 0.5}
    (folder / gpu.BENCH_DIR / BENCH_FILE).write_text(json.dumps(bench))
    text = gpu.block(tmp_path, cpu_runs)
    assert text.startswith("The card: NVIDIA H200, 580.1, 143771 MiB; torch 2.11.")
    assert "| cuda:0 " in text and "| cpu " in text and "0,1,2" in text and "11 (10–12)" in text
    assert "GPU − CPU, paired by seed: -0.03 ±" in text and "tied" in text
    assert "`ratio_vs_raw_loop=0.50`" in text and re.search(r"the tutorial's notebook .*\| +400 \| +0\.4 \|", text)


def test_a_damaged_gpu_record_is_named_and_left_out_never_a_crash(tmp_path: Path) -> None:
    """Issue 46: a truncated bench.json, a non-UTF-8 card.txt or a seed that is not a number ended the report on an
    unhandled error naming no file."""
    from mnist_design.report import gpu

    shutil.copytree(REPO / "results" / gpu.GPU_DIR, tmp_path / gpu.GPU_DIR)
    folder = tmp_path / gpu.GPU_DIR
    (folder / gpu.CARD_FILE).write_bytes(b"\xff\xfe not utf-8")
    bench = folder / gpu.BENCH_DIR / "bench.json"
    bench.write_text(bench.read_text()[:100])
    record = folder / gpu.DEFAULT_RUNS / "seed_1" / "metrics.json"
    metrics = json.loads(record.read_text())
    record.write_text(json.dumps({**metrics, "seed": "two"}))
    text = gpu.block(tmp_path, [])
    assert f"unreadable ({folder / gpu.CARD_FILE}: UnicodeDecodeError)" in text
    assert f"Left out: {bench}: unreadable or incomplete (JSONDecodeError" in text
    assert f"Left out: {record}: seed is 'two', not a whole number" in text
    assert "0,2,3,4" in text  # the other seeds still shown
