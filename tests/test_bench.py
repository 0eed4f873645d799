import json
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
        assert re.fullmatch(rf"{name}=\d+\.\d\d \(per repeat \d+\.\d\d-\d+\.\d\d\)", line)
    assert "MFLOP" in result.stdout and "GFLOP/s" in result.stdout
    (bench,) = tmp_path.glob("outputs/bench/*/bench.json")
    measured = json.loads(bench.read_text())
    low, high = measured["per_repeat_range"]["ratio_vs_raw_loop"]
    assert low <= measured["ratio_vs_raw_loop"] <= high


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


def test_a_ratio_pairs_the_paths_within_each_repeat() -> None:
    """A machine whose speed drifts between repeats: A is twice B in two repeats of three, so the paired ratio is 2.0;
    the ratio of the two medians (3 / 4) would call A the slower path."""
    from mnist_design.bench.__main__ import paired_range, paired_ratio

    assert paired_ratio([2.0, 8.0, 3.0], [1.0, 4.0, 6.0]) == 2.0
    assert paired_range([2.0, 8.0, 3.0], [1.0, 4.0, 6.0]) == [0.5, 2.0]


def test_rounds_alternate_the_order_of_the_paths() -> None:
    from mnist_design.bench.__main__ import round_order

    assert [round_order(["A", "B", "C"], repeat) for repeat in range(3)] == [
        ["A", "B", "C"],
        ["C", "B", "A"],
        ["A", "B", "C"],
    ]


def test_the_cpu_bench_block_shows_every_run_with_its_machine_rounds_and_each_ratios_range(tmp_path: Path) -> None:
    from mnist_design.bench.paths import BENCH_FILE, PER_REPEAT, RATES
    from mnist_design.report import speed

    assert "No CPU bench" in speed.cpu_block(tmp_path)
    medians = {name: 100.0 * (i + 1) for i, name in enumerate("ABCD")}
    bench = {"hardware": "CPU x86_64", "cpu": "AMD EPYC", "flops_per_image": 1e6, "median": medians}
    older, newer = (tmp_path / speed.CPU_BENCH / run / BENCH_FILE for run in ("2026-01-01_10-00", "2026-01-02_09-00"))
    for path, ratio, repeats in ((newer, 0.91, 3), (older, 1.01, 2)):
        path.parent.mkdir(parents=True)
        rates = {name: [rate] * repeats for name, rate in medians.items()}
        ratios = {"ratio_vs_raw_loop": ratio, PER_REPEAT: {"ratio_vs_raw_loop": [0.79, 1.21]}}
        path.write_text(json.dumps({**bench, RATES: rates, **ratios}))
    text = speed.cpu_block(tmp_path)
    first, second = text.split("\n\n**")
    folder = f"{tmp_path.name}/bench/cpu"
    assert first.startswith(f"**`{folder}/2026-01-01_10-00/`**, 2 rounds. Measured on: CPU x86_64 (AMD EPYC).")
    assert "`ratio_vs_raw_loop=1.01` (per repeat 0.79–1.21)." in first
    assert second.startswith(f"`{folder}/2026-01-02_09-00/`**, 3 rounds.")
    assert "`ratio_vs_raw_loop=0.91`" in second
    newer.write_text("{")
    assert f"Left out: {newer}: unreadable or incomplete (JSONDecodeError" in speed.cpu_block(tmp_path)


def test_the_cpu_model_comes_from_cpuinfo_or_the_platform(tmp_path: Path) -> None:
    from mnist_design.runs.machine import cpu_model

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n")
    assert cpu_model(info) == "AMD EPYC 7B13"
    assert cpu_model(tmp_path / "missing")  # no /proc here: the platform's word or architecture, never an error
