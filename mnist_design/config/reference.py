"""docs/reference.md kept to the code: its config-group table follows conf/, its project map the package.

    listed(text)              # {"model": ["skeleton", ...], ...}: the options each row of the table names
    synced(text)              # the same text with each row's options made exactly its conf/ folder's files, and
                              # the project map made from the package's docstrings
    sync()                    # rewrite docs/reference.md so (the search does this when it writes a new preset)
    python -m mnist_design.config.reference       # the same, by hand: after adding a conf/ file or a module

An option keeps its place and its aside (``on`` (±7° rotation)); one that conf/ no longer has is dropped and one it
gained is appended, so the prose stays hand-written while the list of names has one owner, the folder.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mnist_design.atomic import write_atomic
from mnist_design.config import config_dir
from mnist_design.errors import UserError, exit_on_user_error
from mnist_design.generated import markers, with_block

PROJECT_MAP = "project_map"  # docs/reference.md's generated block: every package and module, by its docstring

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


MAP_WIDTH = 120  # characters a line of the map may take (the docstring's first sentence is cut to fit)


def summary(path: Path, width: int) -> str:
    """The first sentence of a module's docstring, cut to ``width`` characters."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split()).split(". ")[0].rstrip(".:") or "(no docstring)"
    return first if len(first) <= width else first[: width - 1].rstrip(" ,;(") + "…"


def project_map() -> str:
    """mnist_design/ as a tree: each folder by its __init__ docstring, each module by its own."""
    package = Path(__file__).resolve().parents[1]
    lines = ["```", "mnist_design/"]

    def describe(folder: Path, depth: int) -> None:
        for path in sorted(folder.iterdir()):
            name = f"{'  ' * depth}{path.name + ('/' if path.is_dir() else ''):<{22 - 2 * depth}} "
            if path.is_dir() and (path / "__init__.py").is_file():
                lines.append(name + summary(path / "__init__.py", MAP_WIDTH - len(name)))
                describe(path, depth + 1)
            elif path.suffix == ".py" and path.name != "__init__.py":
                lines.append(name + summary(path, MAP_WIDTH - len(name)))

    describe(package, 1)
    return "\n".join([*lines, "```"])


def synced(text: str) -> str:
    lines = [synced_row(line) if line.startswith(ROW_START) else line for line in text.splitlines()]
    synced_text = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    has_map = markers(PROJECT_MAP)[0] in synced_text  # a table row alone (tests) has no map to keep
    return with_block(synced_text, PROJECT_MAP, project_map()) if has_map else synced_text


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


if __name__ == "__main__":
    with exit_on_user_error():
        written = sync()
        print(f"{written}: rewritten" if written else f"{reference_file()}: up to date")
