"""The runs layer: the one writer and reader of a run's metrics and history files."""

import json
from pathlib import Path

import pytest
from conftest import tiny

from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir


def test_metrics_round_trip_atomically_with_tags(tmp_path: Path) -> None:
    runs.write_metrics(tmp_path, {"val_acc": 0.99, "seed": 3, "tags": {"row": "row4"}})
    run = runs.read_run(tmp_path)
    assert run.metrics["val_acc"] == 0.99 and run.seed == 3 and run.tag("row") == "row4" and run.tag("design") == ""
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    "content, why",
    [(None, "does not exist"), ('{"val_acc": 0.9', "unreadable or truncated"), ("[1, 2]", "is not a JSON object")],
)
def test_an_unusable_metrics_file_is_named(tmp_path: Path, content: str | None, why: str) -> None:
    if content is not None:
        RunDir(tmp_path).metrics.write_text(content)
    with pytest.raises(runs.RunUnreadable, match=why) as error:
        runs.read_run(tmp_path)
    assert str(RunDir(tmp_path).metrics) in str(error.value)


def test_history_keeps_the_last_record_of_each_epoch_and_skips_a_torn_line(tmp_path: Path) -> None:
    path = RunDir(tmp_path).history
    for epoch, acc in ((1, 0.5), (2, 0.6), (2, 0.7), (3, 0.8)):  # a resume appended epoch 2 again
        runs.append_history(
            path, {"epoch": epoch, "train_loss": 1.0, "train_acc": acc, "val_loss": 1.0, "val_acc": acc}
        )
    with open(path, "a") as f:
        f.write('{"epoch": 4, "train_lo')  # killed mid-write
    history = runs.read_history(path)
    assert [(h["epoch"], h["val_acc"]) for h in history] == [(1, 0.5), (2, 0.7), (3, 0.8)]
    assert runs.final_epoch(history) == {"train_loss": 1.0, "train_acc": 0.8, "val_loss": 1.0, "val_acc": 0.8}
    assert runs.final_epoch([]) == {}


def test_collect_finds_runs_at_any_depth_and_names_the_ones_it_cannot_read(tmp_path: Path) -> None:
    runs.write_metrics(tmp_path / "a" / "0_best", {"val_acc": 0.9, "seed": 0, "tags": {}})
    runs.write_metrics(tmp_path / "b", {"val_acc": 0.8, "seed": 1, "tags": {}})
    (tmp_path / "c").mkdir()
    RunDir(tmp_path / "c").metrics.write_text("{")
    found, problems = runs.collect([tmp_path])
    assert sorted(r.metrics["val_acc"] for r in found) == [0.8, 0.9]
    assert len(problems) == 1 and "c/metrics.json" in problems[0]


def test_scalars_and_hparam_metrics_flatten_logged_names() -> None:
    assert runs.scalars({"test/acc": 0.5, "epoch": 3}) == {"test_acc": 0.5}
    assert runs.hparam_metrics({"val_acc": 0.9, "params": 7496, "model": "best"}) == {
        "final/val_acc": 0.9,
        "final/params": 7496.0,
    }
    assert json.dumps(runs.hparam_metrics({})) == "{}"


@pytest.mark.parametrize(
    "metrics, names",
    [
        ({"seed": 0, "tags": {"row": "row4"}, "test_acc": None, "params": 7496}, "test_acc is not a number"),
        ({"accuracy": 0.99}, "is not a run of this project"),
    ],
)
def test_a_null_metric_or_a_foreign_file_is_skipped_with_a_line(tmp_path: Path, metrics: dict, names: str) -> None:
    runs.write_metrics(tmp_path / "bad", metrics)
    found, problems = runs.collect([tmp_path])
    assert found == [] and len(problems) == 1 and names in problems[0] and "bad" in problems[0]


def test_a_debug_run_never_enters_a_result(tmp_path: Path) -> None:
    runs.write_metrics(tmp_path / "fdr", {"seed": 0, "tags": {"row": "row4", "debug": "fdr"}, "test_acc": 0.087})
    found, problems = runs.collect([tmp_path])
    assert found == [] and "debug=fdr" in problems[0]


def test_hparams_hold_every_group_choice_and_every_override_without_a_hand_kept_list(compose_cfg) -> None:
    cfg = compose_cfg("step=padding28", "debug=limit", "augment.p=0.5")
    flat = runs.hparams(cfg)
    assert flat["choice/step"] == "padding28" and flat["choice/debug"] == "limit" and "choice/search_space" not in flat
    assert flat["override/augment.p"] == "0.5" and flat["tag/step"] == "padding28"
    assert not any(key.startswith("choice/hydra") for key in flat)
    # every knob of the composed groups, from the config itself (issue 36: augmentation keys were listed by hand)
    augment = {key for key in cfg.augment if not key.startswith("_")}
    assert {f"augment.{key}" for key in augment} <= set(flat) and flat["augment.p"] == 0.5


def test_the_lr_recorded_for_an_epoch_is_the_lr_it_trained_with(run_entry, mnist_dir: Path, tmp_path: Path) -> None:
    """A per-epoch scheduler steps at the epoch's end: epoch 1 records the lr it trained with, not the next one's."""
    args = [*tiny(mnist_dir), "trainer.max_epochs=2", "scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5"]
    status, _, err = run_entry("mnist_design.train", *args, "optimizer.lr=0.01", "hydra.run.dir=r", cwd=tmp_path)
    assert status == 0, err[-2000:]
    history = runs.read_history(RunDir(tmp_path / "r").history)
    assert [round(h["lr"], 6) for h in history] == [0.01, 0.005]
