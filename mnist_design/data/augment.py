"""Batched augmentation on the device the model trains on: one ``affine_grid`` + ``grid_sample`` per batch.

Written by hand because torchvision's v2 transforms draw one random angle (and one elastic field) per call, i.e.
per batch; here every image gets its own rotation/shift/scale/shear and elastic field in a single resampling, with
no per-sample Python.

    aug = BatchAffine(degrees=7)          # the tutorial's RandomRotation((-7, 7)), background stays background
    aug = BatchAffine(degrees=7, translate=0.09, scale=0.09, brightness=0.2, contrast=0.2, p=0.5)  # half the images
    x = aug(images_in_0_1)                # (B, 1, 28, 28) float in [0, 1] -> same shape and dtype
    x = rotate(normalised_images, 5.0)    # one fixed rotation for the whole batch (test-time augmentation)
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from mnist_design.errors import not_allowed


class BatchAffine(nn.Module):
    """Random affine per image. Inputs are in [0, 1] with 0 = background, so zero padding fills with background."""

    def __init__(
        self,
        degrees: float = 7.0,  # max |rotation|, degrees (the tutorial's RandomRotation((-7, 7)))
        translate: float = 0.0,  # max |shift| per axis, fraction of the image side
        scale: float = 0.0,  # zoom uniform in [1 - scale, 1 + scale]
        shear: float = 0.0,  # max |x-shear|, degrees
        elastic_alpha: float = 0.0,  # elastic warp strength, pixels per unit of blurred noise (0 = none)
        elastic_sigma: float = 4.0,  # Gaussian blur of that noise, pixels: larger = smoother warps
        p: float = 1.0,  # probability that an image is augmented (the others pass through untouched)
        brightness: float = 0.0,  # added brightness uniform in [-b, b], pixels in [0, 1]
        contrast: float = 0.0,  # contrast factor uniform in [1 - c, 1 + c]
    ) -> None:
        super().__init__()
        for key, value, ok, allowed in [
            ("degrees", degrees, 0 <= degrees <= 180, "in [0, 180] (a rotation past 180 degrees turns the other way)"),
            ("translate", translate, translate >= 0, ">= 0"),
            ("scale", scale, 0 <= scale < 1, "in [0, 1)"),
            ("shear", shear, 0 <= shear < 90, "in [0, 90) (a 90-degree shear is infinite)"),
            ("elastic_alpha", elastic_alpha, elastic_alpha >= 0, ">= 0"),
            ("elastic_sigma", elastic_sigma, elastic_sigma > 0, "> 0"),
            ("p", p, 0 <= p <= 1, "in [0, 1]"),
            ("brightness", brightness, 0 <= brightness <= 1, "in [0, 1]"),
            ("contrast", contrast, 0 <= contrast < 1, "in [0, 1)"),
        ]:
            if not ok:
                raise ValueError(not_allowed(f"augment.{key}", value, allowed))
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.elastic_alpha = elastic_alpha
        self.elastic_sigma = elastic_sigma
        self.p = p
        self.brightness = brightness
        self.contrast = contrast

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={getattr(self, key)}" for key in inspect.signature(type(self)).parameters)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, device = images.shape[0], images.device
        # Random numbers are drawn only for the options in use, so the tutorial's rows replay as they always have.
        chosen = (torch.rand(n, device=device) < self.p)[:, None, None, None] if self.p < 1 else None
        theta = self.random_theta(n, device)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        if self.elastic_alpha > 0:
            grid = grid.add_(self.elastic_offsets(n, images.shape[-1], device))
        out = sample(images, grid)
        if self.brightness > 0 or self.contrast > 0:
            out = self.brightness_contrast(out)
        return out if chosen is None else torch.where(chosen, out, images)

    def brightness_contrast(self, images: torch.Tensor) -> torch.Tensor:
        """x * contrast + brightness per image, clipped to [0, 1] (albumentations' RandomBrightnessContrast)."""
        n, device = images.shape[0], images.device
        factor = 1 + (torch.rand(n, 1, 1, 1, device=device) * 2 - 1) * self.contrast
        shift = (torch.rand(n, 1, 1, 1, device=device) * 2 - 1) * self.brightness
        return (images * factor + shift).clamp_(0, 1)

    def elastic_offsets(self, n: int, side: int, device: torch.device) -> torch.Tensor:
        """(n, side, side, 2) smooth random displacements in grid units: uniform noise, Gaussian-blurred."""
        radius = math.ceil(2 * self.elastic_sigma)
        taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=device) / self.elastic_sigma) ** 2)
        taps = (taps / taps.sum()).view(1, 1, -1)
        # Both displacement axes as 2n one-channel maps: a grouped conv2d is ~4x slower on CPU than this.
        noise = torch.rand(2 * n, 1, side, side, device=device) * 2 - 1
        blurred = F.conv2d(noise, taps[..., None], padding=(radius, 0))  # separable Gaussian: along y, then x
        blurred = F.conv2d(blurred, taps[:, :, None, :], padding=(0, radius)).view(n, 2, side, side)
        return blurred.permute(0, 2, 3, 1) * (self.elastic_alpha * 2 / side)  # pixels -> [-1, 1] grid units

    def random_theta(self, n: int, device: torch.device) -> torch.Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates, as ``affine_grid`` expects."""

        def uniform(limit: float) -> torch.Tensor:
            return (torch.rand(n, device=device) * 2 - 1) * limit

        angle = uniform(math.radians(self.degrees))
        shear = uniform(math.radians(self.shear))
        zoom = 1 + uniform(self.scale)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # inverse of rotate . shear . zoom is zoom^-1 . shear^-1 . rotate^-1;
        # translation in normalised [-1, 1] units (side = 2)
        theta = torch.stack(
            [
                torch.stack([cos + tan * sin, sin - tan * cos, uniform(2 * self.translate)], dim=1),
                torch.stack([-sin, cos, uniform(2 * self.translate)], dim=1),
            ],
            dim=1,
        )
        theta[:, :, :2] /= zoom[:, None, None]
        return theta


def sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Every image rotated by ``degrees``; works on normalised images (the corners get each image's background)."""
    angle = torch.tensor(math.radians(degrees), device=images.device)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros((), device=images.device)
    theta = torch.stack([torch.stack([cos, sin, zero]), torch.stack([-sin, cos, zero])]).expand(len(images), 2, 3)
    background = images.amin(dim=(1, 2, 3), keepdim=True)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return sample(images - background, grid) + background
