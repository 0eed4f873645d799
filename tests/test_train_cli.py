"""The real command line, in subprocesses, on a tiny subset."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli, tiny

from mnist_design.runs import layout as rundir
from mnist_design.runs import records as runs
from mnist_design.training.run import train

METRIC_KEYS = {
    "params",
    "epochs",
    "seconds",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "selected",
}


def run_dirs(root: Path) -> list[Path]:
    return sorted(path.parent for path in root.glob("outputs/**/.hydra"))


@pytest.mark.slow
def test_the_card_example_trains_and_writes_everything(tiny_run) -> None:
    run, result = tiny_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert METRIC_KEYS <= set(metrics)
    assert metrics["params"] == 7496 and metrics["epochs"] == 1 and metrics["model"] == "bn_dropout"
    assert all(0 <= metrics[k] <= 1 for k in ("train_acc", "val_acc", "test_acc"))
    assert metrics["selected"]["epoch"] == 1 and "test_acc" in metrics["selected"]
    assert (run / "checkpoints" / "last.ckpt").is_file() and list((run / "checkpoints").glob("best-*.ckpt"))
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert "augment" in (run / ".hydra" / "config.yaml").read_text()
    assert "TEST (final epoch 1)" in result.stdout and str(run) in result.stdout
    assert "epoch  1/1" in result.stdout and "val loss" in result.stdout
    history = runs.read_history(rundir.RunDir(run).history)
    assert [h["epoch"] for h in history] == [1] and history[0]["val_acc"] == metrics["val_acc"]
    for figure in (rundir.LEARNING_CURVES, rundir.PREDICTIONS, rundir.CONFUSION_MATRIX):
        assert rundir.RunDir(run).figure(figure).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_tensorboard_gets_curves_figures_and_the_receptive_field_table(tiny_run) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = tiny_run
    tags = {}
    for events in (run / "tensorboard").glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0, "images": 0})
        accumulator.Reload()
        for kind, names in accumulator.Tags().items():
            if isinstance(names, list):
                tags.setdefault(kind, set()).update(names)
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= tags["scalars"]
    assert any(name.startswith("lr-") for name in tags["scalars"])
    assert {"figures/learning_curves", "figures/predictions", "figures/confusion_matrix"} <= tags["images"]
    assert any("receptive_field" in name for name in tags["tensors"])


def hparams_view(run: Path) -> tuple[dict, dict[str, float]]:
    """What TensorBoard's HParams tab shows for one run: its hyperparameters and its final metrics, read back with
    TensorBoard's own event reader and the hparams plugin's protobufs."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    params, finals = {}, {}
    for events in (run / "tensorboard").glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        try:
            contents = accumulator.PluginTagToContent("hparams")
        except KeyError:  # the event files written before the run ended hold curves only
            contents = {}
        for content in contents.values():
            data = plugin_data_pb2.HParamsPluginData.FromString(content)
            if data.HasField("session_start_info"):
                for name, value in data.session_start_info.hparams.items():
                    params[name] = value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
        for tag in accumulator.Tags()["scalars"]:
            if tag.startswith("final/"):
                finals[tag] = accumulator.Scalars(tag)[-1].value
    return params, finals


@pytest.mark.slow
def test_multirun_writes_one_directory_per_job_and_both_reach_the_hparams_view(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("-m", "experiment=row2,row4", *tiny(mnist_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = run_dirs(tmp_path)
    assert len(runs) == 2 and len({run.parent for run in runs}) == 1
    seen = []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        params, finals = hparams_view(run)
        assert params["seed"] == metrics["seed"] and params["choice/model"] == metrics["model"]
        assert params["tag/row"] == metrics["tags"]["row"] and params["data.batch_size"] == 128
        wanted = {"model.dropout", "optimizer.lr", "choice/scheduler", "choice/augment", "choice/optimizer"}
        assert wanted <= set(params)
        assert finals["final/val_acc"] == pytest.approx(metrics["val_acc"])
        assert finals["final/test_acc"] == pytest.approx(metrics["test_acc"])
        assert finals["final/params"] == metrics["params"]
        seen.append((params["tag/row"], params["seed"]))
    assert sorted(seen) == [("row2", 0), ("row4", 0)]


def test_runs_started_together_never_share_a_directory(mnist_dir: Path, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "mnist_design.train", *tiny(mnist_dir), "trainer.fast_dev_run=true", "test=false"]
    jobs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    assert all(job.wait(timeout=300) == 0 for job in jobs)
    assert len(run_dirs(tmp_path)) == 2


@pytest.mark.slow
def test_unknown_model_lists_the_valid_choices(tmp_path: Path) -> None:
    result = run_cli("model=nonexistent", cwd=tmp_path)
    assert result.returncode != 0
    assert "Could not find 'model/nonexistent'" in result.stderr
    for choice in ("skeleton", "bn_dropout", "augmented", "best"):
        assert choice in result.stderr
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_bad_value_is_one_line_before_training(tmp_path: Path) -> None:
    result = run_cli("data.batch_size=0", "data.data_dir=/nonexistent/never/fetched", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: data.batch_size=0 is not allowed: it must be a positive integer")
    assert "Traceback" not in result.stderr and "HYDRA_FULL_ERROR=1" in result.stderr


@pytest.mark.slow
def test_configs_are_found_from_a_non_editable_install(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("experiment=row1", "--cfg", "job", cwd=elsewhere, env={"PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mnist_design.models.net.ConvNet" in result.stdout and "batch_norm: false" in result.stdout
    where = subprocess.run(
        [sys.executable, "-c", "from mnist_design.config import config_dir; print(config_dir())"],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(target / "mnist_design" / "conf")


@pytest.mark.slow
def test_seed_protocol_is_labelled_in_console_and_metrics(mnist_dir: Path, tmp_path: Path) -> None:
    result = run_cli("data.val_on_test=true", *tiny(mnist_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = run_dirs(tmp_path)
    assert json.loads((run / "metrics.json").read_text())["protocol"].startswith("TUTORIAL PROTOCOL")
    assert "test-as-val loss" in result.stdout and "TUTORIAL PROTOCOL" in result.stdout


def test_logger_mlflow_writes_params_curves_and_final_metrics_to_a_local_store(
    compose_cfg, mnist_dir: Path, tmp_path: Path
) -> None:
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed: pip install -e '.[mlflow]'")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_cfg(
        "logger=mlflow",
        f"logger.tracking_uri={store}",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.max_epochs=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.accelerator=cpu",
        "experiment=row2",
    )
    metrics = train(cfg, Path(cfg.hydra.runtime.output_dir))
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    [run] = client.search_runs([client.get_experiment_by_name("mnist_design").experiment_id])
    assert run.data.params["tag/row"] == "row2" and run.data.params["choice/model"] == "bn_dropout"
    assert run.data.metrics["final/test_acc"] == pytest.approx(metrics["test_acc"])
    assert len(client.get_metric_history(run.info.run_id, "val/acc")) == 2  # one point per epoch


def test_debug_profiler_writes_lightnings_report_into_the_run(compose_cfg, mnist_dir: Path) -> None:
    cfg = compose_cfg(
        "debug=profiler",
        f"data.data_dir={mnist_dir}",
        "data.train_subset=256",
        "trainer.limit_val_batches=1",
        "test=false",
        "trainer.accelerator=cpu",
        "logger=none",
    )
    train(cfg, Path(cfg.hydra.runtime.output_dir))
    report = Path(cfg.hydra.runtime.output_dir) / "fit-profile.txt"
    assert "run_training_epoch" in report.read_text() or "Action" in report.read_text()
