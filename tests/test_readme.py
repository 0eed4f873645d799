"""README's first commands are the contract with a new user; CI must run exactly its test command."""

import re

import pytest
from conftest import REPO

from mnist_design.config import reference


def readme_commands() -> list[str]:
    block = (REPO / "README.md").read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_opens_with_setup_and_run_then_setup_and_test() -> None:
    run, test = readme_commands()[:2]
    assert run.startswith("pip install -e .") and run.endswith("python -m mnist_design.train")
    assert test.startswith("pip install -e") and "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert readme_commands()[1] in ci_lines


README_BYTES, README_PROSE_WORDS = 15_000, 1_200  # issue 44: README in plain words, the rest in docs/


def prose(markdown: str) -> str:
    """The words a reader reads: no code blocks, no generated blocks, no table rows."""
    markdown = re.sub(r"```.*?```", "", markdown, flags=re.S)
    markdown = re.sub(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", "", markdown, flags=re.S)
    return "\n".join(line for line in markdown.splitlines() if not line.startswith("|"))


def test_readme_stays_short_and_calls_the_tutorial_the_tutorial() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= README_BYTES
    assert len(prose(readme).split()) <= README_PROSE_WORDS
    # "seed" means a random seed only: never the tutorial (its table, its design, its rows)
    assert not re.search(r"\bthe seed\b|\bseed's\b|\bseed README\b", readme, flags=re.I)


def test_the_reference_lists_every_option_of_every_config_group() -> None:
    """docs/reference.md's group table names exactly the YAML files each conf/ group folder holds."""
    text = reference.reference_file().read_text()
    assert reference.listed(text)["model"] and reference.synced(text) == text


def test_the_project_map_names_every_module_by_its_docstring() -> None:
    """docs/reference.md's project map is generated (python -m mnist_design.config.reference): every module is in it."""
    text = reference.reference_file().read_text()
    package = REPO / "mnist_design"
    modules = [p for p in package.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts]
    assert all(f" {path.name} " in text for path in modules)
    assert "(no docstring)" not in reference.project_map()


def test_a_new_option_is_appended_and_a_gone_one_dropped_asides_kept() -> None:
    row = "| `augment` | `on` (±7° rotation, in degrees), `gone`, `off` | batched augmentation |"
    options = reference.listed(reference.synced(row))["augment"]
    assert options[:2] == ["on", "off"] and sorted(options) == reference.on_disk("augment")
    assert "`on` (±7° rotation, in degrees), `off`, `affine`" in reference.synced(row)


def test_a_reference_that_cannot_be_rewritten_is_one_line(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("| `augment` | `on`, `gone` | batched augmentation |\n")
    monkeypatch.setattr(reference, "reference_file", lambda: stale)

    def read_only(path, payload):
        raise OSError(30, "Read-only file system", str(path))

    monkeypatch.setattr(reference, "write_atomic", read_only)
    with pytest.raises(reference.ReferenceUnwritable, match=r"reference.md: cannot rewrite .*Read-only file system"):
        reference.sync()
    assert stale.read_text() == "| `augment` | `on`, `gone` | batched augmentation |\n"
