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
import warnings
from collections.abc import Sequence
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from PIL import Image, UnidentifiedImageError

from mnist_design.config import config_dir
from mnist_design.data import MEAN, STD
from mnist_design.data.preprocess import NotADigit, mnist_like
from mnist_design.errors import UserError, exit_on_user_error
from mnist_design.factory import classifier_from_checkpoint


class UnreadableInput(UserError):
    """One input file that cannot be classified, or no inputs at all; the message says why."""


def input_list(inputs: str | Sequence[str]) -> list[str]:
    """``inputs=x.png`` (one path, no brackets) and ``inputs=[x.png,dir/]`` both mean a list of paths."""
    return [inputs] if isinstance(inputs, str) else [str(item) for item in inputs]


def expand(inputs: list[str]) -> list[Path]:
    """Files as given, directories as their files (sorted, hidden ones skipped)."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            entries = sorted(p for p in item.iterdir() if not p.name.startswith("."))
            for folder in (p for p in entries if p.is_dir()):
                print(
                    f"{folder}: a sub-folder, skipped (give it as an input of its own to classify its images)",
                    file=sys.stderr,
                )
            files += [p for p in entries if not p.is_dir()]
        else:
            files.append(item)
    return files


def read_image(path: Path) -> Image.Image:
    if path.is_symlink() and not path.exists():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            raise UnreadableInput("a symlink loop") from None
        except OSError as error:
            raise UnreadableInput("a symlink loop" if error.errno == 40 else "a broken symlink") from None
        raise UnreadableInput("a broken symlink")
    if not path.exists():
        raise UnreadableInput("no such file")
    if path.stat().st_size == 0:
        raise UnreadableInput("empty file")
    try:
        with warnings.catch_warnings():
            # PIL only warns between its limit and twice it; a digit never needs that many pixels
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return image.copy()
    except UnidentifiedImageError:
        raise UnreadableInput("not an image PIL can read (png, jpg, bmp, gif, tiff, webp, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableInput(f"too large to decode safely (over {Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except OSError as error:
        raise UnreadableInput(f"unreadable ({error.strerror or error})") from None


@torch.no_grad()
def classify(model: torch.nn.Module, pixels: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return model(((pixels - mean) / std)[None, None]).softmax(dim=1)[0]


def report_line(path: Path, probs: torch.Tensor | None, error: str | None, as_json: bool) -> str:
    if as_json:
        if error is not None:
            return json.dumps({"file": str(path), "error": error})
        return json.dumps(
            {
                "file": str(path),
                "label": int(probs.argmax()),
                "probability": float(probs.max()),
                "probabilities": [round(float(p), 6) for p in probs],
            }
        )
    if error is not None:
        return f"{path}: error: {error}"
    return f"{path}: {int(probs.argmax())} (p={float(probs.max()):.3f})"


def predict(cfg: DictConfig) -> int:
    """Print one line per file; return how many files failed."""
    model, data_hparams = classifier_from_checkpoint(cfg.ckpt_path)
    mean, std = data_hparams.get("mean", MEAN), data_hparams.get("std", STD)
    files = expand(input_list(cfg.inputs))
    if not files:
        raise UnreadableInput(f"no input files in inputs={input_list(cfg.inputs)}; give image files or directories")
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
    with exit_on_user_error():
        failures = predict(cfg)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
