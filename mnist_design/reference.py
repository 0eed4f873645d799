"""docs/reference.md's config-group table, kept to what conf/ holds: the option lists follow the YAML files.

    listed(text)              # {"model": ["skeleton", ...], ...}: the options each row of the table names
    synced(text)              # the same text with each row's options made exactly its conf/ folder's files
    sync()                    # rewrite docs/reference.md so (the search does this when it writes a new preset)

An option keeps its place and its aside (``on`` (±7° rotation)); one that conf/ no longer has is dropped and one it
gained is appended, so the prose stays hand-written while the list of names has one owner, the folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from mnist_design.atomic import write_atomic
from mnist_design.config import config_dir
from mnist_design.errors import UserError

ROW_START = "| `"  # a group row: | `group` | `option` (aside), ... | what it sets |
NAME = re.compile(r"^`([^`]+)`")


class ReferenceUnwritable(UserError):
    """docs/reference.md cannot be rewritten; what was written before it (a preset) stays."""


def reference_file() -> Path:
    """docs/reference.md beside conf/ (a checkout); an installed wheel has no docs, so nothing to keep."""
    return Path(config_dir()).parent / "docs" / "reference.md"


def on_disk(group: str) -> list[str]:
    """The options of a config group: its YAML files, sub-folders included (``published/woolly``)."""
    folder = Path(config_dir()) / group
    return sorted(str(path.relative_to(folder).with_suffix("")) for path in folder.rglob("*.yaml"))


def split_items(cell: str) -> list[str]:
    """``a`` (x, y), ``b`` -> ["`a` (x, y)", "`b`"]: commas inside an aside do not split."""
    items, depth, current = [], 0, ""
    for char in cell:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [item for item in [*items, current.strip()] if item]


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def item_name(item: str) -> str:
    found = NAME.match(item)
    return found.group(1) if found else ""


def listed(text: str) -> dict[str, list[str]]:
    """Each group row's options, by group."""
    rows = [cells(line) for line in text.splitlines() if line.startswith(ROW_START)]
    return {item_name(row[0]): [item_name(item) for item in split_items(row[1])] for row in rows}


def synced_row(row: str) -> str:
    group_cell, options_cell, *rest = cells(row)
    wanted = on_disk(item_name(group_cell))
    kept = [item for item in split_items(options_cell) if item_name(item) in wanted]
    had = {item_name(item) for item in kept}
    options = ", ".join([*kept, *(f"`{name}`" for name in wanted if name not in had)])
    return "| " + " | ".join([group_cell, options, *rest]) + " |"


def synced(text: str) -> str:
    lines = [synced_row(line) if line.startswith(ROW_START) else line for line in text.splitlines()]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def sync() -> Path | None:
    """Rewrite docs/reference.md's option lists from conf/; the file, or None where there is none or it is current."""
    path = reference_file()
    if not path.is_file():
        return None
    text = path.read_text()
    new = synced(text)
    if new == text:
        return None
    try:
        write_atomic(path, new.encode())
    except OSError as error:
        raise ReferenceUnwritable(
            f"{path}: cannot rewrite its option lists ({error.strerror}); the presets are written, and the same "
            f"command run again (with the folder writable) lists them"
        ) from None
    return path
