"""The one way every entry point turns a user's mistake into a single line and an exit status, never a traceback.

    with exit_on_user_error():
        train(cfg)

A ``UserError`` carries its own exit status; its message names what was wrong and what is allowed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

from omegaconf.errors import MissingMandatoryValue

HINT = "(set HYDRA_FULL_ERROR=1 for the full trace)"


def not_allowed(key: str, value: object, allowed: str) -> str:
    """The one wording of a value out of range: ``key=value is not allowed: it must be <allowed>``."""
    return f"{key}={value} is not allowed: it must be {allowed}"


def not_among(key: str, unknown: list[str], allowed: list[str]) -> str:
    """not_allowed for names in a list: the unknown ones (one, or a list; none for an empty list) against every
    allowed name."""
    shown = unknown[0] if len(unknown) == 1 else f"[{','.join(unknown)}]"
    return not_allowed(key, shown, f"one or more of {', '.join(allowed)}")


class UserError(Exception):
    """Something the user can fix: a value, a path, a file. ``status`` is the process exit code."""

    status = 2


ON_REFUSAL: list[Callable[[], None]] = []  # run before a refused command exits (runs/preflight.py tidies its run dir)


def fail(message: str, status: int = UserError.status) -> NoReturn:
    """The one way an entry point stops on a user's mistake: one line, the hint, the exit status."""
    print(f"error: {message}\n{HINT}", file=sys.stderr)
    for tidy in ON_REFUSAL:
        tidy()
    sys.exit(status)


@contextmanager
def extra_required(extra: str) -> Iterator[None]:
    """Around an entry point's imports of an optional extra (pyproject.toml): a package that ``pip install -e .``
    left out is one line naming the extra that brings it, not an import traceback."""
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == __name__.split(".")[0]:
            raise  # a module of this package: a bug, not a missing extra
        fail(f'this command needs the {extra} extra (no module named {error.name}): pip install -e ".[{extra}]"')


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    try:
        yield
    except UserError as error:
        fail(str(error), error.status)
    except OSError as error:  # the file system said no (read-only, full, a name too long): name the path, not a trace
        where = f"{error.filename}: " if error.filename else ""
        fail(f"{where}{error.strerror or error} (errno {error.errno})", 4)
    except MissingMandatoryValue as error:  # a ??? key of the config that the command line did not give
        fail(f"{error.full_key} is required: give {error.full_key}=...")


LIGHTNING_INTERRUPTED = 1  # Lightning's exit status after Ctrl-C: it stops gracefully, then sys.exit(1) (its call.py)
INTERRUPTED = 130  # ours, the shell's for a SIGINT (128 + 2): a Ctrl-C anywhere else ends with it, not a traceback


@contextmanager
def say_on_interrupt(what_next: Callable[[], str | None]) -> Iterator[None]:
    """Around a long command: when Ctrl-C stops it (Python's KeyboardInterrupt, or Lightning's graceful stop and exit
    status 1), one line says how to go on, where ``what_next()`` knows, and the command exits without a trace."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as stop:
        interrupted = isinstance(stop, KeyboardInterrupt) or stop.code in (LIGHTNING_INTERRUPTED, INTERRUPTED)
        if interrupted and (line := what_next()):
            print(f"interrupted: {line}", file=sys.stderr)
        if isinstance(stop, KeyboardInterrupt):
            raise SystemExit(INTERRUPTED) from None
        raise
