"""Generated blocks in markdown files: README's (and docs/search.md's) text between a pair of HTML comments that a
command rewrites and a test holds to what it renders.

    rewrite(Path("README.md"), {"front": table})   # replaces what lies between <!-- front:begin/end -->
"""

from __future__ import annotations

from pathlib import Path

from mnist_design.atomic import write_atomic
from mnist_design.errors import UserError


class FrontUnwritable(UserError):
    """A README lacks a block to rewrite, or cannot be read or written."""


def markers(block: str) -> tuple[str, str]:
    """The pair of HTML comments README keeps a generated block between."""
    return f"<!-- {block}:begin -->", f"<!-- {block}:end -->"


def readme_block(readme: str, block: str) -> str:
    """What README holds between a block's markers."""
    begin, end = markers(block)
    return readme.split(begin, 1)[1].split(end, 1)[0].strip()


def with_block(readme: str, block: str, text: str) -> str:
    """The readme with one block's text replaced; a ValueError when it has no pair of that block's markers."""
    begin, end = markers(block)
    if begin not in readme or end not in readme.split(begin, 1)[1]:
        raise ValueError(f"no {begin} ... {end} in it")
    before, rest = readme.split(begin, 1)
    return f"{before}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}"


def updated(readme: Path, blocks: dict[str, str], key: str = "readme") -> str:
    """The markdown file with each named block replaced; one line naming the file, as the setting ``key`` that chose
    it, when it cannot be (a command calls it with empty blocks to check a file before it works for hours)."""
    try:
        text = readme.read_text()
        for block, content in blocks.items():
            text = with_block(text, block, content)
    except (OSError, ValueError) as error:
        raise FrontUnwritable(f"{key}={readme}: cannot update its generated blocks ({error})") from None
    return text


def rewrite(readme: Path, blocks: dict[str, str], key: str = "readme") -> None:
    """Replace each named block of one markdown file (see updated)."""
    write_atomic(readme, updated(readme, blocks, key).encode())
