"""Digits MNIST never saw, made MNIST-like the way MNIST was: UCI handwriting and printed fonts.

    images, labels = uci_digits()     # scikit-learn's bundled load_digits: 1,797 UCI 8x8 digits, upsampled
    images, labels = font_digits()    # 0-9 rendered in every font matplotlib ships that has them

Both go through the same steps as ``predict`` (mnist_design/data/preprocess.py): crop to the ink, scale the longer
side to 20 pixels, paste into 28x28 with the centre of mass at the centre, as LeCun et al. built MNIST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_design.data.preprocess import centre_by_mass, crop_to_digit, fit_20x20, light_on_dark

UCI_LEVELS = 16  # load_digits' pixels count 0-16 ink
FONT_SIZE = 64  # points, rendered on a canvas twice as large, then reduced like any image
# Font files that hold symbols, not digits (TeX's extension/symbol/math-italic faces, STIX's size and non-Unicode
# variants, the display faces and the last-resort font): a "3" in them is not a 3.
NOT_DIGIT_FONTS = ("cmex", "cmsy", "cmmi", "STIXSiz", "STIXNonUni", "Display", "LastResort")


def mnist_like(ink: np.ndarray) -> np.ndarray:
    """Light-on-dark ink in [0, 1] of any size -> 28x28, centred as MNIST was."""
    return centre_by_mass(fit_20x20(crop_to_digit(ink)))


def uci_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # imported here: only this suite needs scikit-learn

    digits = load_digits()
    images = np.stack([mnist_like(image / UCI_LEVELS) for image in digits.images])
    return images.astype(np.float32), digits.target.astype(np.int64)


def font_files() -> list[Path]:
    import matplotlib  # the fonts ship inside matplotlib, a dependency already

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return sorted(p for p in folder.glob("*.ttf") if not any(part in p.name for part in NOT_DIGIT_FONTS))


def render(font: ImageFont.FreeTypeFont, digit: int) -> np.ndarray:
    canvas = Image.new("L", (2 * FONT_SIZE, 2 * FONT_SIZE), color=255)
    ImageDraw.Draw(canvas).text((FONT_SIZE, FONT_SIZE), str(digit), font=font, fill=0, anchor="mm")
    return light_on_dark(np.asarray(canvas, dtype=np.float64) / 255)


def font_digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for path in font_files():
        font = ImageFont.truetype(str(path), FONT_SIZE)
        for digit in range(10):
            images.append(mnist_like(render(font, digit)))
            labels.append(digit)
    return np.stack(images).astype(np.float32), np.array(labels, dtype=np.int64)
