"""The one conv-block builder every net is made of: Conv -> [BatchNorm] -> ReLU -> [Dropout], as in the seed."""

from __future__ import annotations

from torch import nn


def conv_block(
    in_channels: int,
    out_channels: int,
    kernel: int = 3,
    padding: int = 0,
    batch_norm: bool = True,
    dropout: float = 0.0,
    activation: bool = True,
) -> nn.Sequential:
    """A bias-free conv (BatchNorm's shift or the next layer makes a bias redundant, and the seed's counts have none).

    ``activation=False`` gives the bare conv used for the logits.
    """
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, padding=padding, bias=False)]
    if activation:
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
