"""The layout of a run directory: the one place that names the files a run writes.

    run = RunDir("outputs/runs/2026-12-01_10-00-00_best_ab12")
    run.metrics            # .../metrics.json     (written last: its presence means "finished")
    run.history            # .../history.jsonl    (one line per epoch)
    run.config, run.overrides                     # .../.hydra/config.yaml, .../.hydra/overrides.yaml
    run.checkpoints, run.last_checkpoint          # .../checkpoints/, .../checkpoints/last.ckpt
    run.figure(LEARNING_CURVES)                   # .../learning_curves.png

Config files reach the same names through the ``run_file`` resolver: ``${run_file:${hydra:runtime.output_dir},history}``
is that run's history file. Renaming a file is one edit here: a finished run records the names it wrote in its
metrics file (``files``), and its files are read under those names, so runs written before a rename (the committed
evidence in results/) are still found. The metrics file itself is the anchor: its name is the one never recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

HYDRA_DIR = ".hydra"  # Hydra's own name for its output_subdir (conf/train.yaml sets it through a resolver)
FILES = {  # every file of a run, by the name code and YAML use for it
    "config": f"{HYDRA_DIR}/config.yaml",
    "overrides": f"{HYDRA_DIR}/overrides.yaml",
    "metrics": "metrics.json",
    "history": "history.jsonl",
    "checkpoints": "checkpoints",
    "last_checkpoint": "checkpoints/last.ckpt",
}
FIGURE_SUFFIX = ".png"
# The figures a run, an evaluation, the report or the front writes, each as NAME.png in its directory.
LEARNING_CURVES, PREDICTIONS, CONFUSION_MATRIX = "learning_curves", "predictions", "confusion_matrix"
ACCURACY_VS_PARAMETERS, FRONT = "accuracy_vs_parameters", "front"
FIGURES = (LEARNING_CURVES, PREDICTIONS, CONFUSION_MATRIX, ACCURACY_VS_PARAMETERS, FRONT)
STARTED = ("metrics", "history", "checkpoints")  # what a started or finished run leaves behind
RECORDED = "files"  # the metrics file's key that records the names the run's other files were written under


@dataclass(frozen=True)
class RunDir:
    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    def file(self, name: str) -> Path:
        """The run's file called ``name`` in FILES, under the name the run recorded for it if it did; a KeyError
        names the ones there are."""
        if name not in FILES:
            raise KeyError(f"no run file {name!r}; run files are {', '.join(FILES)}")
        recorded = self.recorded().get(name) if name != "metrics" else None
        return self.path / (recorded or FILES[name])

    def recorded(self) -> dict[str, str]:
        """The file names the finished run recorded in its metrics file ({} before it finished, or if unreadable)."""
        try:
            files = json.loads((self.path / FILES["metrics"]).read_text()).get(RECORDED)
        except (OSError, ValueError, AttributeError):
            return {}
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    @property
    def config(self) -> Path:
        return self.file("config")

    @property
    def overrides(self) -> Path:
        return self.file("overrides")

    @property
    def metrics(self) -> Path:
        return self.file("metrics")

    @property
    def history(self) -> Path:
        return self.file("history")

    @property
    def checkpoints(self) -> Path:
        return self.file("checkpoints")

    @property
    def last_checkpoint(self) -> Path:
        return self.file("last_checkpoint")

    def figure(self, name: str) -> Path:
        if name not in FIGURES:
            raise KeyError(f"no figure {name!r}; figures are {', '.join(FIGURES)}")
        return self.path / f"{name}{FIGURE_SUFFIX}"

    def started(self) -> list[str]:
        """The files of a started or finished run that are already there (a fresh directory has none)."""
        return [FILES[name] for name in STARTED if self.file(name).exists()]

    def finished(self) -> bool:
        return self.metrics.is_file()


def recorded_names() -> dict[str, str]:
    """What a finished run records under RECORDED: every run file's name but the metrics file's own."""
    return {name: path for name, path in FILES.items() if name != "metrics"}


def file_name(name: str) -> str:
    """A run file's base name (e.g. 'metrics.json'), to find runs below a folder."""
    return Path(FILES[name]).name


# ${run_file:DIR,NAME} is DIR's file NAME; ${run_file_stem:NAME} its name without suffix (ModelCheckpoint adds .ckpt).
OmegaConf.register_new_resolver("run_file", lambda run_dir, name: str(RunDir(run_dir).file(name)), replace=True)
OmegaConf.register_new_resolver("run_file_stem", lambda name: Path(FILES[name]).stem, replace=True)
