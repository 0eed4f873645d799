"""A study's journal file checked before anything is appended to it (mnist_design/search/studies.py opens it).

    repair(Path("results/studies/design_8000/journal.log"), url)   # a torn last record moved aside; junk refused

Optuna's JournalStorage appends one JSON record per line; a process killed mid-write, or a full disk, leaves a torn
last line that makes the whole study unreadable, and appending after it buries the tear mid-file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import optuna

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError


class JournalRefused(UserError):
    """A storage file that is not an Optuna journal, or one with a broken record before its end."""


def repair(path: Path, url: str) -> None:
    """Before anything is appended to a journal: a file that is not an Optuna journal is refused, a record in the
    middle that is not JSON is refused, and a torn last record (a process killed mid-write, a full disk) is moved to
    a side file, named in one line, so the study stays readable. Under the journal's own lock: no writer is midway."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    lock = optuna.storages.journal.JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        data = path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # after the last newline: b"" when the last record is whole
        if len(lines) > 1 and not tail and not is_record(lines[-1]):  # torn, then a newline: the last line is the tear
            tail = lines.pop() + b"\n"
        bad = next((number for number, line in enumerate(lines, 1) if not is_record(line)), None)
        if bad == 1 or (not lines and tail):
            raise JournalRefused(f"search.storage={url}: {path} is not an Optuna journal; choose another file")
        if bad is not None:
            raise JournalRefused(
                f"search.storage={url}: line {bad} of {path} is not a journal record; the study cannot be read "
                f"past it (move that line out, or start a new search.study_name)"
            )
        if tail:
            side = path.with_name(f"{path.name}.torn-{int(time.time())}")
            side.write_bytes(tail)
            write_atomic(path, data[: len(data) - len(tail)])
            print(f"[search] {path}: its last record was torn ({len(tail)} bytes); moved to {side}", flush=True)
    except OSError as error:
        raise JournalRefused(f"search.storage={url}: cannot check {path} ({error.strerror or error})") from None
    finally:
        lock.release()


def is_record(line: bytes) -> bool:
    """Whether a journal line is one whole record: a JSON object with an op_code."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "op_code" in record
