"""The Optuna design search, submitit launchers and DDP on CPU, each for real on a tiny subset."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import journal_study, run_cli
from omegaconf import OmegaConf

from mnist_design.runs.layout import RunDir
from mnist_design.search import stores


def trial_args(mnist_dir: Path) -> list[str]:
    return [
        f"data.data_dir={mnist_dir}",
        "data.train_subset=512",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.limit_val_batches=1",
        "test=false",
        "callbacks.model_summary=null",
        "logger=none",
    ]


def study(tmp_path: Path, name: str) -> "optuna.Study":
    """The study as the search left it in its default folder."""
    return journal_study(study_dir(tmp_path, name))


def study_dir(tmp_path: Path, name: str) -> Path:
    """search.results_dir's default (conf/search.yaml), below the folder the command ran in."""
    return tmp_path / "outputs" / "studies" / name


@pytest.mark.slow
def test_search_prunes_shares_one_study_between_two_workers_and_continues(mnist_dir: Path, tmp_path: Path) -> None:
    args = [
        *trial_args(mnist_dir),
        "search.study_name=tiny",
        "search.sampler.seed=0",
        "trainer.max_epochs=4",
        "search.selection.top=2",
        "search.selection.seeds=[0,1]",
        "search.crosses=[]",  # the base config is the one baseline here: the other trials are searched
        "search.enqueue_published=false",
        "pruner=threshold",  # every searched trial under 101 % at its first epoch is stopped: pruning is certain,
        "search.pruner.lower=1.01",  # not a matter of which of two racing workers reports first
    ]
    first = run_cli(*args, "search.n_trials=6", "search.workers=2", cwd=tmp_path, module="mnist_design.search")
    assert first.returncode == 0, first.stderr[-3000:]
    trials = study(tmp_path, "tiny").trials
    base = trials[0]
    assert base.user_attrs["base"] and base.params["model.stage1.0"] == 8 and base.user_attrs["params"] == 7496
    assert base.state.name == "COMPLETE"  # the tutorial's design runs the whole schedule: the others must beat it
    trained = [t for t in trials if "refused" not in t.user_attrs]
    assert len(trained) == 6  # exactly what was asked: running trials are counted until they finish
    assert any(t.state.name == "PRUNED" and t.intermediate_values for t in trained)  # stopped by the pruner
    assert len({t.user_attrs["worker"] for t in trained}) == 2  # two processes, one study
    assert "[search] trial" in first.stdout and "best: trial" in first.stdout
    summary_file = study_dir(tmp_path, "tiny") / "summary.yaml"
    assert OmegaConf.load(summary_file).selection.finished  # whichever process trained the last trial
    for t in trained:  # every trial is a train run in its own directory, and never looked at the test set
        history = RunDir(t.user_attrs["run_dir"]).history
        assert len(history.read_text().splitlines()) == len(t.intermediate_values)  # the deciding epoch is kept
        if t.state.name == "COMPLETE":
            metrics = json.loads((Path(t.user_attrs["run_dir"]) / "metrics.json").read_text())
            assert metrics["val_acc"] == t.value and "test_acc" not in metrics and metrics["tags"]["search"] == "tiny"
            share = max(1, len(os.sched_getaffinity(0)) // 2)  # each of the two workers has half the cores
            assert metrics["threads"]["threads"] <= share
            assert share > 1 or metrics["threads"]["chosen_by"] == "fixed"  # one core each: nothing to measure

    for run_dir in (tmp_path / "outputs" / "searches" / "tiny").glob("trial_*"):  # as in a fresh checkout: the
        shutil.rmtree(run_dir)  # trial runs are not committed, and the selection must not need them
    again = run_cli(*args, "search.n_trials=8", cwd=tmp_path, module="mnist_design.search")
    assert again.returncode == 0, again.stderr[-3000:]
    continued = study(tmp_path, "tiny").trials
    assert continued[: len(trials)][0].number == 0 and len([t for t in continued if "refused" not in t.user_attrs]) == 8
    assert sum(t.user_attrs.get("base", False) for t in continued) == 1  # enqueued once, not again
    summary = OmegaConf.load(summary_file)
    picked = summary.selection  # the top 2 and every baseline retrained on seeds 0 and 1, each on its own split
    assert picked.finished and list(picked.split_seeds) == [0, 1]
    baselines = [c for c in picked.candidates if c.get("base") or c.get("published")]
    assert len(picked.candidates) - len(baselines) <= 2 and any(c.get("base") for c in baselines)
    assert all(set(c.per_seed) == {0, 1} and None not in c.per_seed.values() for c in picked.candidates)
    best = max(picked.candidates, key=lambda c: c.mean)
    assert picked.finalist == best.trial
    seed_runs = list((study_dir(tmp_path, "tiny") / "select").glob("*/metrics.json"))
    assert seed_runs  # beside the journal, so their records are committed with it
    for seed_run in seed_runs:
        assert "test_acc" not in json.loads(seed_run.read_text())  # the selection never looks at the test set


@pytest.mark.slow
def test_search_refuses_over_budget_designs_before_training(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "budget=2000",
        "search_space=small",
        "search.study_name=small",
        "search.n_trials=1",
        "search.sampler.seed=0",
        "search.selection.top=0",
        "search.enqueue_published=false",
        *trial_args(mnist_dir),
        cwd=tmp_path,
        module="mnist_design.search",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    trials = study(tmp_path, "small").trials
    refused = [t for t in trials if "over budget=2,000" in t.user_attrs.get("refused", "")]
    assert refused and all(t.user_attrs["params"] > 2000 for t in refused)
    assert not any(RunDir(t.user_attrs["run_dir"]).history.exists() for t in refused)  # no training
    trained = [t for t in trials if "refused" not in t.user_attrs]
    assert len(trained) == 1 and trained[0].user_attrs["params"] <= 2000


@pytest.mark.slow
def test_compressed_rungs_judge_each_searched_trial_on_a_short_schedule_first(
    run_entry, mnist_dir: Path, tmp_path: Path
) -> None:
    """pruner=compressed: a searched trial trains its schedule compressed to rung_epochs in trial_NNNN_rungE and is
    judged there; a kept one trains the full schedule afresh; the base config skips the rung."""
    status, out, err = run_entry(
        "mnist_design.search",
        *trial_args(mnist_dir),
        "trainer.max_epochs=3",
        "pruner=compressed",
        "search.rung_epochs=2",
        "search.study_name=rungs",
        "search.n_trials=4",
        "search.sampler.seed=0",
        "search.selection.top=0",
        "search.crosses=[]",
        "search.enqueue_published=false",
        cwd=tmp_path,
    )
    assert status == 0, err[-3000:]
    trained = [t for t in study(tmp_path, "rungs").trials if "refused" not in t.user_attrs]
    assert len(trained) == 4 and trained[0].user_attrs["base"]
    for t in trained:
        full = RunDir(t.user_attrs["run_dir"])
        rung = RunDir(f"{full.path}_rung2")
        if t.user_attrs.get("base"):  # a baseline trains its whole schedule only, reported at its end
            assert not rung.path.exists() and t.state.name == "COMPLETE" and list(t.intermediate_values) == [2]
            continue
        rung_metrics = json.loads(rung.metrics.read_text())
        assert rung_metrics["epochs"] == 2 and t.intermediate_values[1] == rung_metrics["val_acc"]
        if t.state.name == "PRUNED":  # judged on the rung only: no full run
            assert list(t.intermediate_values) == [1] and not full.finished()
        else:
            assert list(t.intermediate_values) == [1, 2] and t.value == json.loads(full.metrics.read_text())["val_acc"]
            assert json.loads(full.metrics.read_text())["epochs"] == 3
    assert "pruned on its 2-epoch compressed schedule" in out + err or all(t.state.name == "COMPLETE" for t in trained)


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "-m", "hydra/launcher=submitit_local", "seed=0,1", "hydra.sweep.dir=sweep", *trial_args(mnist_dir), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seeds = [json.loads(p.read_text())["seed"] for p in sorted((tmp_path / "sweep").glob("*/metrics.json"))]
    assert seeds == [0, 1]


@pytest.mark.slow
def test_submitit_slurm_fields_are_overridable(tmp_path: Path) -> None:
    result = run_cli(
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=4",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.cpus_per_task=8",
        "--cfg",
        "hydra",
        "--package",
        "hydra.launcher",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    launcher = OmegaConf.create(result.stdout)  # --package prints the launcher node itself
    assert (launcher.partition, launcher.gpus_per_node, launcher.timeout_min, launcher.cpus_per_task) == (
        "gpu",
        4,
        30,
        8,
    )


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_syncs_metrics_and_writes_once(run_entry, mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=1024",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=1",
        "callbacks.model_summary=null",
        "hydra.run.dir=ddp",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("TEST (final epoch 1)") == 1  # rank 0 reports
    trained = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    status, _, err = run_entry(  # one process, the whole test set
        "mnist_design.evaluate", f"ckpt_path={tmp_path / 'ddp' / 'checkpoints' / 'last.ckpt'}", cwd=tmp_path
    )
    assert status == 0, err[-2000:]
    [single] = [json.loads(p.read_text()) for p in tmp_path.glob("outputs/evaluate/*/metrics.json")]
    assert single["test_acc"] == trained["test_acc"]  # the two ranks' halves of the test set, synced = all of it


def journal_trials(tmp_path: Path, name: str) -> list:
    try:
        return study(tmp_path, name).trials
    except Exception:  # noqa: BLE001 - the study may not exist yet while the search starts
        return []


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", "postgresql"])
def test_a_killed_search_continues_to_exactly_the_asked_trials(
    mnist_dir: Path, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """On the default journal and on a PostgreSQL server (what a cluster shares, docs/cluster.md); tests/test_studies.py
    checks the same recovery on SQLite, in-process."""
    url = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    name = f"killed_{kind}"
    storage = [f"search.storage='{url}'"] if url else []  # quoted: a socket URL holds ?host=

    def trials_of(tmp_path: Path, name: str) -> list:
        if url is None:
            return journal_trials(tmp_path, name)
        try:
            return optuna.load_study(study_name=name, storage=stores.with_driver(url)).trials
        except Exception:  # noqa: BLE001 - the study may not exist yet while the search starts
            return []

    args = [
        *trial_args(mnist_dir),
        *storage,
        "data.train_subset=2048",
        "trainer.max_epochs=3",
        f"search.study_name={name}",
        "search.sampler.seed=0",
        "search.n_trials=4",
        "search.workers=2",
        "search.selection.top=0",
        "search.enqueue_published=false",
    ]
    parent = subprocess.Popen(
        [sys.executable, "-m", "mnist_design.search", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # both workers mid-trial, the base trial (the parent's first) among them
        running = [
            t
            for t in trials_of(tmp_path, name)
            if t.state.name == "RUNNING" and "worker" in t.user_attrs and "run_dir" in t.user_attrs
        ]
        if len(running) == 2:
            break
        time.sleep(0.2)
    assert len(running) == 2, "the search never had two trials running"
    parent.send_signal(signal.SIGKILL)  # the other worker gets SIGTERM from the kernel (PR_SET_PDEATHSIG)
    parent.wait()
    time.sleep(3)
    # The parent's trial always dies with it. The worker's may still finish in the moment before its SIGTERM
    # lands (a trial here takes seconds), so the dead ones are those the journal still holds as RUNNING.
    stranded = [t for t in trials_of(tmp_path, name) if t.state.name == "RUNNING"]
    assert any(f":{parent.pid}:" in t.user_attrs["worker"] for t in stranded)  # the parent's own trial among them
    dead = {t.number for t in stranded}
    again = run_cli(*args, cwd=tmp_path, module="mnist_design.search")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "its worker is gone" in again.stdout
    trials = trials_of(tmp_path, name)
    trained = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and "refused" not in t.user_attrs]
    assert len(trained) == 4  # exactly what was asked, though trials died midway
    assert not [t for t in trials if t.state.name == "RUNNING"]
    assert {t.number for t in trials if t.state.name == "FAIL"} == dead  # exactly the dead ones, each retried
    assert [t.state.name for t in trials if t.user_attrs.get("base")].count("COMPLETE") == 1
