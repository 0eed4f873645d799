"""Batched augmentation on the device the model trains on: one ``affine_grid`` + ``grid_sample`` per batch.

Written by hand because torchvision's v2 transforms draw one random angle per call, i.e. per batch; here every
image gets its own rotation/shift/scale/shear in a single kernel launch, with no per-sample Python.

    aug = BatchAffine(degrees=7)          # the seed's RandomRotation((-7, 7)), background stays background
    x = aug(images_in_0_1)                # (B, 1, 28, 28) float in [0, 1] -> same shape and dtype
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class BatchAffine(nn.Module):
    """Random affine per image. Inputs are in [0, 1] with 0 = background, so zero padding fills with background."""

    def __init__(self, degrees: float = 7.0, translate: float = 0.0, scale: float = 0.0, shear: float = 0.0) -> None:
        super().__init__()
        if degrees < 0 or translate < 0 or shear < 0 or not 0 <= scale < 1:
            raise ValueError(f"augment needs degrees, translate, shear >= 0 and 0 <= scale < 1; got "
                             f"degrees={degrees}, translate={translate}, scale={scale}, shear={shear}")
        self.degrees = degrees  # max |rotation| in degrees, uniform in [-degrees, degrees]
        self.translate = translate  # max |shift| as a fraction of the image side, per axis
        self.scale = scale  # zoom factor uniform in [1 - scale, 1 + scale]
        self.shear = shear  # max |x-shear| angle in degrees

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        theta = self.random_theta(images.shape[0], images.device)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)

    def random_theta(self, n: int, device: torch.device) -> torch.Tensor:
        """(n, 2, 3) matrices mapping output to input coordinates, as ``affine_grid`` expects."""

        def uniform(limit: float) -> torch.Tensor:
            return (torch.rand(n, device=device) * 2 - 1) * limit

        angle = uniform(math.radians(self.degrees))
        shear = uniform(math.radians(self.shear))
        zoom = 1 + uniform(self.scale)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # inverse of rotate . shear . zoom is zoom^-1 . shear^-1 . rotate^-1; translation in normalised [-1, 1] units (side = 2)
        theta = torch.stack([
            torch.stack([cos + tan * sin, sin - tan * cos, uniform(2 * self.translate)], dim=1),
            torch.stack([-sin, cos, uniform(2 * self.translate)], dim=1),
        ], dim=1)
        theta[:, :, :2] /= zoom[:, None, None]
        return theta
