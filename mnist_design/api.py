"""The project from Python: the functions the command line runs, for a notebook or a script.

    import mnist_design as md
    cfg = md.compose("experiment=row2", "seed=1")   # exactly what `python -m mnist_design.train ...` composes
    run = md.train(cfg)                             # a Run: .metrics, .history (rows), .path, .figures, .checkpoint
    md.load_runs("outputs/multiruns", by="row")     # {"row1": [Run, ...], ...}: tested runs, grouped as the report does
    model = md.load_model(run.checkpoint)
    model.predict(["my_7.png", digits_array])       # [Prediction(source, label, probability, probabilities)]
    print(md.layer_table(cfg)); print(md.receptive_field_table("model=best"))

Errors are the command line's one-line exceptions (mnist_design.errors.UserError and its kinds), never SystemExit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from PIL import Image

from mnist_design.config import ConfigError, built
from mnist_design.data import MEAN, STD
from mnist_design.data.images import UnreadableInput, classify, expand, normalisation, read_image
from mnist_design.data.preprocess import NotADigit, mnist_like
from mnist_design.errors import UserError
from mnist_design.models.receptive_field import field_table, receptive_fields
from mnist_design.report.groups import by_tag
from mnist_design.report.tables import layer_table as layer_markdown
from mnist_design.runs import records as runs
from mnist_design.runs.preflight import check_run_dir, tidy_for
from mnist_design.runs.records import Run
from mnist_design.training import factory
from mnist_design.training import run as training
from mnist_design.training.module import MNISTClassifier


def compose(*overrides: str, config: str = "train", run_dir: str | Path | None = None) -> DictConfig:
    """The config ``python -m mnist_design.<config> OVERRIDES`` gets (run_dir=None: the directory it would make)."""
    try:
        return factory.compose_run(config, overrides, Path(run_dir) if run_dir is not None else None)
    except (HydraException, OmegaConfBaseException) as error:  # an unknown option or key, a bad value
        raise ConfigError(" ".join(line.strip() for line in str(error).splitlines() if line.strip())) from None


def train(cfg: DictConfig | str | None = None, *overrides: str) -> Run:
    """Train one run, exactly as the train command does, and read back what it wrote.

    ``train(cfg)`` takes a composed config; ``train("experiment=row1", "seed=2")`` composes the overrides first.
    """
    if not isinstance(cfg, DictConfig):
        cfg = compose(*([cfg] if cfg else []), *overrides)
    elif overrides:
        raise ConfigError("train(cfg, ...) takes no overrides beside a composed config; give them to compose()")
    run_dir = Path(cfg.hydra.runtime.output_dir)
    check_run_dir(run_dir, fresh=True)
    tidy = tidy_for(run_dir)
    HydraConfig.instance().set_config(cfg)  # another compose() since may have replaced it
    runs.write_config(run_dir, cfg, list(cfg.hydra.overrides.task))
    try:
        training.train(cfg, run_dir)
    except UserError:  # a value out of range: no directory that looks like a run is left behind
        tidy()
        raise
    return runs.read_run(run_dir)


def load_runs(*folders: str | Path, by: str | None = None) -> list[Run] | dict[str, list[Run]]:
    """Every finished run below the folders (unreadable ones named on stderr), or the tested ones grouped by a tag.
    A folder that does not exist, or a tag no run has, is a ConfigError naming it (an empty answer would hide it)."""
    missing = [str(folder) for folder in folders if not Path(folder).is_dir()]
    if missing:
        raise ConfigError(f"load_runs: {', '.join(missing)} is not a folder")
    found, problems = runs.collect(folders)
    for problem in problems:
        skipped(problem)
    if not found:
        where = ", ".join(map(str, folders)) or "no folder (give one or more)"
        raise ConfigError(f"load_runs: no finished run under {where} (a finished run has a metrics.json)")
    if not by:
        return found
    tags = sorted({key for run in found for key in run.tags})
    if by not in tags:
        raise ConfigError(f"load_runs: by={by} is not a tag of these runs; their tags are {', '.join(tags)}")
    return by_tag(found, by)


@dataclass(frozen=True)
class Prediction:
    source: str  # the file, or "array[i]" for the i-th image given in memory
    label: int
    probability: float
    probabilities: list[float]


Input = str | Path | np.ndarray | torch.Tensor | Image.Image


@dataclass
class Model:
    """A trained classifier, in eval mode, with the normalisation it was trained with."""

    classifier: MNISTClassifier
    mean: float = MEAN
    std: float = STD

    def predict(self, inputs: Input | Sequence[Input]) -> list[Prediction]:
        """Classify image files, folders of them, PIL images or arrays (HxW, or NxHxW for several); any size and
        polarity, each made MNIST-like first. An input you named that cannot be read or holds no digit raises a
        UserError naming it; a file found in a folder that cannot is skipped with a line on stderr, as the command
        line reports it and goes on (a stray README.txt beside the digits loses nothing)."""
        predictions = []
        for source, image, in_folder in images(inputs):
            try:
                predictions.append(self.predict_one(source, image))
            except NotADigit as error:
                if not in_folder:
                    raise
                skipped(error)
        if not predictions:
            raise UnreadableInput(f"no image to classify in {inputs!r}; give image files, folders of them or arrays")
        return predictions

    def predict_one(self, source: str, image: Image.Image) -> Prediction:
        try:
            pixels = mnist_like(image)
        except NotADigit as error:  # a blank image among several: say which one
            raise NotADigit(f"{source}: {error}") from None
        probs = classify(self.classifier, pixels, self.mean, self.std)
        return Prediction(source, int(probs.argmax()), float(probs.max()), [float(p) for p in probs])


def images(inputs: Input | Sequence[Input]) -> Iterable[tuple[str, Image.Image, bool]]:
    """Each input as (its name, a grey image, whether it was found in a folder). An input named directly that cannot
    be an image raises UnreadableInput naming it; a file in a folder that cannot is skipped, named on stderr."""
    items = [inputs] if isinstance(inputs, (str, Path, np.ndarray, torch.Tensor, Image.Image)) else list(inputs)
    for index, item in enumerate(items):
        if isinstance(item, Image.Image):
            yield f"image[{index}]", item, False
        elif isinstance(item, (np.ndarray, torch.Tensor)):
            # detach: a tensor that requires grad (a model's output, say) is still just pixels here
            array = np.asarray(item.detach().cpu() if isinstance(item, torch.Tensor) else item)
            yield from ((name, image, False) for name, image in array_images(index, array))
        else:
            in_folder = Path(item).is_dir()
            for path in expand([str(item)]):
                try:
                    yield str(path), read_image(path), in_folder
                except UnreadableInput as error:
                    problem = UnreadableInput(f"inputs[{index}] {path}: {error}")
                    if not in_folder:
                        raise problem from None
                    skipped(problem)


def skipped(problem: object) -> None:
    """What a batch call leaves out and goes on without, on stderr (the command line's per-file error line)."""
    print(f"skipped: {problem}", file=sys.stderr)


def array_images(index: int, array: np.ndarray) -> Iterable[tuple[str, Image.Image]]:
    """An array input: HxW (one grey image), HxWx3 or HxWx4 (one colour image, made grey), or NxHxW (several)."""
    name = f"array[{index}]"
    if array.size == 0 or array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        raise UnreadableInput(f"{name}: an image array must be non-empty, numeric and finite (shape {array.shape})")
    if array.ndim == 3 and array.shape[-1] in (3, 4) and array.shape[0] > 4:  # colour, channels last
        yield name, pil_image(array[..., :3].mean(axis=-1), name)
        return
    for offset, plane in enumerate(array if array.ndim == 3 else [array]):
        yield (f"{name}[{offset}]" if array.ndim == 3 else name), pil_image(plane, name)


def pil_image(plane: np.ndarray, name: str) -> Image.Image:
    """A grey image from an array of 0-255 values, or of 0-1 values when its maximum is at most 1."""
    if plane.ndim != 2:
        raise UnreadableInput(
            f"{name}: an array image must be HxW, HxWx3 (colour) or NxHxW for several, not shape {plane.shape}"
        )
    if plane.dtype.kind == "b":  # a mask: True is ink
        plane = plane.astype(np.float64)
    scaled = plane * 255.0 if plane.dtype.kind == "f" and plane.max() <= 1.0 else plane
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))


def load_model(checkpoint: str | Path) -> Model:
    """The model a checkpoint holds, rebuilt from the checkpoint alone (its config is saved in it)."""
    classifier, data_settings = factory.classifier_from_checkpoint(checkpoint)
    return Model(classifier, *normalisation(data_settings))


def as_classifier(what: DictConfig | str | Model | MNISTClassifier | Any) -> MNISTClassifier:
    """A model from a composed config, an override string ("model=best"), a loaded Model or a classifier."""
    if isinstance(what, Model):
        return what.classifier
    if isinstance(what, MNISTClassifier):
        return what
    if isinstance(what, str):
        what = compose(what)
    if not isinstance(what, DictConfig):
        raise ConfigError(f"expected a config, an override such as 'model=best', or a model; got {type(what).__name__}")
    return built("model", lambda: factory.classifier(what))


def layer_table(what: DictConfig | str | Model | MNISTClassifier) -> str:
    """The tutorial-style layer table (each layer, its output shape and parameters), as markdown."""
    return layer_markdown(as_classifier(what))


def receptive_field_table(what: DictConfig | str | Model | MNISTClassifier) -> str:
    """The tutorial's receptive-field table of the model's layers, as markdown."""
    return field_table(receptive_fields(as_classifier(what).net))
