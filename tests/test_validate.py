"""Issue 46: records the report cannot trust are left out with a line naming the file and the field, never counted."""

from pathlib import Path

import pytest

from mnist_design.report.validate import trusted
from mnist_design.runs.records import Run


def run(folder: str, seed: object = 0, test_acc: object = 0.99, params: object = 7496, design: str = "d") -> Run:
    metrics = {"seed": seed, "test_acc": test_acc, "params": params, "tags": {"design": design}}
    return Run(Path("results/runs") / folder, metrics)


@pytest.mark.parametrize(
    "bad, names",
    [
        (run("d/seed_1", seed=1, test_acc=1.5), "test_acc is 1.5, outside [0, 1]"),
        (run("d/seed_1", seed=1, test_acc=float("nan")), "test_acc is nan, not a finite accuracy"),
        (run("d/seed_1", seed=1, test_acc="0.99"), "not a finite accuracy"),
        (run("d/seed_1", seed="two"), "seed is 'two', not a whole number"),
        (run("d/seed_1", seed=4.9), "seed is 4.9, not a whole number"),
        (run("d/seed_copy", seed=0), "a second record of design d, seed 0 (the first is results/runs/d/seed_0"),
        (run("d/seed_1", seed=1, params=7000), "params is 7000 where the other records of design d say 7496"),
    ],
)
def test_a_record_that_cannot_be_true_is_left_out_with_a_line(bad: Run, names: str) -> None:
    good = [run("d/seed_0"), run("d/seed_2", seed=2)]
    kept, skipped = trusted([*good, bad])
    assert [r.path for r in kept] == [r.path for r in good]
    [line] = skipped
    assert line.startswith(str(bad.path / "metrics.json")) and names in line and line.endswith("so it is left out")


def test_sound_records_are_all_kept() -> None:
    records = [run(f"d/seed_{s}", seed=s) for s in range(5)] + [run("e/seed_0", design="e", params=900)]
    assert trusted(records) == (records, [])
