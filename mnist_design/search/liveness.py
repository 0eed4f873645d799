"""Which process runs a trial, and whether it still does: every trial records its worker (host, pid and the
process's start time), so a trial whose worker is gone can be failed and its design enqueued again.

    this_worker()                      # "host:pid:start", recorded on every trial as it starts
    alive(worker, gone_hosts)          # True, False, or None (another host: cannot tell unless named gone)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from pathlib import Path

from optuna.trial import FrozenTrial

WORKER_ATTR = "worker"  # host:pid:start of the process running a trial


# --- workers and their trials ---------------------------------------------------------------------------------


def stat_field(pid: int, index: int) -> str:
    """One field of /proc/<pid>/stat after the command name (Linux); "" when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[index]
    except (OSError, IndexError):
        return ""


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, so a reused pid is not taken for the old one."""
    return stat_field(pid, 19)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{start_time(os.getpid())}"


def worker_of(trial: FrozenTrial) -> str:
    """The worker a trial recorded (this_worker(): host:pid:start time), or "" when it recorded none."""
    return str(trial.user_attrs.get(WORKER_ATTR, ""))


def host_of(worker: str) -> str:
    return worker.partition(":")[0]


def alive(worker: str, gone_hosts: Collection[str] = ()) -> bool | None:
    """Whether the process named by this_worker() still runs; None when it ran on another host (cannot tell), unless
    that host is one the user says is gone (search.gone_hosts: a machine given back, a node that died). On this
    host the pid and its start time decide, even where gone_hosts names it (lent machines may share a hostname)."""
    host, _, rest = worker.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return False if host in gone_hosts else None
    if not pid.isdigit():
        return None
    return Path(f"/proc/{pid}").exists() and start_time(int(pid)) == started and not zombie(int(pid))


def zombie(pid: int) -> bool:
    """Whether the process has exited and only waits to be reaped (its /proc entry stays until then)."""
    return stat_field(pid, 0) == "Z"
