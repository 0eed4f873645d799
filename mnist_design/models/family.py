"""The seed's design family as a handful of numbers, so a design search can propose nets (conf/model/family.yaml).

    net = family_net(stage1=[8, 16], transition=8, stage2=[12, 16, 20], head=[16], dropout=0.05)  # = model=best

Every net in the family reads: 3x3 convs (stage 1) -> max-pool and a 1x1 transition (in either order) -> 3x3 convs
(stage 2) -> the output head. A width of 0 removes that layer, so one fixed-length list of numbers covers shallower
nets too (what an Optuna search over scalars needs). The head is either the seed's ``gap: early`` (global average
pool, then 1x1 convs ``head`` and a 1x1 conv to the logits) or ``gap: late`` (1x1 convs ``head`` and the logits conv
on the whole map, then the pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_design.models.net import ConvNet

GAP_POSITIONS = ("early", "late")


def family_layers(
    stage1: Sequence[int],
    transition: int,
    stage2: Sequence[int],
    head: Sequence[int] = (),
    gap: str = "early",
    squeeze_first: bool = False,
    num_classes: int = 10,
) -> list[dict]:
    """The ``ConvNet`` layer list of one family member; zero widths are left out."""
    if gap not in GAP_POSITIONS:
        raise ValueError(f"model.gap must be one of {', '.join(GAP_POSITIONS)}; got {gap!r}")
    if any(width < 0 for width in [*stage1, transition, *stage2, *head]):
        raise ValueError("model widths must be >= 0 (0 removes the layer)")
    pool_and_squeeze = [{"maxpool": 2}]
    if transition:
        squeeze = {"conv": transition, "kernel": 1, "dropout": False}  # the seed keeps its transition dropout-free
        pool_and_squeeze = [squeeze, *pool_and_squeeze] if squeeze_first else [*pool_and_squeeze, squeeze]
    convs = [{"conv": width} for width in stage1 if width]
    convs += pool_and_squeeze + [{"conv": width} for width in stage2 if width]
    one_by_one = [{"conv": width, "kernel": 1} for width in head if width] + [{"conv": num_classes, "kernel": 1}]
    return [*convs, {"gap": True}, *one_by_one] if gap == "early" else [*convs, *one_by_one, {"gap": True}]


def family_net(batch_norm: bool = True, dropout: float = 0.0, in_channels: int = 1, image_size: int = 28,
               num_classes: int = 10, **design: Any) -> ConvNet:
    """A ConvNet of the family; ``design`` holds family_layers' arguments (stage1, transition, stage2, head, ...)."""
    return ConvNet(family_layers(**design, num_classes=num_classes), batch_norm=batch_norm, dropout=dropout,
                   in_channels=in_channels, image_size=image_size, num_classes=num_classes)
