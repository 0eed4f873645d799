"""The extra processes of ``search.workers=N``: each runs the same search on the same study, with its share of the
cores, and dies with its parent.

    workers = start_workers(cfg, typed, study_dir)   # N - 1 processes; this one is a worker too
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig

from mnist_design.errors import UserError
from mnist_design.search import stores
from mnist_design.training import factory


class WorkerDied(UserError):
    """A search worker process exited with an error; its trial is recovered when the study next opens."""


def die_with_parent() -> None:
    """Workers get SIGTERM when the parent dies (Linux), so a killed search leaves no orphan training."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def quoted(value: str) -> str:
    """A value as one Hydra override token: a database URL may hold ``=``, ``?`` or ``:`` that the grammar splits."""
    return "'" + value.replace("'", "\\'") + "'"


def start_workers(cfg: DictConfig, typed: list[str], study_dir: Path) -> list[subprocess.Popen]:
    """search.workers - 1 more processes running this same search, in the same study directory and storage; this
    process is one worker too."""
    extra = [o for o in typed if not o.startswith(("search.workers=", "search.storage="))]
    command = [
        sys.executable,
        "-m",
        "mnist_design.search",
        *extra,
        "search.workers=1",
        "search.enqueue_base=false",
        f"search.storage={quoted(stores.storage_url(cfg))}",
        f"hydra.run.dir={quoted(str(study_dir.resolve()))}",
        f"search.results_dir={quoted(str(Path(cfg.search.results_dir).resolve()))}",
        "search.is_worker=true",
    ]
    env = {**os.environ, factory.JOBS_VARIABLE: str(cfg.search.workers)}
    return [
        subprocess.Popen(command, env=env, preexec_fn=die_with_parent)  # prctl only: safe though torch may hold threads
        for _ in range(cfg.search.workers - 1)
    ]


def usage(started: float) -> dict[str, float]:
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return {
        "wall_seconds_this_invocation": round(time.perf_counter() - started, 1),
        "cpu_seconds_this_invocation": round(sum(u.ru_utime + u.ru_stime for u in used), 1),
    }
