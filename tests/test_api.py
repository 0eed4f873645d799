"""The Python API (mnist_design/api.py): the command line's functions, with its one-line errors as exceptions."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny
from PIL import Image

import mnist_design as md
from mnist_design.config import ConfigError
from mnist_design.data.images import UnreadableInput
from mnist_design.errors import UserError
from mnist_design.runs import layout as rundir
from mnist_design.runs.preflight import RunDirRefused


@pytest.fixture(scope="module")
def api_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> md.Run:
    run_dir = tmp_path_factory.mktemp("api") / "row2"
    return md.train(md.compose("experiment=row2", *tiny(mnist_dir), "logger=none", "seed=3", run_dir=run_dir))


def test_compose_gives_what_the_command_line_composes() -> None:
    cfg = md.compose("experiment=row1", "seed=2")
    assert cfg.seed == 2 and cfg.tags.row == "row1" and cfg.model.layers  # the row's own model
    assert "outputs/runs/" in cfg.hydra.runtime.output_dir and "_skeleton_" in cfg.hydra.runtime.output_dir
    assert md.compose(config="search").search.n_trials > 0


@pytest.mark.parametrize(
    "overrides, named",
    [(["model=nope"], "model/nope"), (["trainer.max_epoch=3"], "trainer.max_epoch"), (["seed=x"], "seed")],
)
def test_compose_mistakes_are_one_line_exceptions(overrides: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")) as error:
        md.compose(*overrides)
    assert "\n" not in str(error.value)


def test_train_returns_the_run_it_wrote(api_run: md.Run) -> None:
    assert api_run.metrics["seed"] == 3 and api_run.tag("row") == "row2" and 0 <= api_run.metrics["test_acc"] <= 1
    assert [h["epoch"] for h in api_run.history] == [1]
    assert set(api_run.figures) == {rundir.LEARNING_CURVES, rundir.PREDICTIONS, rundir.CONFUSION_MATRIX}
    assert api_run.checkpoint == api_run.dir.last_checkpoint and api_run.checkpoint.is_file()
    assert api_run.config.seed == 3  # the saved config: resume= and the report read it like a CLI run's


def test_train_refuses_a_directory_that_holds_a_run_and_takes_overrides_directly(api_run: md.Run) -> None:
    with pytest.raises(RunDirRefused, match="already holds a run"):
        md.train(md.compose("experiment=row2", run_dir=api_run.path))
    with pytest.raises(ConfigError, match="give them to compose"):
        md.train(md.compose(), "seed=1")


def test_a_refused_train_leaves_no_directory_behind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.batch_size=0 is not allowed"):
        md.train(md.compose("data.batch_size=0", run_dir=tmp_path / "runs" / "refused"))
    assert list(tmp_path.iterdir()) == []


def test_load_runs_groups_by_tag_as_the_report_does(api_run: md.Run) -> None:
    assert [r.path for r in md.load_runs(api_run.path.parent)] == [api_run.path]
    assert list(md.load_runs(api_run.path.parent, by="row")) == ["row2"]
    with pytest.raises(UserError, match=r"by=rwo is not a tag of these runs; their tags are .*row"):
        md.load_runs(api_run.path.parent, by="rwo")
    with pytest.raises(UserError, match="load_runs: no_such_folder is not a folder"):
        md.load_runs("no_such_folder")


def test_load_runs_of_nothing_says_so(tmp_path: Path) -> None:
    """Issue 46: an empty folder gave [] and an unknown by= on it {} without a word."""
    for by in (None, "candidate"):
        with pytest.raises(UserError, match=r"load_runs: no finished run under .*a finished run has a metrics.json"):
            md.load_runs(tmp_path, by=by)


def test_a_loaded_model_predicts_arrays_images_and_files(
    api_run: md.Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = md.load_model(api_run.checkpoint)
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 13:15] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "one.png")
    found = model.predict([digit, np.stack([digit, digit]), Image.fromarray(255 - digit), tmp_path / "one.png"])
    assert [p.source for p in found] == [
        "array[0]",
        "array[1][0]",
        "array[1][1]",
        "image[2]",
        str(tmp_path / "one.png"),
    ]
    assert all(0 <= p.label <= 9 and len(p.probabilities) == 10 for p in found)
    assert len({p.label for p in found}) == 1  # the same digit, however it was given
    rgb = np.repeat(digit[:, :, None], 3, axis=2)  # one colour image, not 28 images of 28x3
    [coloured] = model.predict(rgb)
    assert coloured.source == "array[0]" and coloured.label == found[0].label
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(UnreadableInput, match=r"inputs\[0\] .*bad\.png: not an image"):
        model.predict(tmp_path / "bad.png")
    blank = np.full((28, 28), np.nan)
    with pytest.raises(UnreadableInput, match=r"array\[1\]: an image array must be non-empty, numeric and finite"):
        model.predict([digit, blank])
    with pytest.raises(UserError, match=r"array\[1\]: no digit found"):
        model.predict([digit, np.zeros((28, 28))])  # a blank image among others is named
    with pytest.raises(UnreadableInput, match=r"array\[0\]: .*non-empty"):
        model.predict(np.zeros((0, 0)))
    # a folder's stray file or blank image is skipped with a line, as the command line goes on past it
    folder = tmp_path / "digits"
    folder.mkdir()
    Image.fromarray(digit).save(folder / "a_one.png")
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(folder / "b_blank.png")
    (folder / "c_notes.txt").write_text("my digits")
    [from_folder] = model.predict(folder)
    assert from_folder.source == str(folder / "a_one.png") and from_folder.label == found[0].label
    said = capsys.readouterr().err
    assert "skipped: " in said and "b_blank.png: no digit found" in said and "c_notes.txt: not an image" in said
    (folder / "a_one.png").unlink()
    with pytest.raises(UnreadableInput, match=r"no image to classify in .*digits"):
        model.predict(str(folder))
    # issue 46: a tensor that requires grad, and a boolean mask, are pixels like any other
    [from_grad] = model.predict(torch.tensor(digit, dtype=torch.float32, requires_grad=True))
    [from_mask] = model.predict(digit > 0)
    assert from_grad.label == from_mask.label == found[0].label


def test_a_checkpoint_whose_net_cannot_be_built_is_one_line(api_run: md.Run, tmp_path: Path) -> None:
    checkpoint = torch.load(api_run.checkpoint, weights_only=False)
    checkpoint["hyper_parameters"]["net"]["_target_"] = "mnist_design.models.net.NoSuchNet"
    torch.save(checkpoint, tmp_path / "unbuildable.ckpt")
    with pytest.raises(UserError, match=r"unbuildable.ckpt: its saved hyper_parameters do not build a model here"):
        md.load_model(tmp_path / "unbuildable.ckpt")


def test_tables_of_a_config_an_override_or_a_model(api_run: md.Run) -> None:
    assert "**7,496**" in md.layer_table("model=best") and "**7,496**" in md.layer_table(
        md.load_model(api_run.checkpoint)
    )
    assert "**GAP**" in md.receptive_field_table(md.compose("model=best"))
    with pytest.raises(ConfigError, match="expected a config"):
        md.layer_table(42)
    with pytest.raises(ConfigError, match=r"model.layers\[9\] = .* shrinks the feature map below 1x1"):
        md.layer_table(md.compose("model=family", "model.stage3=[20,20,20]"))


def test_md_train_stays_the_api_function_once_the_train_command_is_imported() -> None:
    """The in-process tests (conftest.run_entry) and a notebook may import the entry point mnist_design.train: that
    made ``md.train`` the module, and every later ``md.train(...)`` failed: "'module' object is not callable"."""
    import importlib

    from mnist_design import api

    entry = importlib.import_module("mnist_design.train")
    assert md.train is api.train and callable(entry.main)
