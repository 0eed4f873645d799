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

from mnist_design.config import config_dir
from mnist_design.data.images import UnreadableInput, classify, expand, input_list, normalisation, read_image
from mnist_design.data.preprocess import NotADigit, mnist_like
from mnist_design.errors import exit_on_user_error
from mnist_design.training.factory import classifier_from_checkpoint


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
    model, data_settings = classifier_from_checkpoint(cfg.ckpt_path)
    mean, std = normalisation(data_settings)
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
