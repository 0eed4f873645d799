"""The package's layout holds after a move: the packaging lists every folder, and what results/ committed (configs
naming module paths, checkpoints pickling classes) still loads."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO
from hydra.utils import get_object
from omegaconf import OmegaConf

from mnist_design.training.factory import classifier_from_checkpoint

COMMITTED_CONFIGS = sorted((REPO / "results").glob("**/.hydra/config.yaml"))
COMMITTED_CHECKPOINTS = sorted((REPO / "results").glob("**/checkpoints/last.ckpt"))


def test_the_wheel_holds_every_folder_of_the_package_and_the_configs(tmp_path: Path) -> None:
    """setup.py finds the packages: a new folder ships with no list to edit, and conf/ ships inside the package."""
    source = tmp_path / "source"  # built from a copy: setuptools leaves build/ beside the sources it builds
    for name in ("pyproject.toml", "setup.py", "README.md", "mnist_design", "conf", "results/research.yaml"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy(REPO / name, source / name)
    wheel_command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
    built = subprocess.run(
        [*wheel_command, "-q", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(next(tmp_path.glob("*.whl"))) as wheel:
        shipped = set(wheel.namelist())
    folders = {path.relative_to(REPO).as_posix() for path in (REPO / "mnist_design").glob("**/__init__.py")}
    configs = {f"mnist_design/{path.relative_to(REPO).as_posix()}" for path in (REPO / "conf").glob("**/*.yaml")}
    assert not folders - shipped, f"the wheel misses {sorted(folders - shipped)}"
    assert not configs - shipped, f"the wheel misses {sorted(configs - shipped)}"
    assert "mnist_design/results/research.yaml" in shipped


def targets(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for value in node.values() for t in targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in targets(value)]
    return []


def test_every_target_a_committed_config_names_still_imports() -> None:
    assert len(COMMITTED_CONFIGS) > 100
    named = {t for path in COMMITTED_CONFIGS for t in targets(OmegaConf.to_container(OmegaConf.load(path)))}
    assert any(t.startswith("mnist_design.callbacks.") for t in named)  # the paths from before the wings
    for target in sorted(named):
        assert get_object(target) is not None, target


@pytest.mark.parametrize("path", COMMITTED_CHECKPOINTS, ids=lambda p: str(p.relative_to(REPO / "results")))
def test_every_committed_checkpoint_loads(path: Path) -> None:
    model, settings = classifier_from_checkpoint(path)
    assert model.net is not None and "batch_size" in settings


MODULE_LINES = 300  # issue 44: a module one job long; a longer one is split by job


def test_no_module_is_longer_than_one_job() -> None:
    long = {
        path.relative_to(REPO).as_posix(): lines
        for path in (REPO / "mnist_design").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES
    }
    assert not long, f"over {MODULE_LINES} lines: {long}"


def test_no_symbolic_link_is_committed() -> None:
    """A link points into one machine (a data folder, a home): a fresh clone elsewhere would hold it dangling, and the
    first command would fail to write MNIST under data/."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-s"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    links = [line.split("\t", 1)[1] for line in listed.splitlines() if line.startswith("120000 ")]
    assert links == []
