"""The design family as a handful of numbers, so a design search can propose nets (conf/model/family.yaml).

    net = family_net(stage1=[8, 16], transition=8, stage2=[12, 16, 20], head=[16], dropout=0.05)  # = model=best
    net = family_net(stage1=[4, 4, 4], padding=[1, 1, 1], transition=0, stage2=[8, 8, 8], stage3=[8, 8, 8],
                     head=[], dropout=0.01)                            # three padded stages, two pools, 7x7 at the end
    net = family_net(stage1=[8], transition=0, stage2=[26, 26], separable=[False, True, False], padding=[0, 1, 0],
                     head=[16])                                        # depthwise-separable convs in stage 2

Every net reads: stage 1 of 3x3 convs (its first conv 3x3 or 5x5) -> max-pool and a 1x1 transition (in either
order) -> stage 2 of 3x3 convs [-> a second max-pool, an optional 1x1 ``transition2`` -> stage 3 of 3x3 convs] ->
the output head. Each stage has its own padding (0 shrinks the map by 2 per conv, as in the tutorial; 1 keeps its side)
and its own conv type (dense, or depthwise-separable: a depthwise 3x3 then a pointwise 1x1). A width of 0 removes
that layer, and a stage 3 of zeros removes the second pool too, so fixed-length lists of numbers cover shallower nets
(what an Optuna search over scalars needs). The head is either ``gap: early`` (global average pool, then 1x1 convs
``head`` and a 1x1 conv to the logits: the seed) or ``gap: late`` (1x1 convs ``head`` and the logits conv on the
whole map, then the pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mnist_design.data import NUM_CLASSES
from mnist_design.models.net import ConvNet

GAP_POSITIONS = ("early", "late")
FIRST_KERNELS = (3, 5)  # the first conv sees raw pixels: a 5x5 there widens the receptive field at 1 input channel
STAGES = 3


def stage(widths: Sequence[int], padding: int, separable: bool, first_kernel: int = 3) -> list[dict]:
    """The conv blocks of one stage; zero widths are left out. Only the first block may get ``first_kernel``."""
    blocks = []
    for width in (w for w in widths if w):
        block: dict = {"conv": width}
        kernel = first_kernel if not blocks else 3
        if kernel != 3:
            block["kernel"] = kernel
        if padding:
            block["padding"] = padding * (kernel // 2)  # "keeps its side" for a 5x5 too
        if separable:
            block["separable"] = True
        blocks.append(block)
    return blocks


def pool_and_squeeze(width: int, squeeze_first: bool) -> list[dict]:
    """Max-pool and a dropout-free 1x1 conv to ``width`` channels (none for 0), in the order asked for."""
    if not width:
        return [{"maxpool": 2}]
    squeeze = {"conv": width, "kernel": 1, "dropout": False}  # the tutorial keeps its transition dropout-free
    return [squeeze, {"maxpool": 2}] if squeeze_first else [{"maxpool": 2}, squeeze]


def check_design(
    widths: Sequence[int], gap: str, padding: Sequence[int], separable: Sequence[bool], first_kernel: int
) -> None:
    """The family's own ranges, each with the key and what is allowed (config.validate builds the net to ask)."""
    if gap not in GAP_POSITIONS:
        raise ValueError(f"model.gap must be one of {', '.join(GAP_POSITIONS)}; got {gap!r}")
    if any(width < 0 for width in widths):
        raise ValueError("model widths must be >= 0 (0 removes the layer)")
    if len(padding) != STAGES or any(p not in (0, 1) for p in padding):
        raise ValueError(f"model.padding must be three values of 0 or 1 (one per stage); got {list(padding)}")
    if len(separable) != STAGES:
        raise ValueError(f"model.separable must be three true/false values (one per stage); got {list(separable)}")
    if first_kernel not in FIRST_KERNELS:
        raise ValueError(f"model.first_kernel must be one of {', '.join(map(str, FIRST_KERNELS))}; got {first_kernel}")


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
    separable: Sequence[bool] = (False, False, False),
    first_kernel: int = 3,
    num_classes: int = NUM_CLASSES,
) -> list[dict]:
    """The ``ConvNet`` layer list of one family member."""
    check_design([*stage1, transition, *stage2, *head, transition2, *stage3], gap, padding, separable, first_kernel)
    convs = (
        stage(stage1, padding[0], separable[0], first_kernel)
        + pool_and_squeeze(transition, squeeze_first)
        + stage(stage2, padding[1], separable[1])
    )
    if any(stage3):
        convs += pool_and_squeeze(transition2, squeeze_first) + stage(stage3, padding[2], separable[2])
    one_by_one = [{"conv": width, "kernel": 1} for width in head if width] + [{"conv": num_classes, "kernel": 1}]
    return [*convs, {"gap": True}, *one_by_one] if gap == "early" else [*convs, *one_by_one, {"gap": True}]


def family_net(batch_norm: bool = True, dropout: float = 0.0, num_classes: int = NUM_CLASSES, **design: Any) -> ConvNet:
    """A ConvNet of the family; ``design`` holds family_layers' arguments (stage1, transition, stage2, ...)."""
    return ConvNet(
        family_layers(**design, num_classes=num_classes),
        batch_norm=batch_norm,
        dropout=dropout,
        num_classes=num_classes,
    )
