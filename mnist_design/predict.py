"""Classify your own digit images with a trained checkpoint.

    python -m mnist_design.predict ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt inputs=[my_7.png,digits/]
    python -m mnist_design.predict ckpt_path=... inputs=[digits/] json=true     # one JSON object per line

Any size, grayscale/RGB/RGBA, dark-on-light or light-on-dark: each image is made MNIST-like first (see
mnist_design/data/preprocess.py). A file that is not an image, is empty or unreadable gets its own error line and
the rest are still classified. Exit status: 0 all classified, 1 some files failed, 2 unusable checkpoint or inputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError

from mnist_design.checkpoints import CheckpointError, load_classifier
from mnist_design.config import config_dir
from mnist_design.data.preprocess import NotADigit, mnist_like


class UnreadableInput(ValueError):
    """One input file that cannot be classified; the message says why."""


def expand(inputs: list[str]) -> list[Path]:
    """Files as given, directories as their files (sorted, hidden ones skipped)."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            files.append(item)
    return files


def read_image(path: Path) -> Image.Image:
    if not path.exists():
        raise UnreadableInput("no such file")
    if path.stat().st_size == 0:
        raise UnreadableInput("empty file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except UnidentifiedImageError:
        raise UnreadableInput("not an image PIL can read (png, jpg, bmp, gif, tiff, webp, ...)") from None
    except OSError as error:
        raise UnreadableInput(f"unreadable ({error.strerror or error})") from None


@torch.no_grad()
def classify(model: torch.nn.Module, pixels: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return model(((pixels - mean) / std)[None, None]).softmax(dim=1)[0]


def report_line(path: Path, probs: torch.Tensor | None, error: str | None, as_json: bool) -> str:
    if as_json:
        if error is not None:
            return json.dumps({"file": str(path), "error": error})
        return json.dumps({"file": str(path), "label": int(probs.argmax()), "probability": float(probs.max()),
                           "probabilities": [round(float(p), 6) for p in probs]})
    if error is not None:
        return f"{path}: error: {error}"
    return f"{path}: {int(probs.argmax())} (p={float(probs.max()):.3f})"


def predict(cfg: DictConfig) -> int:
    """Print one line per file; return how many files failed."""
    model, data_hparams = load_classifier(cfg.ckpt_path)
    mean, std = data_hparams.get("mean", 0.1307), data_hparams.get("std", 0.3081)
    files = expand(list(cfg.inputs))
    if not files:
        raise UnreadableInput(f"no input files in inputs={list(cfg.inputs)}; give image files or directories")
    failures = 0
    for path in files:
        try:
            probs, error = classify(model, mnist_like(read_image(path)), mean, std), None
        except (UnreadableInput, NotADigit) as problem:
            probs, error = None, str(problem)
            failures += 1
        print(report_line(path, probs, error, cfg.json), file=sys.stderr if error and not cfg.json else sys.stdout)
    return failures


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        failures = predict(cfg)
    except (CheckpointError, UnreadableInput) as error:
        print(f"error: {error}\n(set HYDRA_FULL_ERROR=1 for the full trace)", file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
