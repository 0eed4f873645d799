import json
from pathlib import Path

import pytest
import torch

from mnist_design.config import ConfigError, config_dir, validate
from mnist_design.training.run import train

GROUPS = (
    "data",
    "model",
    "augment",
    "optimizer",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
    "module",
    "experiment",
    "recipe",
    "step",
    "debug",
)


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (Path(config_dir()) / group).glob("*.yaml"))


CHOICES = [(group, option) for group in GROUPS for option in options(group)]


def test_every_group_has_options() -> None:
    assert all(options(group) for group in GROUPS)
    assert {"skeleton", "bn_dropout", "augmented", "best"} <= set(options("model"))
    assert {"onecycle", "step", "plateau", "none"} <= set(options("scheduler"))


@pytest.mark.parametrize("group, option", CHOICES, ids=[f"{g}={o}" for g, o in CHOICES])
def test_every_documented_option_trains_a_tiny_run(
    compose_cfg, mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, option: str
) -> None:
    """Every option of every group the README lists, trained for real (in process) so none can rot unnoticed."""
    monkeypatch.chdir(tmp_path)  # stores named relative to the launch directory (logger=mlflow) land here
    if option == "gpu" and not torch.cuda.is_available():
        pytest.skip("no GPU here: trainer=gpu can only be composed")
    if option == "ddp":
        pytest.skip("DDP starts processes of its own: test_scale_out runs it on two CPU processes")
    tiny = [
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
    ]
    tested = group in ("experiment", "module")  # the test-time path (figures, TTA) once per preset, not 50 times
    cfg = compose_cfg(f"{group}={option}", *tiny, f"test={tested}")
    assert cfg.hydra.runtime.choices[group] == option
    metrics = train(cfg, Path(cfg.hydra.runtime.output_dir))
    assert metrics["epochs"] == 1 and 0 <= metrics["val_acc"] <= 1
    assert (
        json.loads((Path(cfg.hydra.runtime.output_dir) / "metrics.json").read_text())["val_acc"] == metrics["val_acc"]
    )
    assert ("test_acc" in metrics) == tested


def test_defaults_reproduce_row4(compose_cfg) -> None:
    cfg = compose_cfg()
    choices = cfg.hydra.runtime.choices
    assert (choices.model, choices.augment, choices.scheduler) == ("best", "on", "onecycle")
    assert cfg.trainer.max_epochs == 15 and cfg.data.batch_size == 128


@pytest.mark.parametrize(
    "row, model, augment, scheduler",
    [
        ("row1", "skeleton", None, None),
        ("row2", "bn_dropout", None, None),
        ("row3", "augmented", 7.0, None),
        ("row4", "best", 7.0, "torch.optim.lr_scheduler.OneCycleLR"),
    ],
)
def test_experiment_rows(compose_cfg, row: str, model: str, augment, scheduler) -> None:
    cfg = compose_cfg(f"experiment={row}")
    assert cfg.hydra.runtime.choices.model == model
    assert (cfg.augment.degrees if cfg.augment else None) == augment
    assert (cfg.scheduler._target_ if cfg.scheduler else None) == scheduler


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.max_epochs=0", "trainer.max_epochs"),
        ("data.batch_size=0", "data.batch_size"),
        ("data.val_size=60000", "data.val_size"),
        ("model.dropout=1.0", "model.dropout"),
        ("optimizer.lr=0", "optimizer.lr"),
        ("scheduler.max_lr=-1", "scheduler.max_lr"),
    ],
)
def test_values_out_of_range_are_refused(compose_cfg, override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(compose_cfg(override))


def test_any_lightning_trainer_argument_is_a_plain_override(compose_cfg) -> None:
    from mnist_design.training.factory import trainer

    cfg = compose_cfg("trainer.min_epochs=3", "trainer.accelerator=cpu")
    assert trainer(cfg).fit_loop.min_epochs == 3
    with pytest.raises(Exception, match="min_epoch"):
        compose_cfg("trainer.min_epoch=3")
