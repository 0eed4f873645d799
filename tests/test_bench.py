import re
from pathlib import Path

import pytest
from conftest import run_cli


@pytest.mark.slow
def test_quick_bench_prints_both_ratios(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "quick=true", f"data.data_dir={mnist_dir}", "trainer.accelerator=cpu", cwd=tmp_path, module="mnist_design.bench"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()[-3:]
    for line, name in zip(lines, ("ratio_vs_tutorial_pipeline", "ratio_vs_tutorial_notebook", "ratio_vs_raw_loop")):
        assert re.fullmatch(rf"{name}=\d+\.\d\d", line)
    assert "MFLOP" in result.stdout and "GFLOP/s" in result.stdout
    assert list(tmp_path.glob("outputs/bench/*/bench.json"))


def test_the_busy_bench_compares_measured_threads_with_fixed_ones(mnist_dir: Path, tmp_path: Path, run_entry) -> None:
    """busy=true: threads=null against threads=1 and the share, alone and beside a busy process (ratios only)."""
    status, out, err = run_entry(
        "mnist_design.bench",
        "busy=true",
        "busy_batches=2",
        "repeats=1",
        f"data.data_dir={mnist_dir}",
        "trainer.accelerator=cpu",
        cwd=tmp_path,
    )
    assert status == 0, err[-3000:]
    assert re.search(r"^ratio_measured_vs_1_beside_busy=\d+\.\d\d$", out, re.M)
    assert re.search(r"^ratio_measured_vs_share_alone=\d+\.\d\d$", out, re.M)
    assert "alone measured" in out and "busy 1" in out
