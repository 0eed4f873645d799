"""int8 static quantization with ONNX Runtime: QDQ format, per-channel weights, calibrated on validation images.

    quantize(float_path, int8_path, calibration_pixels)   # never the test set: calibration is a choice
    initializer_bytes(int8_path)                           # what the weights weigh in the file

The float model is first prepared as ONNX Runtime's docs ask (``quant_pre_process``: shape inference and graph
optimisation, which folds BatchNorm into the conv before it). Everything is written in a temporary folder and only
the finished int8 file is moved into place, so a failed calibration leaves no half-written ``.onnx`` behind.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from mnist_design.atomic import write_atomic
from mnist_design.deploy.onnx_model import INPUT, ExportError

CALIBRATION_BATCH = 100


class Batches(CalibrationDataReader):
    """Calibration pixels fed in batches of CALIBRATION_BATCH, as ONNX Runtime's calibrators expect."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.batches = iter([pixels[i : i + CALIBRATION_BATCH] for i in range(0, len(pixels), CALIBRATION_BATCH)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {INPUT: batch}


def quantize(float_path: Path, int8_path: Path, calibration_pixels: np.ndarray) -> None:
    """int8 QDQ model of ``float_path`` at ``int8_path`` (uint8 activations, int8 per-channel weights, MinMax)."""
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=int8_path.parent) as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # its graph passes print progress to stdout
                quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared),
                str(quantized),
                Batches(calibration_pixels),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
            )
        except Exception as error:  # ONNX Runtime's quantizer raises many kinds; name the file and the first line
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ExportError(f"int8 quantization of {float_path} failed: {first}") from error
        write_atomic(int8_path, quantized.read_bytes())


def initializer_bytes(path: Path) -> int:
    """Bytes of every constant the model file stores (weights, biases, scales, zero points): its weight memory."""
    model = onnx.load(str(path))
    return sum(onnx.numpy_helper.to_array(tensor).nbytes for tensor in model.graph.initializer)
