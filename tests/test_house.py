"""The package's layout holds after a move: the packaging lists every folder, and what results/ committed (configs
naming module paths, checkpoints pickling classes) still loads."""

from pathlib import Path

import pytest
import tomllib
from conftest import REPO
from hydra.utils import get_object
from omegaconf import OmegaConf

from mnist_design.training.factory import classifier_from_checkpoint

COMMITTED_CONFIGS = sorted((REPO / "results").glob("**/.hydra/config.yaml"))
COMMITTED_CHECKPOINTS = sorted((REPO / "results").glob("**/checkpoints/last.ckpt"))


def test_the_packaging_lists_every_folder_of_the_package() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(path.parent.relative_to(REPO).parts) for path in (REPO / "mnist_design").glob("**/__init__.py")}
    assert folders <= listed, f"pyproject.toml's packages miss {sorted(folders - listed)}"


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
