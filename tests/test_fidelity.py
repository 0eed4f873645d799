"""The fidelity sample: reproducible draws under the budget, full and compressed runs, a table of Kendall tau."""

from pathlib import Path

from conftest import tiny
from omegaconf import OmegaConf

from mnist_design.generated import markers
from mnist_design.search import signals
from mnist_design.training.schedules import compress


def test_fidelity_trains_each_draw_full_and_compressed_then_tabulates_and_continues(
    run_entry, mnist_dir: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "search.md"
    docs.write_text("\n".join(markers("fidelity_5000")) + "\n")
    args = [
        *tiny(mnist_dir),
        "budget=5000",
        "search_space=small",
        "data.train_subset=256",
        "trainer.limit_val_batches=1",
        "fidelity.configs=2",
        "fidelity.full_epochs=2",
        "fidelity.compressed=[1]",
        f"fidelity.results_dir={tmp_path / 'sample'}",
        f"fidelity.docs={docs}",
    ]
    status, out, err = run_entry("mnist_design.fidelity", *args, cwd=tmp_path)
    assert status == 0, err[-2000:]
    runs = sorted(p.parent.relative_to(tmp_path / "sample") for p in (tmp_path / "sample").glob("*/*/metrics.json"))
    assert [str(r) for r in runs] == [f"config_0{i}/epochs_{e}" for i in (0, 1) for e in (1, 2)]
    assert "[fidelity] 4 runs trained now" in out
    assert all((tmp_path / "sample" / run / ".hydra" / "config.yaml").is_file() for run in runs)  # complete records
    assert "| epoch 2 of the full schedule, validation accuracy" in docs.read_text()
    status, out, _ = run_entry("mnist_design.fidelity", *args, cwd=tmp_path)  # again: nothing left to train
    assert status == 0 and "[fidelity] 0 runs trained now" in out
    (tmp_path / "sample" / "config_00" / "epochs_1" / ".hydra" / "overrides.yaml").write_text("- model.stage1.0=99\n")
    status, _, err = run_entry("mnist_design.fidelity", *args, cwd=tmp_path)  # a draw that is not what ran there
    assert status == 2 and "config_00 holds runs of another draw" in err and "Traceback" not in err


def test_a_compressed_schedule_rescales_piecewise_points_only(compose_cfg) -> None:
    piecewise, onecycle = compose_cfg("scheduler=piecewise"), compose_cfg("scheduler=onecycle")
    assert compress(piecewise, 3) == ["trainer.max_epochs=3", "scheduler.span=3"] and piecewise.scheduler.span == 3
    assert compress(onecycle, 3) == ["trainer.max_epochs=3"] and onecycle.trainer.max_epochs == 3


def test_a_worker_index_outside_the_workers_is_one_line(run_entry, tmp_path: Path) -> None:
    status, _, err = run_entry("mnist_design.fidelity", "fidelity.workers=2", "fidelity.worker=2", cwd=tmp_path)
    assert status == 2 and "fidelity.worker=2 is not allowed" in err and "Traceback" not in err


def test_docs_search_tables_are_what_the_committed_fidelity_sample_renders() -> None:
    """docs/search.md's fidelity tables hold exactly what `python -m mnist_design.fidelity` renders from results/."""
    from conftest import REPO

    from mnist_design.generated import readme_block

    docs = (REPO / "docs" / "search.md").read_text()
    for budget in (5000, 8000):
        sample = REPO / "results" / "fidelity" / f"design_{budget}"
        settings = OmegaConf.load(REPO / "conf" / "fidelity.yaml").fidelity  # the command's own settings
        rendered = signals.signal_table(sample, settings) if sample.is_dir() else ""
        assert readme_block(docs, f"fidelity_{budget}") == rendered.strip(), budget
