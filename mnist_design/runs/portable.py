"""Repo-relative paths in what runs and studies record, so the evidence in results/ reads the same on every clone.

    portable("/work/main/results/runs/row4/seed_0")   # "results/runs/row4/seed_0": its checkout holds pyproject.toml
    make_portable(run_dir)                            # the same for every path in run_dir/.hydra/*.yaml

A path outside any checkout (a user's /tmp run) is kept as it is: there is no repository to be relative to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mnist_design.atomic import write_atomic
from mnist_design.runs.layout import RunDir

PROJECT_MARKER = "pyproject.toml"  # what marks a checkout's root


def project_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` that is a checkout of a project."""
    path = Path(path).absolute()
    return next((folder for folder in [path, *path.parents] if (folder / PROJECT_MARKER).is_file()), None)


def portable(path: str | Path) -> str:
    """``path`` relative to the checkout that holds it ("." for the root itself), or absolute outside any."""
    absolute = Path(path).absolute()
    root = project_root(absolute)
    return str(absolute.relative_to(root)) if root else str(absolute)


def relative_text(text: str, roots: Iterable[Path]) -> str:
    """Every occurrence of a root in text made relative: "<root>/x" becomes "x" and a bare "<root>" becomes "."."""
    for root in sorted({str(r) for r in roots}, key=len, reverse=True):
        text = re.sub(re.escape(root) + r"(?:/|(?![\w.+-]))", lambda m: "" if m.group().endswith("/") else ".", text)
    return text


def make_portable(run_dir: Path, *also: Path) -> None:
    """Rewrite the run's Hydra files (config, hydra, overrides) with repo-relative paths: relative to the checkout
    holding the run, the one it ran from, and those holding ``also`` (where its configs came from)."""
    folder = RunDir(run_dir).config.parent
    roots = [root for root in map(project_root, (run_dir, Path.cwd(), *also)) if root]
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        text = path.read_text()
        relative = relative_text(text, roots)
        if relative != text:
            write_atomic(path, relative.encode())
