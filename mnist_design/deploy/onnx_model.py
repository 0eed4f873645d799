"""The bare network as an ONNX file that takes pixels in [0, 1], checked against PyTorch on real images.

    export_onnx(net, mean, std, path)                    # torch.onnx.export(..., dynamo=True), batch size dynamic
    largest_logit_difference(net, mean, std, path, images)   # PyTorch against ONNX Runtime on the same images

The file holds the normalisation the model was trained with, so a user feeds it MNIST-like pixels and nothing else.
Exported is the bare network, not the LightningModule's forward (which may average rotated views at test time).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError

INPUT = "pixels"  # [N, 1, 28, 28] float32 in [0, 1], light digit on black, as MNIST
OUTPUT = "logits"  # [N, 10]
TOLERANCE = 1e-4  # the largest absolute logit difference allowed between PyTorch and ONNX Runtime


class ExportError(UserError):
    """An export that failed or does not reproduce PyTorch; the message names the file and the difference."""

    status = 3


class Normalised(nn.Module):
    """pixels in [0, 1] -> the trained network's logits."""

    def __init__(self, net: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.net, self.mean, self.std = net, float(mean), float(std)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net((pixels - self.mean) / self.std)


def export_onnx(net: nn.Module, mean: float, std: float, path: Path) -> None:
    """Write ``path`` whole or not at all; an exporter failure becomes one ExportError naming the file."""
    model = Normalised(net, mean, std).eval()
    example = torch.zeros(2, 1, 28, 28)
    buffer = io.BytesIO()
    try:
        # The exporter's passes print progress to stdout; a command prints its own one-line summary instead.
        with warnings.catch_warnings(), quiet_exporter(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_shapes={"pixels": {0: torch.export.Dim("batch")}},
                verbose=False,
            )
            program.save(buffer)
    except Exception as error:  # the exporter raises many kinds; the user needs the file and the first line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"ONNX export to {path} failed: {first}") from error
    write_atomic(path, buffer.getvalue())


class quiet_exporter:
    """The dynamo exporter logs every pass at INFO through the root handlers; a command prints its own summary."""

    def __enter__(self) -> None:
        names = ("torch.onnx", "onnxscript", "onnx_ir", "torch.export")
        self.saved = {name: logging.getLogger(name).level for name in names}
        for name in self.saved:
            logging.getLogger(name).setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        for name, level in self.saved.items():
            logging.getLogger(name).setLevel(level)


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with ``threads`` intra-op threads (one by default: the latency figures are single-threaded)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for a missing or damaged file
        raise ExportError(f"{path} cannot be loaded by ONNX Runtime: {str(error).splitlines()[0]}") from error


def logits(runner: ort.InferenceSession, pixels: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Logits of [N, 1, 28, 28] float32 pixels, in batches."""
    parts = [runner.run([OUTPUT], {INPUT: pixels[i : i + batch]})[0] for i in range(0, len(pixels), batch)]
    return np.concatenate(parts)


@torch.no_grad()
def largest_logit_difference(net: nn.Module, mean: float, std: float, path: Path, pixels: np.ndarray) -> float:
    """The largest |PyTorch - ONNX Runtime| logit over ``pixels``; above TOLERANCE it is an ExportError."""
    reference = Normalised(net, mean, std).eval()(torch.from_numpy(pixels)).numpy()
    difference = float(np.abs(reference - logits(session(path), pixels)).max())
    if not difference <= TOLERANCE:
        raise ExportError(
            f"{path} does not reproduce PyTorch: largest logit difference {difference:.2e} > tolerance {TOLERANCE:g}"
        )
    return difference
