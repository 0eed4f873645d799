"""Classifying digit images with a trained model: the library behind ``python -m mnist_design.predict`` and the API.

    files = expand(["my_7.png", "digits/"])             # files as given, folders as their files
    probs = classify(model, mnist_like(read_image(files[0])), mean, std)   # 10 class probabilities

A file that cannot be classified raises UnreadableInput with the reason (a broken symlink, not an image, too large).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError

from mnist_design.data import MEAN, STD
from mnist_design.errors import UserError


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


def normalisation(data_settings: Mapping[str, Any]) -> tuple[float, float]:
    """The (mean, std) a checkpoint's model was trained with: its saved DataModule settings, MNIST's own if absent."""
    return data_settings.get("mean", MEAN), data_settings.get("std", STD)


@torch.no_grad()
def classify(model: torch.nn.Module, pixels: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return model(((pixels - mean) / std)[None, None]).softmax(dim=1)[0]
