"""One factory builds every object from config; no entry point is imported by another module."""

import ast
import logging.handlers
import warnings
from pathlib import Path

import pytest
import torch
from conftest import REPO, entry_point_modules
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from torch.utils._pytree import LeafSpec

from mnist_design.training import factory, quiet
from mnist_design.training.checkpoints import CheckpointError

PACKAGE = REPO / "mnist_design"
ENTRY_POINTS = entry_point_modules()


def test_build_gives_data_model_and_a_trainer_that_keeps_last_ckpt_every_epoch(compose_cfg) -> None:
    datamodule, model, trainer = factory.build(compose_cfg())
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and datamodule.augment is not None
    checkpoints = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert [(c.monitor, c.filename) for c in checkpoints] == [("val/acc", "best-epoch{epoch:02d}"), (None, "last")]


def test_callbacks_the_rest_of_the_config_rules_out_are_left_out(compose_cfg) -> None:
    kinds = {type(c) for c in factory.callbacks(compose_cfg("logger=none", "trainer.enable_progress_bar=false"))}
    assert LearningRateMonitor not in kinds and TQDMProgressBar not in kinds and ModelCheckpoint in kinds


def test_a_built_trainer_keeps_library_notes_off_the_console_and_nothing_else(
    compose_cfg,
) -> None:
    """Lightning's cloud-logger tip and torch's LeafSpec FutureWarning (raised in Lightning's code) printed on every
    run; Lightning's other lines, and other FutureWarnings, still come through."""
    lightning_info = logging.getLogger(quiet.LIGHTNING_INFO)
    heard = logging.handlers.BufferingHandler(capacity=100)
    lightning_info.addHandler(heard)
    try:
        factory.lightning_trainer(compose_cfg("logger=none"), logger=False, callbacks=[])
    finally:
        lightning_info.removeHandler(heard)
    said = [record.getMessage() for record in heard.buffer]
    assert any("GPU available" in line for line in said) and not any(quiet.ADVERT in line for line in said)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.hush_library_notes()
        LeafSpec()
        warnings.warn("another library's note", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another library's note"]


def test_cores_are_shared_among_the_jobs_of_one_machine(compose_cfg, monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(factory, "usable_cores", lambda: 8)
        monkeypatch.setenv(factory.JOBS_VARIABLE, "2")
        assert factory.share_cores(compose_cfg()) == 4
        assert factory.share_cores(compose_cfg("threads=3")) == 3
        assert factory.share_cores(compose_cfg("threads=1000")) == 8  # capped at the usable cores, with a warning
        monkeypatch.delenv(factory.JOBS_VARIABLE)
        assert factory.share_cores(compose_cfg("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=4")) == 2
    finally:
        torch.set_num_threads(before)


def test_a_checkpoint_whose_weights_do_not_fit_its_model_is_refused(compose_cfg, tmp_path: Path) -> None:
    model = factory.classifier(compose_cfg())
    state = {k: v for k, v in model.state_dict().items() if "layers.0" not in k}
    torch.save({"hyper_parameters": dict(model.hparams), "state_dict": state}, tmp_path / "x.ckpt")
    with pytest.raises(CheckpointError, match="do not fit the model"):
        factory.classifier_from_checkpoint(tmp_path / "x.ckpt")


def test_compose_run_gives_the_config_an_entry_point_would_get(tmp_path: Path) -> None:
    cfg = factory.compose_run("train", ["experiment=row1"], tmp_path)
    assert cfg.hydra.runtime.choices.model == "skeleton" and cfg.tags.row == "row1"
    assert cfg.callbacks.last_checkpoint.dirpath == f"{tmp_path}/checkpoints"


def test_no_entry_point_is_imported_by_another_module() -> None:
    assert len(ENTRY_POINTS) >= 10  # the scan itself found them
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            imported = {n for n in names if n.startswith("mnist_design.")}
            assert not imported & ENTRY_POINTS, f"{path.name} imports an entry point: {imported & ENTRY_POINTS}"


def test_a_logger_lightning_cannot_make_is_one_line_naming_it(compose_cfg, tmp_path: Path) -> None:
    from omegaconf import OmegaConf, open_dict

    from mnist_design.config import ConfigError

    cfg = compose_cfg("logger=csv")
    with open_dict(cfg):
        cfg.logger = OmegaConf.merge(cfg.logger, {"save_dir": str(tmp_path), "no_such_argument": 1})
    with pytest.raises(ConfigError, match=r"^logger \(lightning.pytorch.loggers.CSVLogger\): .*no_such_argument"):
        factory.logger(cfg)


@pytest.mark.parametrize("missing", ["onnx", "mnist_design.deploy.gone"])
def test_a_missing_extra_is_one_line_naming_it_and_a_missing_module_of_ours_is_not_hidden(
    missing: str, capsys: pytest.CaptureFixture
) -> None:
    from mnist_design.errors import extra_required

    raised = ModuleNotFoundError(f"No module named {missing!r}", name=missing)
    expected = ModuleNotFoundError if missing.startswith("mnist_design") else SystemExit
    with pytest.raises(expected), extra_required("deploy"):
        raise raised
    said = capsys.readouterr().err
    assert ('needs the deploy extra (no module named onnx): pip install -e ".[deploy]"' in said) == (
        expected is SystemExit
    )
