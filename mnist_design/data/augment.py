"""Batched augmentation on the device the model trains on: one ``affine_grid`` + ``grid_sample`` per batch.

Written by hand because torchvision's v2 transforms draw one random angle (and one elastic field) per call, i.e.
per batch; here every image gets its own rotation/shift/scale/shear and elastic field in a single resampling, with
no per-sample Python.

    aug = BatchAffine(degrees=7)          # the seed's RandomRotation((-7, 7)), background stays background
    x = aug(images_in_0_1)                # (B, 1, 28, 28) float in [0, 1] -> same shape and dtype
    x = rotate(normalised_images, 5.0)    # one fixed rotation for the whole batch (test-time augmentation)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class BatchAffine(nn.Module):
    """Random affine per image. Inputs are in [0, 1] with 0 = background, so zero padding fills with background."""

    def __init__(self, degrees: float = 7.0, translate: float = 0.0, scale: float = 0.0, shear: float = 0.0,
                 elastic_alpha: float = 0.0, elastic_sigma: float = 4.0) -> None:
        super().__init__()
        if min(degrees, translate, shear, elastic_alpha) < 0 or not 0 <= scale < 1 or elastic_sigma <= 0:
            raise ValueError(f"augment needs degrees, translate, shear, elastic_alpha >= 0, 0 <= scale < 1 and "
                             f"elastic_sigma > 0; got degrees={degrees}, translate={translate}, scale={scale}, "
                             f"shear={shear}, elastic_alpha={elastic_alpha}, elastic_sigma={elastic_sigma}")
        self.degrees = degrees  # max |rotation| in degrees, uniform in [-degrees, degrees]
        self.translate = translate  # max |shift| as a fraction of the image side, per axis
        self.scale = scale  # zoom factor uniform in [1 - scale, 1 + scale]
        self.shear = shear  # max |x-shear| angle in degrees
        self.elastic_alpha = elastic_alpha  # elastic displacement scale in pixels (Simard et al. 2003); 0 = off
        self.elastic_sigma = elastic_sigma  # smoothness of the elastic field: Gaussian sigma in pixels

    def extra_repr(self) -> str:
        return (f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, shear={self.shear}, "
                f"elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma}")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        theta = self.random_theta(images.shape[0], images.device)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        if self.elastic_alpha > 0:
            grid = grid.add_(self.elastic_offsets(images.shape[0], images.shape[-1], images.device))
        return sample(images, grid)

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
        # inverse of rotate . shear . zoom is zoom^-1 . shear^-1 . rotate^-1; translation in normalised [-1, 1] units (side = 2)
        theta = torch.stack([
            torch.stack([cos + tan * sin, sin - tan * cos, uniform(2 * self.translate)], dim=1),
            torch.stack([-sin, cos, uniform(2 * self.translate)], dim=1),
        ], dim=1)
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
