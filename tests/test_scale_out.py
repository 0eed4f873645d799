"""Optuna sweeps, submitit launchers and DDP on CPU, each for real on a tiny subset."""

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import run_cli

optuna = pytest.importorskip("optuna", reason="the sweeps extra is not installed: pip install -e '.[sweeps]'")


def trial_args(mnist_dir: Path) -> list[str]:
    return [f"data.data_dir={mnist_dir}", "data.train_subset=512", "trainer.max_epochs=1", "trainer.accelerator=cpu",
            "trainer.limit_val_batches=1", "test=false", "callbacks.model_summary=null"]


def test_optuna_search_runs_trials_and_reports_the_best(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "hydra.sweep.dir=search",
                     *trial_args(mnist_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = sorted((tmp_path / "search").glob("*/metrics.json"))
    assert len(trials) == 2
    best = OmegaConf.load(tmp_path / "search" / "optimization_results.yaml")
    assert set(best.best_params) == {"scheduler.max_lr", "model.dropout", "optimizer.weight_decay",
                                     "data.batch_size", "augment.degrees"}
    assert best.best_value == max(json.loads(t.read_text())["val_acc"] for t in trials)  # validation, not test
    report = run_cli("sweep_dirs=[search]", "out_dir=summary", cwd=tmp_path, module="mnist_design.report")
    assert report.returncode == 0, report.stderr[-2000:]
    table = (tmp_path / "summary" / "REPORT.md").read_text().split("## All runs, best validation accuracy first")[1]
    ranked = [float(line.split("|")[2]) for line in table.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    assert len(ranked) == 2 and ranked[0] >= ranked[1]


def test_persistent_study_continues_without_overwriting(mnist_dir: Path, tmp_path: Path) -> None:
    args = ["-m", "hparams_search=optuna_persistent", "hydra.sweeper.study_name=s1", "hydra.sweeper.n_trials=1",
            *trial_args(mnist_dir)]
    for _ in range(2):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="s1", storage=f"sqlite:///{tmp_path}/outputs/searches/s1/optuna.db")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert len(list((tmp_path / "outputs" / "searches" / "s1").glob("*/0_best/metrics.json"))) == 2


def test_submitit_local_runs_a_two_job_sweep(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("-m", "hydra/launcher=submitit_local", "seed=0,1", "hydra.sweep.dir=sweep",
                     *trial_args(mnist_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    seeds = [json.loads(p.read_text())["seed"] for p in sorted((tmp_path / "sweep").glob("*/metrics.json"))]
    assert seeds == [0, 1]


def test_submitit_slurm_fields_are_overridable(tmp_path: Path) -> None:
    result = run_cli("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu",
                     "hydra.launcher.gpus_per_node=4", "hydra.launcher.timeout_min=30", "hydra.launcher.cpus_per_task=8",
                     "--cfg", "hydra", "--package", "hydra.launcher", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    launcher = OmegaConf.create(result.stdout)  # --package prints the launcher node itself
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min, launcher.cpus_per_task) == ("gpu", 4, 30, 8)


def test_ddp_on_two_cpu_processes_syncs_metrics_and_writes_once(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", f"data.data_dir={mnist_dir}",
                     "data.train_subset=1024", "trainer.max_epochs=1", "trainer.limit_val_batches=1",
                     "callbacks.model_summary=null", "hydra.run.dir=ddp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("TEST (final epoch 1)") == 1  # rank 0 reports
    trained = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    evaluated = run_cli(f"ckpt_path={tmp_path / 'ddp' / 'checkpoints' / 'last.ckpt'}", "trainer.accelerator=cpu",
                        cwd=tmp_path, module="mnist_design.evaluate")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    [single] = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/evaluate/*/metrics.json")]
    assert single["test_acc"] == trained["test_acc"]  # the two ranks' halves of the test set, synced = all of it


def test_design_search_refuses_over_budget_designs_before_training(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("-m", "hparams_search=design", "budget=5000", "hydra.sweeper.n_trials=3", "hydra.sweep.dir=d",
                     *trial_args(mnist_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    trained = [json.loads(p.read_text()) for p in (tmp_path / "d").glob("*/metrics.json")]
    rejected = result.stdout.count("rejected before training: the model has")
    assert rejected >= 1 and len(trained) >= 1 and rejected + len(trained) == 3
    assert all(t["params"] <= 5000 and "test_acc" not in t for t in trained)  # the search never tests
    best = OmegaConf.load(tmp_path / "d" / "optimization_results.yaml")
    assert best.best_value == max(t["val_acc"] for t in trained)
