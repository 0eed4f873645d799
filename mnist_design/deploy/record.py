"""Export a checkpoint: its cost, the float32 and int8 ONNX files, both checked and timed, and one record of it all.

    record = export_checkpoint(ckpt, out_dir, data_dir=None, int8=True, calibration_images=1000, latency_runs=300)

``out_dir`` receives ``model.onnx``, ``model.int8.onnx`` and ``export.json``. Calibration images come from the
checkpoint's validation split (its training split if it validated on the test set); accuracy is measured once, on
the test set, for both files side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from mnist_design.atomic import write_atomic
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.data.images import normalisation
from mnist_design.deploy import int8 as quantization
from mnist_design.deploy.cost import forward_cost
from mnist_design.deploy.latency import latency_ms
from mnist_design.deploy.onnx_model import TOLERANCE, export_onnx, largest_logit_difference, logits, session
from mnist_design.runs.metrics import TEST_ACC
from mnist_design.training import factory

FLOAT_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
RECORD_FILE = "export.json"


@dataclass
class Checkpoint:
    """A checkpoint's bare network, its normalisation, and its MNIST splits as float32 pixels in [0, 1]."""

    path: Path
    net: nn.Module
    mean: float
    std: float
    datamodule: MNISTDataModule

    @classmethod
    def load(cls, path: str | Path, data_dir: str | None = None) -> Checkpoint:
        model, settings = factory.classifier_from_checkpoint(path)
        if data_dir:
            settings["data_dir"] = data_dir
        datamodule = MNISTDataModule(**settings)
        datamodule.prepare_data()
        datamodule.setup()
        mean, std = normalisation(settings)
        return cls(Path(path), model.net.eval(), mean, std, datamodule)

    def pixels(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self.datamodule.splits[split]
        return (images.numpy()[:, None].astype(np.float32) / 255), labels.numpy()

    def calibration(self, count: int) -> tuple[str, np.ndarray]:
        """The images int8 calibration may see: never the test set, whatever protocol the run followed."""
        split = "train" if self.datamodule.hparams.val_on_test else "val"
        return split, self.pixels(split)[0][:count]


def files(out_dir: Path) -> tuple[Path, Path, Path]:
    return out_dir / FLOAT_FILE, out_dir / INT8_FILE, out_dir / RECORD_FILE


def accuracy(path: Path, pixels: np.ndarray, labels: np.ndarray) -> float:
    return float((logits(session(path), pixels).argmax(axis=1) == labels).mean())


def export_checkpoint(
    ckpt_path: str | Path,
    out_dir: Path,
    data_dir: str | None = None,
    int8: bool = True,
    calibration_images: int = 1000,
    latency_runs: int = 300,
    checkpoint: Checkpoint | None = None,
) -> dict[str, Any]:
    checkpoint = checkpoint or Checkpoint.load(ckpt_path, data_dir)
    float_path, int8_path, record_path = files(out_dir)
    split, calibration = checkpoint.calibration(calibration_images)
    export_onnx(checkpoint.net, checkpoint.mean, checkpoint.std, float_path)
    difference = largest_logit_difference(checkpoint.net, checkpoint.mean, checkpoint.std, float_path, calibration)
    test_pixels, test_labels = checkpoint.pixels("test")
    record: dict[str, Any] = {
        "checkpoint": str(ckpt_path),
        "cost": forward_cost(checkpoint.net).as_record(),
        "float32": {
            "file": FLOAT_FILE,
            "weight_bytes": quantization.initializer_bytes(float_path),
            "largest_logit_difference": difference,
            "tolerance": TOLERANCE,
            TEST_ACC: accuracy(float_path, test_pixels, test_labels),
            "latency": latency_ms(float_path, latency_runs) if latency_runs else None,
        },
    }
    if int8:
        quantization.quantize(float_path, int8_path, calibration)
        record["int8"] = {
            "file": INT8_FILE,
            "weight_bytes": quantization.initializer_bytes(int8_path),
            "calibration": {"split": split, "images": len(calibration)},
            TEST_ACC: accuracy(int8_path, test_pixels, test_labels),
            "latency": latency_ms(int8_path, latency_runs) if latency_runs else None,
        }
        record["int8_drop"] = record["float32"][TEST_ACC] - record["int8"][TEST_ACC]
    write_atomic(record_path, (json.dumps(record, indent=2) + "\n").encode())
    return record


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON record (export.json, robustness.json), or None where there is none or it cannot be read."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def exported_or_export(ckpt_path: str | Path, out_dir: Path, settings: dict[str, Any]) -> tuple[dict, Checkpoint]:
    """``out_dir``'s export of this checkpoint if it is whole (record, files, same checkpoint, int8 if asked), else a
    fresh export; and the checkpoint loaded."""
    checkpoint = Checkpoint.load(ckpt_path, settings.get("data_dir"))
    record = read_json(out_dir / RECORD_FILE)
    wanted = ("float32", "int8") if settings["int8"] else ("float32",)
    whole = (
        record is not None
        and record.get("checkpoint") == str(ckpt_path)
        and all(p in record and (out_dir / record[p]["file"]).is_file() for p in wanted)
    )
    if not whole:
        keys = ("data_dir", "int8", "calibration_images", "latency_runs")
        record = export_checkpoint(ckpt_path, out_dir, **{k: settings[k] for k in keys}, checkpoint=checkpoint)
    return record, checkpoint
