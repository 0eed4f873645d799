"""Score an exported model, float32 and int8, on every set of the suite: the clean test set, its MNIST-C-like
corruptions, UCI digits and printed fonts.

    sets = build_sets(test_pixels, test_labels, names, severity=3, seed=0)   # built once, reused for every model
    record, correct = score(sets, {"float32": path, "int8": int8_path})

``record`` holds accuracies per set and the two corruption groups' means; ``correct`` holds, per set and precision,
which images were right, so two designs can be compared image by image (paired) when their seeds' weights are not all
there. Everything is deterministic: the same model and arguments give the same numbers.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_design.atomic import write_atomic
from mnist_design.deploy.onnx_model import logits, session
from mnist_design.shift.corruptions import COVERED, corrupt
from mnist_design.shift.digits import font_digits, uci_digits

CLEAN, DIGITS, FONTS = "clean", "uci_digits", "fonts"
RECORD_FILE = "robustness.json"
CORRECT_FILE = "robustness_correct.npz"  # packed bits: "<set>/<precision>" -> one bit per image, 1 = right


@dataclass(frozen=True)
class Set:
    name: str
    kind: str  # "clean", "covered", "not covered" (by the training augmentations), "digits"
    pixels: np.ndarray  # float32 [N, 1, 28, 28] in [0, 1]
    labels: np.ndarray


def build_sets(
    test_pixels: np.ndarray, test_labels: np.ndarray, names: list[str], severity: int, seed: int
) -> list[Set]:
    """The suite's images: ``test_pixels`` [N, 28, 28], each corruption of them, then UCI digits and fonts."""
    sets = [Set(CLEAN, "clean", test_pixels[:, None], test_labels)]
    for name in names:
        kind = "covered" if name in COVERED else "not covered"
        sets.append(Set(name, kind, corrupt(name, test_pixels, severity, seed)[:, None], test_labels))
    for name, (images, labels) in ((DIGITS, uci_digits()), (FONTS, font_digits())):
        sets.append(Set(name, "digits", images[:, None], labels))
    return sets


def score(sets: list[Set], models: dict[str, Path]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Accuracy of each model (precision -> ONNX file) on each set, and the per-image bits behind it."""
    runners = {precision: session(path) for precision, path in models.items()}
    record: dict[str, Any] = {"sets": {}, "groups": {}}
    correct: dict[str, np.ndarray] = {}
    for s in sets:
        entry: dict[str, Any] = {"kind": s.kind, "images": len(s.labels)}
        for precision, runner in runners.items():
            right = logits(runner, s.pixels).argmax(axis=1) == s.labels
            entry[precision] = float(right.mean())
            correct[f"{s.name}/{precision}"] = np.packbits(right)
        record["sets"][s.name] = entry
    for group in ("covered", "not covered"):
        members = [s.name for s in sets if s.kind == group]
        if members:
            record["groups"][group] = {
                "corruptions": members,
                **{p: float(np.mean([record["sets"][m][p] for m in members])) for p in runners},
            }
    return record, correct


def write(out_dir: Path, record: dict[str, Any], correct: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **correct)
    write_atomic(out_dir / CORRECT_FILE, buffer.getvalue())
    write_atomic(out_dir / RECORD_FILE, (json.dumps(record, indent=2) + "\n").encode())


def read_correct(path: Path, set_name: str, precision: str, images: int) -> np.ndarray:
    """The per-image right/wrong bits one record kept (a bool array of ``images``)."""
    with np.load(path) as bits:
        return np.unpackbits(bits[f"{set_name}/{precision}"])[:images].astype(bool)


def robustness(
    ckpt_path: str | Path,
    out_dir: Path,
    settings: dict[str, Any],
    sets: list[Set] | None = None,
) -> tuple[dict[str, Any], list[Set]]:
    """The suite for one checkpoint: exported first (``deploy.record``) unless ``out_dir`` holds its export already;
    ``sets`` built once when many checkpoints are scored: pass back the sets the first call returns.
    ``settings``: data_dir, int8, calibration_images, latency_runs, corruptions, severity, suite_seed."""
    from mnist_design.deploy.record import exported_or_export  # the export wing, one level up from here

    exported, checkpoint = exported_or_export(ckpt_path, out_dir, settings)
    if sets is None:
        pixels, labels = checkpoint.pixels("test")
        sets = build_sets(pixels[:, 0], labels, settings["corruptions"], settings["severity"], settings["suite_seed"])
    scored, correct = score(sets, {p: out_dir / exported[p]["file"] for p in ("float32", "int8") if p in exported})
    record = {
        "checkpoint": str(ckpt_path),
        "severity": settings["severity"],
        "suite_seed": settings["suite_seed"],
        **scored,
    }
    write(out_dir, record, correct)
    return record, sets
