"""Where README's evidence is written: README.md holds the blocks it has markers for, docs/results.md the rest;
results/README.md its study tables and the rerun audit.

    write(Front.load(Path("results")), Path("README.md"))   # print every block, draw the figures, rewrite the pages
"""

from __future__ import annotations

import sys
from pathlib import Path

from mnist_design.atomic import write_atomic
from mnist_design.generated import markers, rewrite, updated
from mnist_design.report import reruns, study_tables
from mnist_design.report.front import Front

RESULTS_PAGE = Path("docs") / "results.md"  # beside README: the blocks README does not show itself


def placed(readme: Path, blocks: dict[str, str]) -> dict[Path, dict[str, str]]:
    """Each block by the file it goes into: README where README has its markers, else docs/results.md beside it."""
    try:
        text = readme.read_text()
    except (OSError, UnicodeDecodeError):
        return {readme: blocks}  # rewrite() names the file in one line
    own = {name: block for name, block in blocks.items() if markers(name)[0] in text}
    if not own:  # not a README of this project: rewrite() names it, and nothing is written elsewhere
        return {readme: blocks}
    rest = {name: block for name, block in blocks.items() if name not in own}
    return {readme: own, readme.parent / RESULTS_PAGE: rest} if rest else {readme: own}


def write(front: Front, readme: Path | None) -> Path:
    """Print README's blocks and results/README's study tables, draw the figures, and rewrite both files' blocks
    with them (readme=None: print only; a results folder without its own README.md gets none)."""
    blocks = front.blocks()
    study_blocks = {**study_tables.blocks(front.results), "reruns": reruns.block(front.results)}
    for line in front.skipped:  # a design rendered without these says so in its seeds column
        print(f"skipped: {line}", file=sys.stderr)
    print("\n\n".join([*blocks.values(), *study_blocks.values()]))
    # every page's new text first: a readme without this project's blocks is refused before anything is drawn
    texts = {page: updated(page, own) for page, own in placed(readme, blocks).items()} if readme else {}
    for drawn in front.draw():
        print(f"{drawn} drawn")
    if readme is None:
        return front.results
    for page, text in texts.items():
        write_atomic(page, text.encode())
    if study_blocks and (front.results / study_tables.README_FILE).is_file():
        rewrite(front.results / study_tables.README_FILE, study_blocks)
    return readme
