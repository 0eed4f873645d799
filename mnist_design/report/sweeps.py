"""Train what the report needs: one Hydra multirun of the train command per part, each with its own seeds."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from mnist_design.config import check_options


def joined(values: Sequence) -> str:
    return ",".join(str(v) for v in values)


def sweeps(cfg: DictConfig) -> dict[str, list[str]]:
    """Each part's overrides for `python -m mnist_design.train -m`."""
    for key, group in (("recipes", "recipe"), ("designs", "experiment"), ("steps", "step")):
        check_options(key, group, list(cfg[key]))  # a typo fails here, not after hours of other sweeps
    parts = {"table": [f"seed={joined(cfg.seeds)}", "experiment=row1,row2,row3,row4"]}
    if cfg.schedulers:  # onecycle on the best model is row 4 itself
        parts["schedulers"] = [
            f"seed={joined(cfg.seeds)}",
            "scheduler=none,step,plateau",
            "+tags.scheduler=${hydra:runtime.choices.scheduler}",
        ]
    if cfg.recipes:
        parts["recipes"] = [f"seed={joined(cfg.recipe_seeds)}", f"recipe={joined(cfg.recipes)}"]
    if cfg.designs:
        parts["designs"] = [f"seed={joined(cfg.design_seeds)}", f"experiment={joined(cfg.designs)}"]
    if cfg.steps:  # every step is compared with the base step on the same seeds
        parts["steps"] = [f"seed={joined(cfg.step_seeds)}", f"step={joined(['base', *cfg.steps])}"]
    return parts


def train_sweeps(cfg: DictConfig, runs_dir: Path) -> None:
    for name, overrides in sweeps(cfg).items():
        command = [
            sys.executable,
            "-m",
            "mnist_design.train",
            "-m",
            *overrides,
            "callbacks.model_summary=null",
            f"hydra.sweep.dir={runs_dir / name}",
            *cfg.train_overrides,
        ]
        print("running:", " ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)
