"""The conv blocks every net is made of: Conv -> [BatchNorm] -> ReLU -> [Dropout], as in the tutorial; the conv is
either dense or depthwise-separable (a depthwise 3x3 then a pointwise 1x1, as Keras' SeparableConv2D: no activation
between).
"""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Dropout):
    """``nn.Dropout`` with a faster CPU training path; on other devices, in eval, or for ``inplace``, it is nn.Dropout.

    Why by hand: on CPU, ``nn.Dropout`` spends one generator call per element and was ~28 % of a training step of the
    best model. Here one 64-bit draw gives the 16-bit uniforms of four elements, and the mask stays a float tensor
    (bool-to-float multiplies are slow on CPU). Same global generator, so ``seed_everything`` and resume still
    reproduce runs; the drop rate is ``p`` rounded to a multiple of 1/65536.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_(-(2**63), None)  # all 64 bits random
        uniform16 = words.view(torch.int16)[: x.numel()].view_as(x)  # 4 signed 16-bit uniforms per word
        keep = (uniform16 >= round(self.p * 65536) - 32768).to(x.dtype).mul_(1 / (1 - self.p))
        return x * keep


def conv_block(
    in_channels: int,
    out_channels: int,
    kernel: int = 3,
    padding: int = 0,
    batch_norm: bool = True,
    dropout: float = 0.0,
    activation: bool = True,
    separable: bool = False,
) -> nn.Sequential:
    """A bias-free conv (BatchNorm's shift or the next layer makes a bias redundant; the tutorial's counts have none).

    ``activation=False`` gives the bare conv used for the logits. ``separable=True`` replaces the dense conv by a
    depthwise one (one ``kernel`` x ``kernel`` filter per input channel) and a pointwise 1x1 to ``out_channels``:
    in*(k*k + out) weights instead of in*out*k*k, what every strong public net under 2,000 parameters uses.
    """
    if separable:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, in_channels, kernel, padding=padding, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
        ]
    else:
        layers = [nn.Conv2d(in_channels, out_channels, kernel, padding=padding, bias=False)]
    if activation:
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(Dropout(dropout))
    return nn.Sequential(*layers)
