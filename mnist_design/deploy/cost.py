"""The cost of one forward pass at batch 1, computed from the network itself, never typed.

    cost = forward_cost(net)   # Cost(params=7496, macs=..., weight_bytes_fp32=29984, peak_activation_elements=...)

MACs come from torch's FlopCounterMode (a multiply-accumulate is two FLOPs); peak activation memory is MCUNet's
definition: the largest input-plus-output of any single layer, the RAM an interpreter that frees tensors as soon as
the next layer has read them needs at least. BatchNorm, activations and dropout change a tensor element by element
(deployed, BatchNorm is folded into the conv before it and the rest run in place), so they count their output once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mnist_design.data import IMAGE_SIZE, IN_CHANNELS

FLOAT32_BYTES = 4


@dataclass(frozen=True)
class Cost:
    params: int  # every trained parameter (BatchNorm's running statistics are buffers, not counted)
    macs: int  # multiply-accumulates of one image's forward pass
    weight_bytes_fp32: int  # the parameters as float32
    peak_activation_elements: int  # largest input + output of one layer at batch 1

    @property
    def peak_activation_bytes_fp32(self) -> int:
        return self.peak_activation_elements * FLOAT32_BYTES

    def as_record(self) -> dict[str, int]:
        return {**asdict(self), "peak_activation_bytes_fp32": self.peak_activation_bytes_fp32}


def one_image() -> torch.Tensor:
    return torch.zeros(1, IN_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)


def multiply_accumulates(net: nn.Module) -> int:
    # no_grad, not inference_mode: under inference_mode FlopCounterMode sees no aten calls and reports 0.
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(one_image())
    return int(counter.get_total_flops()) // 2


def leaf_modules(net: nn.Module) -> list[nn.Module]:
    return [module for module in net.modules() if not list(module.children())]


ELEMENTWISE = (nn.BatchNorm2d, nn.ReLU, nn.Dropout, nn.Identity)  # run in place once deployed


def peak_activation_elements(net: nn.Module) -> int:
    """Largest input-plus-output element count of any leaf layer at batch 1."""
    sizes: list[int] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        in_place = isinstance(module, ELEMENTWISE)
        sizes.append(output.numel() if in_place else inputs[0].numel() + output.numel())

    hooks = [module.register_forward_hook(record) for module in leaf_modules(net)]
    try:
        with torch.no_grad():
            net(one_image())
    finally:
        for hook in hooks:
            hook.remove()
    return max(sizes)


def forward_cost(net: nn.Module) -> Cost:
    """The cost of ``net`` in eval mode (dropout off, BatchNorm on its running statistics), as it is deployed."""
    was_training = net.training
    net.eval()
    try:
        params = sum(p.numel() for p in net.parameters())
        return Cost(
            params=params,
            macs=multiply_accumulates(net),
            weight_bytes_fp32=params * FLOAT32_BYTES,
            peak_activation_elements=peak_activation_elements(net),
        )
    finally:
        net.train(was_training)
