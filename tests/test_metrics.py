"""The metric registry is the one place a metric is named: a throwaway metric reaches every consumer."""

from pathlib import Path

import pytest
import torch
from torchmetrics import MaxMetric

from mnist_design.runs import figures, metrics
from mnist_design.runs import records as runs
from mnist_design.training import module
from mnist_design.training.callbacks import EpochSummary


@pytest.fixture
def with_max_loss(monkeypatch: pytest.MonkeyPatch) -> metrics.MetricSpec:
    spec = metrics.MetricSpec("maxloss", MaxMetric, update="loss", percent=False, direction="minimize")
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, spec))
    return spec


def test_a_registered_metric_is_logged_recorded_and_drawn(compose_cfg, with_max_loss, tmp_path: Path) -> None:
    cfg = compose_cfg()
    classifier = module.MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=None)
    assert "val_maxloss" in classifier.metrics
    assert "val_maxloss" in metrics.epoch_keys() and "test_maxloss" in metrics.hparam_keys()
    assert metrics.metric("val/maxloss").direction == "minimize"
    history = [{"epoch": 1, "lr": 0.1, **{key: 0.5 for key in metrics.epoch_keys()}}]
    assert len(figures.learning_curves({"run": history}).axes) == 4  # loss, acc, maxloss, lr
    assert runs.scalars({"val/maxloss": torch.tensor(0.5)}) == {"val_maxloss": 0.5}


def test_an_unknown_metric_names_the_allowed_ones() -> None:
    with pytest.raises(KeyError, match="allowed: train/loss"):
        metrics.metric("val/accc")


def test_the_epoch_line_and_history_come_from_the_registry() -> None:
    assert EpochSummary  # the callback reads METRICS for its line and record; this pins the default keys
    assert metrics.epoch_keys() == ("train_loss", "train_acc", "val_loss", "val_acc")


def test_the_loss_is_a_mean_over_images_so_a_short_last_batch_counts_by_its_size() -> None:
    spec = metrics.metric("val/loss")
    measured = spec.factory()
    for loss, size in ((2.0, 32), (1.0, 8)):
        spec.feed(measured, torch.tensor(loss), torch.zeros(size, 10), torch.zeros(size, dtype=torch.long))
    assert measured.compute().item() == pytest.approx((2.0 * 32 + 1.0 * 8) / 40)


def test_an_epoch_without_validation_shows_no_val_values(capsys: pytest.CaptureFixture) -> None:
    """The bench and check_val_every_n_epoch train epochs with no validation: the line leaves val out, not 'nan'."""
    from types import SimpleNamespace

    logged = {metrics.logged_name("train", spec): torch.tensor(0.5) for spec in metrics.METRICS if spec.curve}
    trainer = SimpleNamespace(
        callback_metrics=logged,
        datamodule=SimpleNamespace(hparams={}),
        max_epochs=2,
        current_epoch=0,
        progress_bar_callback=None,
    )
    EpochSummary().on_train_epoch_end(trainer, None)
    line = capsys.readouterr().out
    assert line.startswith("epoch  1/2  train loss 0.5000 acc 50.00%  lr") and "val" not in line, line
