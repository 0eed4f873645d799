"""Checks Hydra runs before it creates a run directory, so a bad directory is one line, not a traceback or a loss.

Hydra makes the run (or sweep) directory and writes ``.hydra/`` into it before any task code runs, so these checks
are a Hydra callback (``hydra.callbacks`` in each entry point's config): they run first.

    python -m mnist_design.train hydra.run.dir=outputs/runs/<finished run>   ->  error: ... already holds a run

A command refused after Hydra made its run directory (a value out of range) takes that directory away again, if it
holds nothing but Hydra's record of the command and empty files: ``outputs/runs/`` lists runs, not mistakes; a
search's study keeps no record of an invocation that never ran.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from mnist_design.errors import ON_REFUSAL, UserError, exit_on_user_error
from mnist_design.runs.layout import HYDRA_DIR, RunDir


class RunDirRefused(UserError):
    """A run directory that holds a run already, is a file, or cannot be written; the message names it."""


def os_problem(path: Path, error: OSError) -> str:
    reason = error.strerror or errno.errorcode.get(error.errno or 0, str(error))
    return f"cannot create {path}: {reason}; choose a writable directory (hydra.run.dir=... or out_dir=...)"


def probe_write(folder: Path) -> None:
    """Create and remove a file in ``folder``: the one way to learn that it takes files (permissions, a read-only
    mount, a full disk's inodes); raises the OSError that says why not."""
    probe = folder / f".write-probe-{os.getpid()}"
    probe.touch()
    probe.unlink()


def not_made_yet(path: Path) -> list[Path]:
    """``path`` and the folders above it that do not exist yet, innermost first."""
    return [p for p in [path, *path.parents] if not os.path.lexists(p)]


def remove_empty(folders: list[Path]) -> None:
    """Remove each folder that is empty, innermost first; one that holds anything (or refuses) stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


def check_creatable(path: Path) -> None:
    """The directory exists or can be made, and takes files; else one line naming it and the OS error."""
    created = not_made_yet(path)
    try:
        if path.exists() and not path.is_dir():
            raise RunDirRefused(f"{path} is a file, not a directory; choose another run directory")
        path.mkdir(parents=True, exist_ok=True)
        probe_write(path)
    except OSError as error:
        raise RunDirRefused(os_problem(path, error)) from None
    finally:  # Hydra makes the directory itself (its ${now:} may resolve a second later): leave nothing behind
        remove_empty(created)


def check_run_dir(path: Path, fresh: bool) -> None:
    """A directory a run may write into: new (when ``fresh``: a resume continues an old one instead) and writable."""
    if fresh:
        try:
            held = RunDir(path).started()
        except OSError as error:  # a name too long to even look up
            raise RunDirRefused(os_problem(path, error)) from None
        if held:
            raise RunDirRefused(
                f"hydra.run.dir={path} already holds a run ({', '.join(held)}); choose a new directory, or "
                f"continue a killed run with resume={path}"
            )
    check_creatable(path)


def only_traces(path: Path, before: set[Path], record: Path | None) -> list[Path] | None:
    """The empty files a refused command started in ``path`` (Hydra's job log), or None where it left anything else
    there beside its ``record``: then the directory holds a command's work, and all of it stays."""
    traces = []
    for item in path.iterdir():
        if item in before or (record is not None and item in (record, *record.parents)):
            continue
        if not (item.is_file() and item.stat().st_size == 0):
            return None
        traces.append(item)
    return traces


def discard_unused(path: Path, record: Path | None, before: set[Path], made: list[Path]) -> None:
    """Take away what a refused command left in its run directory ``path``: Hydra's record of the command
    (``record``: .hydra/, a search's invocations/<time>/, a sweep's multirun.yaml) and empty files, if that is all
    it left; then the folders made for it that are empty now. A refused command would otherwise leave a directory
    that looks like a run, or a study invocation that never ran."""
    try:
        traces = only_traces(path, before, record)
        if traces is None:
            return
        if record is not None and record.is_dir():
            shutil.rmtree(record, ignore_errors=True)
        elif record is not None:
            record.unlink(missing_ok=True)
        for trace in traces:
            trace.unlink()
    except OSError:
        return  # nothing to tidy, or the file system says no: the refusal's own line is what matters
    below = [folder for folder in record.parents if path in folder.parents] if record is not None else []
    remove_empty([*below, *made])


def tidy_for(path: Path, record: str | None = HYDRA_DIR) -> Callable[[], None]:
    """What takes away, after a refusal, the run directory ``path`` (if this command makes it) or this command's
    ``record`` in it (Hydra's output_subdir), with the empty files it starts there; what was there before stays."""
    try:
        before = set(path.iterdir()) if path.is_dir() else set()
    except OSError:
        before = set()
    own_record = path / record if record and not os.path.lexists(path / record) else None
    made = not_made_yet(path)
    return lambda: discard_unused(path, own_record, before, made)


SWEEP_RECORD = "multirun.yaml"  # Hydra's record of a multirun, in its sweep directory (hydra's basic_sweeper.py)


class RunDirCheck(Callback):
    """Refuse a run directory that already holds a run (``resume=`` continues one) or that cannot be written."""

    def __init__(self, fresh_only: bool = True) -> None:
        self.fresh_only = fresh_only  # train: a new run never writes into an old one; a resume sets resume= instead
        self.tidy: Callable[[], None] | None = None  # what a refusal does with the directory Hydra made for this job
        self.sweep_tidy: Callable[[], None] = lambda: None  # and, in a multirun, with the sweep directory

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)  # the run dir interpolates ${hydra:...}; Hydra sets it later itself
        path = Path(str(config.hydra.run.dir))
        with exit_on_user_error():
            check_run_dir(path, self.fresh_only and not config.get("resume"))
        # Hydra is about to make it, or write its record of the command into it: a refusal takes that away again
        self.tidy = tidy_for(path, config.hydra.output_subdir)
        ON_REFUSAL.append(self.tidy)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return  # a single run's directory is on_run_start's
        job_dir, subdir = Path(config.hydra.runtime.output_dir), config.hydra.output_subdir
        record = job_dir / subdir if subdir else None

        def tidy() -> None:  # Hydra has just made the job's directory and its record: a refusal takes both away,
            discard_unused(job_dir, record, set(), [job_dir])
            self.sweep_tidy()  # then the sweep's directory, if nothing else is in it

        self.tidy = tidy
        ON_REFUSAL.append(tidy)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if self.tidy in ON_REFUSAL:  # the job ended without a refusal: its directory is a run's now
            ON_REFUSAL.remove(self.tidy)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        HydraConfig.instance().set_config(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        with exit_on_user_error():
            check_creatable(sweep_dir)
        made = not_made_yet(sweep_dir)
        if sweep_dir in made:  # this command makes it: a refusal in its first job leaves nothing but Hydra's record
            self.sweep_tidy = lambda: discard_unused(sweep_dir, sweep_dir / SWEEP_RECORD, set(), made)
