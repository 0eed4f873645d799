"""README's first commands are the contract with a new user; CI must run exactly its test command."""

import re

from conftest import REPO


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


def test_the_reference_lists_every_option_of_every_config_group() -> None:
    """docs/reference.md's group table names exactly the YAML files each conf/ group folder holds."""
    rows = [line for line in (REPO / "docs" / "reference.md").read_text().splitlines() if line.startswith("| `")]
    assert rows
    for row in rows:
        group_cell, options_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        group = group_cell.split("`")[1]
        while re.search(r"\([^()]*\)", options_cell):  # asides, e.g. (extra `.[mlflow]`), name no option
            options_cell = re.sub(r"\([^()]*\)", "", options_cell)
        listed = set(re.findall(r"`([^`]+)`", options_cell))
        folder = REPO / "conf" / group
        on_disk = {str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml")}
        assert listed == on_disk, f"{group}: docs list {sorted(listed - on_disk)}, conf/ has {sorted(on_disk - listed)}"
