"""ConvNet: a net described by a list of blocks in YAML (see ``conf/model/``), so new variants need no code.

    net = ConvNet(layers=[{"conv": 8}, {"conv": 16}, {"maxpool": 2}, {"conv": 10, "kernel": 1}, {"gap": True}])

Block kinds, one key each:
  ``{conv: C, kernel: 3, padding: 0, dropout: true, separable: false}``
                                                       conv_block to C channels (``dropout: false`` skips dropout
                                                       for this block; ``separable: true`` = depthwise + pointwise;
                                                       the last conv is always the bare logits conv)
  ``{maxpool: 2}``                                     MaxPool2d with that kernel and stride
  ``{gap: true}``                                      AvgPool2d over the whole remaining map (global average pool)
The final layer must produce ``num_classes`` channels on a 1x1 map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mnist_design.data import IMAGE_SIZE, IN_CHANNELS, NUM_CLASSES
from mnist_design.models.blocks import conv_block

KINDS = ("conv", "maxpool", "gap")


def parameter_count(model: nn.Module) -> int:
    """Every parameter of a model: what budgets limit and metrics.json records as ``params``."""
    return sum(p.numel() for p in model.parameters())


class ConvNet(nn.Module):
    def __init__(
        self,
        layers: Sequence[Mapping],
        batch_norm: bool = True,
        dropout: float = 0.0,
        in_channels: int = IN_CHANNELS,
        image_size: int = IMAGE_SIZE,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1); got {dropout}")
        blocks, channels, size = [], in_channels, image_size
        last_conv = max(i for i, spec in enumerate(layers) if "conv" in spec)
        for i, spec in enumerate(layers):
            block, channels, size = build_block(i, dict(spec), channels, size, batch_norm, dropout, i == last_conv)
            blocks.append(block)
        if channels != num_classes or size != 1:
            raise ValueError(
                f"model.layers must end in {num_classes} channels on a 1x1 map; "
                f"they end in {channels} channels on {size}x{size}"
            )
        self.layers = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).flatten(1)  # logits; cross_entropy applies the tutorial's log_softmax + NLL in one op


def build_block(
    index: int, spec: dict, channels: int, size: int, batch_norm: bool, dropout: float, is_logits: bool
) -> tuple[nn.Module, int, int]:
    """Return the block, its output channels and its output side length (so GAP and shape errors are known early)."""
    kind = [k for k in KINDS if k in spec]
    if len(kind) != 1:
        raise ValueError(f"model.layers[{index}] = {spec}: needs exactly one of {', '.join(KINDS)}")
    if kind == ["maxpool"]:
        pool = spec["maxpool"]
        if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1:
            raise ValueError(f"model.layers[{index}] = {spec}: maxpool must be a whole number >= 1 (its kernel)")
        block, size = nn.MaxPool2d(pool), size // pool
    elif kind == ["gap"]:
        block, size = nn.AvgPool2d(size, stride=1), 1  # stride 1 as in the tutorial's RF table; output is 1x1 anyway
    else:
        kernel, padding = spec.get("kernel", 3), spec.get("padding", 0)
        block = conv_block(
            channels,
            spec["conv"],
            kernel,
            padding,
            batch_norm=batch_norm,
            dropout=dropout if spec.get("dropout", True) else 0.0,
            activation=not is_logits,
            separable=bool(spec.get("separable", False)),
        )
        channels, size = spec["conv"], size + 2 * padding - kernel + 1
    if size < 1:
        raise ValueError(f"model.layers[{index}] = {spec} shrinks the feature map below 1x1")
    return block, channels, size
