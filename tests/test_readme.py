"""README's first commands are the contract with a new user; CI must run exactly its test command."""

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
