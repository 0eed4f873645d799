"""The design family as a handful of numbers, so a design search can propose nets (conf/model/family.yaml).

    net = family_net(stage1=[8, 16], transition=8, stage2=[12, 16, 20], head=[16], dropout=0.05)  # = model=best
    net = family_net(stage1=[8, 16], padding=[1, 1, 0], transition=8, stage2=[16, 16], transition2=0,
                     stage3=[16, 16], head=[], gap="late", dropout=0.0)   # keep 28x28, two pools, 7x7 at the end

Every net reads: stage 1 of 3x3 convs -> max-pool and a 1x1 transition (in either order) -> stage 2 of 3x3 convs
[-> a second max-pool, an optional 1x1 ``transition2`` -> stage 3 of 3x3 convs] -> the output head. Each stage has its
own padding (0 shrinks the map by 2 per conv, as in the seed; 1 keeps its side). A width of 0 removes that layer, and
a stage 3 of zeros removes the second pool too, so fixed-length lists of numbers cover shallower nets (what an
Optuna search over scalars needs). The head is either ``gap: early`` (global average pool, then 1x1 convs ``head``
and a 1x1 conv to the logits: the seed) or ``gap: late`` (1x1 convs ``head`` and the logits conv on the whole map,
then the pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_design.data import NUM_CLASSES
from mnist_design.models.net import ConvNet

GAP_POSITIONS = ("early", "late")


def stage(widths: Sequence[int], padding: int) -> list[dict]:
    """3x3 conv blocks of one stage; zero widths are left out."""
    return [{"conv": width, "padding": padding} if padding else {"conv": width} for width in widths if width]


def pool_and_squeeze(width: int, squeeze_first: bool) -> list[dict]:
    """Max-pool and a dropout-free 1x1 conv to ``width`` channels (none for 0), in the order asked for."""
    if not width:
        return [{"maxpool": 2}]
    squeeze = {"conv": width, "kernel": 1, "dropout": False}  # the seed keeps its transition dropout-free
    return [squeeze, {"maxpool": 2}] if squeeze_first else [{"maxpool": 2}, squeeze]


def family_layers(
    stage1: Sequence[int],
    transition: int,
    stage2: Sequence[int],
    head: Sequence[int] = (),
    gap: str = "early",
    squeeze_first: bool = False,
    padding: Sequence[int] = (0, 0, 0),
    transition2: int = 0,
    stage3: Sequence[int] = (),
    num_classes: int = NUM_CLASSES,
) -> list[dict]:
    """The ``ConvNet`` layer list of one family member."""
    if gap not in GAP_POSITIONS:
        raise ValueError(f"model.gap must be one of {', '.join(GAP_POSITIONS)}; got {gap!r}")
    if any(width < 0 for width in [*stage1, transition, *stage2, *head, transition2, *stage3]):
        raise ValueError("model widths must be >= 0 (0 removes the layer)")
    if len(padding) != 3 or any(p not in (0, 1) for p in padding):
        raise ValueError(f"model.padding must be three values of 0 or 1 (one per stage); got {list(padding)}")
    convs = stage(stage1, padding[0]) + pool_and_squeeze(transition, squeeze_first) + stage(stage2, padding[1])
    if any(stage3):
        convs += pool_and_squeeze(transition2, squeeze_first) + stage(stage3, padding[2])
    one_by_one = [{"conv": width, "kernel": 1} for width in head if width] + [{"conv": num_classes, "kernel": 1}]
    return [*convs, {"gap": True}, *one_by_one] if gap == "early" else [*convs, *one_by_one, {"gap": True}]


def family_net(batch_norm: bool = True, dropout: float = 0.0, num_classes: int = NUM_CLASSES,
               **design: Any) -> ConvNet:
    """A ConvNet of the family; ``design`` holds family_layers' arguments (stage1, transition, stage2, ...)."""
    return ConvNet(family_layers(**design, num_classes=num_classes), batch_norm=batch_norm, dropout=dropout,
                   num_classes=num_classes)
