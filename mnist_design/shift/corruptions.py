"""MNIST-C-like corruptions of MNIST test images, generated here at a fixed seed (numpy, scipy, torch).

    corrupt("shot_noise", images, severity=3, seed=0)   # float32 [N, 28, 28] in [0, 1] -> same shape and range

Modelled on Mu & Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision" (2019): the same fifteen names, each
re-implemented from its description, so these are "MNIST-C-like", not the released set papers compare against.
``edges`` stands in for their Canny edges (smoothing, Sobel gradients, non-maximum suppression, a threshold; no
hysteresis). Severity runs from 1 (mild) to 5; each corruption draws from its own generator, seeded by its name
and the suite seed, so one corruption's numbers do not depend on which others ran.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from mnist_design.errors import UserError, not_allowed, not_among

SEVERITIES = range(1, 6)
Images = np.ndarray  # float32 [N, 28, 28] in [0, 1]


class CorruptionError(UserError):
    """An unknown corruption name or a severity out of range; the message lists what is allowed."""


def level(severity: int, values: tuple[float, ...]) -> float:
    return values[severity - 1]


# --- noise --------------------------------------------------------------------------------------------------------


def shot_noise(x: Images, rng: np.random.Generator, severity: int) -> Images:
    photons = level(severity, (60, 25, 12, 5, 3))
    return rng.poisson(x * photons) / photons


def impulse_noise(x: Images, rng: np.random.Generator, severity: int) -> Images:
    amount = level(severity, (0.03, 0.06, 0.09, 0.17, 0.27))
    hit = rng.random(x.shape)
    out = x.copy()
    out[hit < amount / 2] = 0.0
    out[(hit >= amount / 2) & (hit < amount)] = 1.0
    return out


# --- blur ---------------------------------------------------------------------------------------------------------


def glass_blur(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Blur, let each pixel take a random neighbour's value (frosted glass), blur again."""
    sigma, reach, rounds = level(severity, ((0.4, 1, 1), (0.5, 1, 2), (0.6, 2, 1), (0.7, 2, 2), (0.9, 2, 3)))
    out = ndimage.gaussian_filter(x, sigma=(0, sigma, sigma))
    n, h, w = x.shape
    rows, cols = np.indices((h, w))
    for _ in range(int(rounds)):
        dr = rng.integers(-reach, reach + 1, size=x.shape)
        dc = rng.integers(-reach, reach + 1, size=x.shape)
        src_r, src_c = np.clip(rows + dr, 0, h - 1), np.clip(cols + dc, 0, w - 1)
        out = out[np.arange(n)[:, None, None], src_r, src_c]
    return ndimage.gaussian_filter(out, sigma=(0, sigma, sigma))


def motion_blur(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Average along a line of ``length`` pixels at a random angle per image (a camera moving in one stroke)."""
    length = int(level(severity, (3, 5, 7, 9, 11)))
    angles = rng.uniform(0, np.pi, size=len(x))
    out = np.empty_like(x)
    for i, angle in enumerate(angles):
        out[i] = ndimage.convolve(x[i], line_kernel(length, angle), mode="constant")
    return out


def line_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), dtype=np.float32)
    centre = (length - 1) / 2
    for t in np.linspace(-centre, centre, 4 * length):
        kernel[round(centre - t * np.sin(angle)), round(centre + t * np.cos(angle))] = 1.0
    return kernel / kernel.sum()


# --- geometry (what the project's augmentations can cover) -----------------------------------------------------


def affine(x: Images, theta: np.ndarray) -> Images:
    """Apply a batch of 2x3 affine matrices (normalised coordinates), as torch's grid_sample does for training."""
    images = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None]
    grid = F.affine_grid(torch.from_numpy(theta.astype(np.float32)), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")[:, 0].numpy()


def identity(n: int) -> np.ndarray:
    return np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 1))


def signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=n)


def rotate(x: Images, rng: np.random.Generator, severity: int) -> Images:
    degrees = level(severity, (15, 30, 45, 60, 75)) * signs(rng, len(x))
    radians = np.deg2rad(degrees)
    theta = identity(len(x))
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(radians), -np.sin(radians)
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(radians), np.cos(radians)
    return affine(x, theta)


def shear(x: Images, rng: np.random.Generator, severity: int) -> Images:
    theta = identity(len(x))
    theta[:, 0, 1] = level(severity, (0.2, 0.35, 0.5, 0.65, 0.8)) * signs(rng, len(x))
    return affine(x, theta)


def scale(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Shrink the digit (a sampling grid wider than the image): MNIST digits already fill their 20x20 box."""
    factor = level(severity, (0.85, 0.75, 0.65, 0.55, 0.45))
    theta = identity(len(x)) / factor
    return affine(x, theta)


def translate(x: Images, rng: np.random.Generator, severity: int) -> Images:
    pixels = level(severity, (2, 3, 4, 5, 6))
    angles = rng.uniform(0, 2 * np.pi, size=len(x))
    theta = identity(len(x))
    theta[:, 0, 2] = -pixels * np.cos(angles) * 2 / x.shape[2]  # grid moves opposite to the content
    theta[:, 1, 2] = -pixels * np.sin(angles) * 2 / x.shape[1]
    return affine(x, theta)


def brightness(x: Images, rng: np.random.Generator, severity: int) -> Images:
    return x + level(severity, (0.1, 0.2, 0.3, 0.4, 0.5))


# --- what the augmentations do not cover -----------------------------------------------------------------------


def stripe(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Invert a vertical stripe at a random column per image."""
    width = int(level(severity, (2, 3, 4, 5, 6)))
    out = x.copy()
    starts = rng.integers(4, x.shape[2] - 4 - width, size=len(x))
    for i, start in enumerate(starts):
        out[i, :, start : start + width] = 1 - out[i, :, start : start + width]
    return out


def fog(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Add a smooth random haze (low-pass filtered noise scaled to [0, strength])."""
    strength = level(severity, (0.2, 0.35, 0.5, 0.65, 0.8))
    haze = ndimage.gaussian_filter(rng.random(x.shape), sigma=(0, 4, 4))
    low = haze.min(axis=(1, 2), keepdims=True)
    high = haze.max(axis=(1, 2), keepdims=True)
    return x + strength * (haze - low) / np.maximum(high - low, 1e-6)


def spatter(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Ink blots: thresholded blurred noise, the threshold lower (more blots) with severity."""
    quantile = level(severity, (0.97, 0.95, 0.93, 0.91, 0.89))
    blobs = ndimage.gaussian_filter(rng.random(x.shape), sigma=(0, 1.2, 1.2))
    cut = np.quantile(blobs, quantile, axis=(1, 2), keepdims=True)
    return np.maximum(x, (blobs > cut).astype(np.float32))


def draw(out: np.ndarray, points: np.ndarray, every: int = 1) -> None:
    """Ink the pixels under points (row, col) spaced about one pixel apart, keeping every ``every``-th one."""
    pixels = np.round(points[::every]).astype(int)
    out[pixels[:, 0], pixels[:, 1]] = 1.0


def segment(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Points from ``start`` to ``end`` (both inside the image) about one pixel apart."""
    steps = int(np.abs(end - start).max()) + 1
    return start + np.linspace(0, 1, steps)[:, None] * (end - start)


def dotted_line(x: Images, rng: np.random.Generator, severity: int) -> Images:
    lines = int(level(severity, (1, 1, 2, 2, 3)))
    out = x.copy()
    for image in out:
        for _ in range(lines):
            start, end = rng.uniform(0, 27, size=2), rng.uniform(0, 27, size=2)
            draw(image, segment(start, end), every=2)
    return out


def zigzag(x: Images, rng: np.random.Generator, severity: int) -> Images:
    turns = int(level(severity, (2, 3, 4, 5, 6)))
    out = x.copy()
    for image in out:
        corners = rng.uniform(0, 27, size=(turns + 1, 2))
        for start, end in pairwise(corners):
            draw(image, segment(start, end))
    return out


def edges(x: Images, rng: np.random.Generator, severity: int) -> Images:
    """Canny-like edges: smooth, Sobel gradients, keep local maxima across the edge, threshold (severity unused)."""
    smooth = ndimage.gaussian_filter(x, sigma=(0, 1, 1))
    gy, gx = ndimage.sobel(smooth, axis=1), ndimage.sobel(smooth, axis=2)
    magnitude = np.hypot(gx, gy)
    direction = (np.round(np.arctan2(gy, gx) / (np.pi / 4)) % 4).astype(int)  # 0: -, 1: /, 2: |, 3: \
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    keep = np.zeros_like(magnitude, dtype=bool)
    for d, (dr, dc) in offsets.items():
        ahead = np.roll(magnitude, (-dr, -dc), axis=(1, 2))
        behind = np.roll(magnitude, (dr, dc), axis=(1, 2))
        keep |= (direction == d) & (magnitude >= ahead) & (magnitude >= behind)
    threshold = 0.25 * magnitude.max(axis=(1, 2), keepdims=True)
    return (keep & (magnitude > threshold)).astype(np.float32)


Corruption = Callable[[Images, np.random.Generator, int], Images]
CORRUPTIONS: dict[str, Corruption] = {
    fn.__name__: fn
    for fn in (
        shot_noise, impulse_noise, glass_blur, motion_blur, shear, scale, rotate, brightness, translate,
        stripe, fog, spatter, dotted_line, zigzag, edges,
    )
}  # fmt: skip
# Kinds of change the project's training augmentations (conf/augment/: rotation, shift, scale, shear, brightness)
# can produce; the report scores these apart from the rest.
COVERED = ("rotate", "translate", "scale", "shear", "brightness")


def check(names: list[str], severity: int) -> None:
    unknown = [name for name in names if name not in CORRUPTIONS]
    if unknown:
        raise CorruptionError(not_among("corruptions", unknown, list(CORRUPTIONS)))
    if not names:
        raise CorruptionError(not_among("corruptions", [], list(CORRUPTIONS)))
    if severity not in SEVERITIES:
        raise CorruptionError(not_allowed("severity", severity, f"{SEVERITIES.start} to {SEVERITIES.stop - 1}"))


def corrupt(name: str, images: Images, severity: int, seed: int) -> Images:
    """``images`` corrupted by ``name`` at ``severity``; the same arguments always give the same images."""
    check([name], severity)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = CORRUPTIONS[name](images.astype(np.float32), rng, severity)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
