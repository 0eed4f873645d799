"""The cost of a design, its ONNX export and int8 file, and the robustness suite (mnist_design/deploy/, shift/)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mnist_design.deploy import int8 as quantization
from mnist_design.deploy.cost import forward_cost
from mnist_design.deploy.onnx_model import TOLERANCE, ExportError
from mnist_design.deploy.record import INT8_FILE, RECORD_FILE, export_checkpoint
from mnist_design.shift.corruptions import CORRUPTIONS, COVERED, CorruptionError, corrupt
from mnist_design.shift.digits import font_digits, mnist_like
from mnist_design.shift.suite import CORRECT_FILE, build_sets, read_correct, robustness, score


def test_costs_match_a_hand_counted_two_layer_net() -> None:
    # conv 1->2, 3x3: 26x26x2 outputs x 9 MACs = 12,168; conv 2->10, 26x26: 10 outputs x 2x26x26 = 13,520
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.Conv2d(2, 10, 26, bias=False), nn.Flatten())
    cost = forward_cost(net)
    assert cost.params == 2 * 9 + 10 * 2 * 26 * 26
    assert cost.macs == 12_168 + 13_520
    assert cost.weight_bytes_fp32 == 4 * cost.params
    # the first conv holds the most: its input 28x28 plus its output 2x26x26 (the ReLU runs in place)
    assert cost.peak_activation_elements == 28 * 28 + 2 * 26 * 26
    assert net[0].weight.requires_grad and net.training  # counting leaves the net as it was


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_changes_images_and_keeps_shape_range_and_determinism(name: str) -> None:
    rng = np.random.default_rng(1)
    images = np.zeros((6, 28, 28), dtype=np.float32)
    images[:, 8:20, 12:16] = rng.uniform(0.6, 1.0, size=(6, 12, 4))  # a "1" of random ink
    corrupted = corrupt(name, images, severity=3, seed=0)
    assert corrupted.shape == images.shape and corrupted.dtype == np.float32
    assert corrupted.min() >= 0 and corrupted.max() <= 1
    assert not np.allclose(corrupted, images)
    assert np.array_equal(corrupted, corrupt(name, images, severity=3, seed=0))


def test_bad_corruption_names_and_severities_are_refused() -> None:
    images = np.zeros((1, 28, 28), dtype=np.float32)
    with pytest.raises(CorruptionError, match="corruptions=blur is not allowed: it must be one or more of shot_noise"):
        corrupt("blur", images, 3, 0)
    with pytest.raises(CorruptionError, match="severity=0 is not allowed: it must be 1 to 5"):
        corrupt("fog", images, 0, 0)


def test_the_suite_keeps_labels_and_groups_the_corruptions() -> None:
    images, labels = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32), np.arange(5)
    sets = build_sets(images, labels, ["rotate", "fog"], severity=2, seed=0)
    names = [s.name for s in sets]
    assert names[:3] == ["clean", "rotate", "fog"] and names[3:] == ["uci_digits", "fonts"]
    for s in sets[:3]:
        assert np.array_equal(s.labels, labels) and s.pixels.shape == (5, 1, 28, 28)
    assert [s.kind for s in sets[1:3]] == ["covered" if "rotate" in COVERED else "?", "not covered"]


def test_a_small_digit_is_centred_as_mnist_was() -> None:
    ink = np.zeros((8, 8))
    ink[1:5, 0:2] = 1.0  # 4 tall, 2 wide, in a corner: as load_digits' 8x8 images hold a stroke
    digit = mnist_like(ink)
    rows, _ = np.nonzero(digit > 0.05)
    assert rows.max() - rows.min() + 1 == 20  # the longer side scaled to 20 pixels
    mass_r, mass_c = (np.indices(digit.shape) * digit).sum(axis=(1, 2)) / digit.sum()
    assert abs(mass_r - 14) <= 0.5 and abs(mass_c - 14) <= 0.5


def test_font_digits_cover_every_digit_in_every_font() -> None:
    images, labels = font_digits()
    assert len(images) % 10 == 0 and len(images) >= 100
    assert np.array_equal(np.bincount(labels), np.full(10, len(images) // 10))


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The tiny run's checkpoint exported once: (checkpoint, folder, record)."""
    run, _ = tiny_run
    out_dir = tmp_path_factory.mktemp("deploy")
    ckpt = run / "checkpoints" / "last.ckpt"
    return ckpt, out_dir, export_checkpoint(ckpt, out_dir, calibration_images=200, latency_runs=5)


def test_export_reproduces_pytorch_and_records_both_precisions(exported) -> None:
    _, out_dir, record = exported
    assert record["float32"]["largest_logit_difference"] < TOLERANCE
    assert record["int8"]["calibration"] == {"split": "val", "images": 200}
    assert 0 < record["int8"]["weight_bytes"] < record["float32"]["weight_bytes"]
    for precision in ("float32", "int8"):
        assert 0 <= record[precision]["test_acc"] <= 1
        assert record[precision]["latency"]["runs"] == 5
    assert json.loads((out_dir / RECORD_FILE).read_text())["cost"] == record["cost"]


def test_a_failed_calibration_leaves_no_onnx_file(exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt, _, _ = exported

    def broken(*args, **kwargs) -> None:
        Path(args[1]).write_bytes(b"half an int8 model")
        raise RuntimeError("calibration ran out of range")

    monkeypatch.setattr(quantization, "quantize_static", broken)
    with pytest.raises(ExportError, match=r"int8 quantization of .* failed: calibration ran out of range"):
        export_checkpoint(ckpt, tmp_path, latency_runs=0, calibration_images=10)
    assert not (tmp_path / INT8_FILE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temporary folder left either


def test_the_suite_is_deterministic_and_keeps_per_image_bits(exported) -> None:
    ckpt, out_dir, _ = exported
    settings = {"data_dir": None, "int8": True, "calibration_images": 200, "latency_runs": 5}
    settings |= {"corruptions": ["fog", "rotate"], "severity": 3, "suite_seed": 0}
    first, sets = robustness(ckpt, out_dir, settings)
    second, _ = robustness(ckpt, out_dir, settings, sets)
    assert first == second
    assert set(first["groups"]) == {"covered", "not covered"}
    fog = first["sets"]["fog"]
    bits = read_correct(out_dir / CORRECT_FILE, "fog", "int8", fog["images"])
    assert bits.mean() == pytest.approx(fog["int8"])


def test_score_counts_right_answers_per_set(exported) -> None:
    _, out_dir, _ = exported
    pixels = np.zeros((4, 28, 28), dtype=np.float32)
    sets = build_sets(pixels, np.array([0, 1, 2, 3]), ["brightness"], severity=1, seed=0)
    record, correct = score(sets[:2], {"float32": out_dir / "model.onnx"})
    assert record["sets"]["clean"]["images"] == 4 and set(correct) == {"clean/float32", "brightness/float32"}
    assert record["sets"]["clean"]["float32"] in (0.0, 0.25, 0.5, 0.75, 1.0)


def test_export_refuses_a_network_it_cannot_reproduce(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mnist_design.deploy import onnx_model

    net = nn.Sequential(nn.Conv2d(1, 10, 28, bias=False), nn.Flatten()).eval()
    path = tmp_path / "m.onnx"
    onnx_model.export_onnx(net, 0.0, 1.0, path)
    pixels = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    assert onnx_model.largest_logit_difference(net, 0.0, 1.0, path, pixels) < TOLERANCE
    with torch.no_grad():
        net[0].weight.add_(1.0)  # PyTorch's weights move on; the file's do not
    with pytest.raises(ExportError, match="does not reproduce PyTorch: largest logit difference"):
        onnx_model.largest_logit_difference(net, 0.0, 1.0, path, pixels)
