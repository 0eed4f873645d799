"""A run's results on disk: the one place that writes and reads its metrics, history, figures and tags.

    write_metrics(run_dir, {"val_acc": 0.99, "tags": {"row": "row4"}, ...})
    run = read_run(run_dir)                       # Run(path, metrics, history); run.tag("row") == "row4"
    runs, problems = collect(["outputs/multiruns"])   # every finished run below; unreadable ones named in problems

Tags are written at run time from the config's ``tags`` (an experiment or recipe sets them), so readers group runs
by what they are, never by file or folder names. The files' names are mnist_design/runs/layout.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError
from mnist_design.runs import figures
from mnist_design.runs.layout import FIGURES, RunDir, file_name
from mnist_design.runs.metrics import epoch_keys, hparam_keys, record_key


class RunUnreadable(UserError):
    """A run directory whose metrics file is missing, truncated or not a JSON object; the message names the file."""


@dataclass
class Run:
    path: Path
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def tags(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.metrics.get("tags") or {}).items()}

    def tag(self, key: str) -> str:
        """The run's tag ``key``; '' when it has none."""
        return self.tags.get(key, "")

    @property
    def dir(self) -> RunDir:
        return RunDir(self.path)

    @property
    def figures(self) -> dict[str, Path]:
        """The figures the run drew, by name (learning_curves, predictions, confusion_matrix)."""
        return {name: self.dir.figure(name) for name in FIGURES if self.dir.figure(name).is_file()}

    @property
    def checkpoint(self) -> Path | None:
        """The weights of the final epoch (what the test numbers measured), or None without checkpoints."""
        return self.dir.last_checkpoint if self.dir.last_checkpoint.is_file() else None

    @property
    def config(self) -> Any:
        """The config the run was composed with (its saved Hydra config)."""
        return OmegaConf.load(self.dir.config)

    @property
    def seed(self) -> int:
        return int(self.metrics.get("seed", 0))


def write_config(run_dir: Path, cfg: Any, overrides: Sequence[str]) -> None:
    """The config and overrides files, as @hydra.main writes them, for a run composed in process (a search trial, a
    selection run), so resume= and the report read it like any other run."""
    files = RunDir(run_dir)
    files.config.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, files.config, resolve=False)
    OmegaConf.save(OmegaConf.create(list(overrides)), files.overrides)


def write_metrics(run_dir: Path, metrics: Mapping[str, Any]) -> Path:
    """The metrics file, written atomically: a reader sees the old file or the whole new one."""
    path = RunDir(run_dir).metrics
    write_atomic(path, (json.dumps(metrics, indent=2) + "\n").encode())
    return path


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = RunDir(run_dir).metrics
    try:
        metrics = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunUnreadable(f"{path} does not exist: the run has not finished") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunUnreadable(
            f"{path} is unreadable or truncated ({type(error).__name__}); rerun or remove that run"
        ) from None
    if not isinstance(metrics, dict):
        raise RunUnreadable(f"{path} is not a JSON object; rerun or remove that run")
    return metrics


def append_history(path: Path, record: Mapping[str, float]) -> None:
    """One line per epoch, appended: a resumed run adds to it, and readers keep the last record of each epoch."""
    with open(path, "a") as f:
        f.write(json.dumps(dict(record)) + "\n")


def read_history(path: Path) -> list[dict[str, float]]:
    """The history file's last record of each epoch in epoch order; a torn last line (a kill mid-write) is skipped."""
    if not path.is_file():
        return []
    by_epoch = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "epoch" in record:
            by_epoch[record["epoch"]] = record
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def final_epoch(history: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The train/val numbers of the last finished epoch (also right for a resumed run that only tested)."""
    return {key: history[-1][key] for key in epoch_keys() if key in history[-1]} if history else {}


RUN_KEYS = ("seed", "tags")  # what every metrics file this project writes holds (a foreign one has neither)


def check_run_metrics(path: Path, metrics: Mapping[str, Any]) -> None:
    """A metrics file written by a run of this project: its own keys, and every metric a number (not null)."""
    missing = [key for key in RUN_KEYS if key not in metrics]
    if missing:
        raise RunUnreadable(f"{path} is not a run of this project (no {', '.join(missing)}); skipped")
    measured = {*epoch_keys(), *hparam_keys()}
    bad = [key for key, value in metrics.items() if key in measured and not isinstance(value, (int, float))]
    if bad or not isinstance(metrics["tags"], dict):
        raise RunUnreadable(f"{path}: {', '.join(bad) or 'tags'} is not a number (or tags not a mapping); skipped")


def read_run(run_dir: Path) -> Run:
    files = RunDir(run_dir)
    metrics = read_metrics(files.path)
    check_run_metrics(files.metrics, metrics)
    return Run(files.path, metrics, read_history(files.history))


def collect(roots: Iterable[str | Path]) -> tuple[list[Run], list[str]]:
    """Every finished run (a metrics file) below the roots, and one line per run that could not be read."""
    runs, problems = [], []
    for root in roots:
        for metrics_file in sorted(Path(root).rglob(file_name("metrics"))):
            try:
                run = read_run(metrics_file.parent)
            except RunUnreadable as error:
                problems.append(str(error))
                continue
            if run.tag("debug"):  # fast_dev_run, overfit, ...: never a result
                problems.append(f"{metrics_file}: a debug={run.tag('debug')} run, never reported; skipped")
                continue
            runs.append(run)
    return runs, problems


def scalars(logged: Mapping[str, Any]) -> dict[str, float]:
    """Lightning's logged "test/acc" -> "test_acc", as floats."""
    return {record_key(name): float(value) for name, value in logged.items() if "/" in name}


def write_figures(out_dir: Path, named: Mapping[str, Any], logger: Any = None) -> list[Path]:
    """Each figure as the run's figure file NAME, and as a TensorBoard image when a TensorBoard logger is given."""
    written = []
    for name, fig in named.items():
        path = figures.save(fig, RunDir(out_dir).figure(name))
        if hasattr(getattr(logger, "experiment", None), "add_image"):
            # the saved file itself: add_figure would draw the figure a second time, half a short run's figure cost
            logger.experiment.add_image(f"figures/{name}", figures.pixels(path), dataformats="HWC")
        written.append(path)
    return written


HPARAM_GROUPS = ("data", "model", "optimizer", "scheduler", "augment", "module")  # whose values HParams shows


def hparams(cfg: Any) -> dict[str, Any]:
    """What a run was, flat, for TensorBoard's HParams table: config choices, tags and the key values (the choices and
    what was typed from the hydra node the config carries: config.runtime)."""
    runtime = cfg.hydra
    # "choice/": every config group's option (Hydra's own groups aside); the module's own hyperparameters (logged by
    # Lightning at fit start) use the bare group names. "override/": what was typed or searched, key by key.
    flat: dict[str, Any] = {
        f"choice/{group}": str(option)
        for group, option in runtime.runtime.choices.items()
        if not group.startswith("hydra")
    }
    flat.update({f"tag/{key}": str(value) for key, value in (cfg.get("tags") or {}).items()})
    for typed in runtime.overrides.task:
        key, _, value = str(typed).lstrip("+~").partition("=")
        flat[f"override/{key}"] = value
    flat.update({"seed": cfg.seed, "trainer.max_epochs": cfg.trainer.max_epochs})
    for group in HPARAM_GROUPS:  # every scalar each group was composed with: a new knob appears with no edit here
        node = OmegaConf.to_container(cfg[group], resolve=True) if OmegaConf.is_config(cfg.get(group)) else {}
        flat.update(
            {
                f"{group}.{key}": value
                for key, value in node.items()
                if not key.startswith("_") and isinstance(value, (int, float, str, bool)) and value is not None
            }
        )
    return flat


def hparam_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The final numbers shown beside the hyperparameters (under "final/" so they do not mix with the curves)."""
    return {f"final/{key}": float(metrics[key]) for key in (*hparam_keys(), "params", "seconds") if key in metrics}
