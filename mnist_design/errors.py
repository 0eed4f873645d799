"""The one way every entry point turns a user's mistake into a single line and an exit status, never a traceback.

    with exit_on_user_error():
        train(cfg)

A ``UserError`` carries its own exit status; its message names what was wrong and what is allowed.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf.errors import MissingMandatoryValue

HINT = "(set HYDRA_FULL_ERROR=1 for the full trace)"


class UserError(Exception):
    """Something the user can fix: a value, a path, a file. ``status`` is the process exit code."""

    status = 2


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    try:
        yield
    except UserError as error:
        print(f"error: {error}\n{HINT}", file=sys.stderr)
        sys.exit(error.status)
    except OSError as error:  # the file system said no (read-only, full, a name too long): name the path, not a trace
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error} (errno {error.errno})\n{HINT}", file=sys.stderr)
        sys.exit(4)
    except MissingMandatoryValue as error:  # a ??? key of the config that the command line did not give
        print(f"error: {error.full_key} is required: give {error.full_key}=...\n{HINT}", file=sys.stderr)
        sys.exit(UserError.status)
