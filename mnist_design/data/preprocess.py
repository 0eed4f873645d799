"""Turn a user's digit image into an MNIST-like 28x28 image, the way MNIST itself was made.

    pixels = mnist_like(Image.open("my_digit.png"))     # float tensor (28, 28) in [0, 1], light digit on black

Steps: grayscale (transparent areas become background), light-on-dark polarity (detected from the border, inverted
if needed), crop to the digit's bounding box, fit into 20x20 keeping the aspect ratio, and place in 28x28 so the
centre of mass sits at the centre.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from mnist_design.errors import UserError

INK = 0.2  # fraction of the brightest pixel above which a pixel counts as part of the digit


class NotADigit(UserError, ValueError):
    """The image holds nothing that looks like a digit (e.g. blank): the user's input, so one line, no traceback."""


def grayscale(image: Image.Image) -> np.ndarray:
    """Float array in [0, 1]; transparent pixels take the colour that contrasts with the opaque ones."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255
        alpha = rgba[..., 3]
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        opaque = gray[alpha > 0.5]
        background = 1.0 if opaque.size and opaque.mean() < 0.5 else 0.0
        return alpha * gray + (1 - alpha) * background
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit and float images: convert("L") would clip them
        pixels = np.asarray(image, dtype=np.float64)
        low, high = pixels.min(), pixels.max()
        return (pixels - low) / (high - low) if high > low else np.zeros_like(pixels)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255


def light_on_dark(gray: np.ndarray) -> np.ndarray:
    """MNIST digits are light on black: invert when the border (the background) is light, then stretch to [0, 1]."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = 1 - gray if background > 0.5 else gray
    ink = np.clip(ink - min(background, 1 - background), 0, None)
    if ink.max() <= 0.05:
        raise NotADigit("no digit found: the image is blank or has no contrast")
    return ink / ink.max()


def crop_to_digit(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(ink > INK)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def fit_20x20(digit: np.ndarray) -> np.ndarray:
    """Resize so the longer side is 20 pixels, keeping the aspect ratio (antialiased, like MNIST's own)."""
    h, w = digit.shape
    scale = 20 / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    resized = torch.nn.functional.interpolate(
        torch.from_numpy(digit)[None, None].float(), size=size, mode="bilinear", antialias=True, align_corners=False
    )
    return resized[0, 0].clamp(0, 1).numpy()


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 with the centre of mass at the centre (rounded to whole pixels, kept inside the frame)."""
    h, w = digit.shape
    total = digit.sum()
    rows, cols = np.indices(digit.shape)
    com_r, com_c = (rows * digit).sum() / total, (cols * digit).sum() / total
    top = int(np.clip(round(14 - com_r), 0, 28 - h))
    left = int(np.clip(round(14 - com_c), 0, 28 - w))
    canvas = np.zeros((28, 28), dtype=np.float32)
    canvas[top : top + h, left : left + w] = digit
    return canvas


def mnist_like(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(centre_by_mass(fit_20x20(crop_to_digit(light_on_dark(grayscale(image))))))
