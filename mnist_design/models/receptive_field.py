"""The tutorial's receptive-field table, computed by walking a model's layers (nothing hard-coded).

For each layer that moves pixels (conv, max-pool, average-pool): N = side length, CH = channels, j = jump (input
pixels between neighbouring outputs), r = receptive field, with
    N_out = (N_in + 2p - k) // s + 1,   j_out = j_in * s,   r_out = r_in + (k - 1) * j_in.

    print(field_table(receptive_fields(net)))
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from tabulate import tabulate
from torch import nn

from mnist_design.data import IMAGE_SIZE, IN_CHANNELS


@dataclass
class Row:
    operation: str
    n_in: int
    n_out: int
    ch_in: int
    ch_out: int
    padding: int
    kernel: int
    stride: int
    j_in: int
    j_out: int
    r_in: int
    r_out: int


HEADER = [
    "OPERATION",
    "N<sub>in</sub>",
    "N<sub>out</sub>",
    "CH<sub>in</sub>",
    "CH<sub>out</sub>",
    "Padding",
    "Kernel",
    "Stride",
    "j<sub>in</sub>",
    "j<sub>out</sub>",
    "r<sub>in</sub>",
    "r<sub>out</sub>",
]


def first(value: int | tuple[int, ...]) -> int:
    """Square kernels only: (3, 3) -> 3."""
    return value[0] if isinstance(value, tuple) else value


def geometry(layer: nn.Module, n_in: int, ch_in: int) -> tuple[str, int, int, int, int] | None:
    """(operation, channels out, padding, kernel, stride) for layers that move pixels; None for the others."""
    if isinstance(layer, nn.Conv2d):
        operation = "DEPTHWISE" if layer.groups > 1 else "CONVOLUTION"  # a separable conv's first half
        return operation, layer.out_channels, first(layer.padding), first(layer.kernel_size), first(layer.stride)
    if isinstance(layer, nn.MaxPool2d):
        kernel = first(layer.kernel_size)
        return "MaxPool", ch_in, first(layer.padding), kernel, first(layer.stride or kernel)
    if isinstance(layer, nn.AvgPool2d):
        kernel = first(layer.kernel_size)
        return (
            ("GAP" if kernel == n_in else "AvgPool"),
            ch_in,
            first(layer.padding),
            kernel,
            first(layer.stride or kernel),
        )
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        return "GAP", ch_in, 0, n_in, 1
    return None


def receptive_fields(net: nn.Module, image_size: int = IMAGE_SIZE, in_channels: int = IN_CHANNELS) -> list[Row]:
    rows, n, ch, j, r = [], image_size, in_channels, 1, 1
    for layer in net.modules():
        if any(True for _ in layer.children()):
            continue  # containers: their leaves come next, in forward order
        found = geometry(layer, n, ch)
        if found is None:
            continue
        operation, ch_out, padding, kernel, stride = found
        n_out = (n + 2 * padding - kernel) // stride + 1
        row = Row(operation, n, n_out, ch, ch_out, padding, kernel, stride, j, j * stride, r, r + (kernel - 1) * j)
        rows.append(row)
        n, ch, j, r = row.n_out, row.ch_out, row.j_out, row.r_out
    return rows


def field_table(rows: list[Row]) -> str:
    """The table as GitHub markdown (tabulate), centred like the tutorial's."""
    body = [[f"**{name}**", *numbers] for name, *numbers in map(astuple, rows)]
    return tabulate(body, headers=HEADER, tablefmt="pipe", stralign="center", numalign="center")
