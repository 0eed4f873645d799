"""Continue a killed run in its own directory, with its own config: everything is checked before anything is written.

    python -m mnist_design.train resume=outputs/runs/<run>

The run's config is recomposed from its saved overrides through Hydra's compose API. Overrides that would change
what the checkpoint holds are refused; only where and how to run may change (``ALLOWED``). A finished run is left
alone ("already finished", exit 0); a run killed during its final test is tested and written.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mnist_design.config import ConfigError
from mnist_design.runs.layout import RunDir
from mnist_design.runs.portable import portable
from mnist_design.training import factory
from mnist_design.training.checkpoints import CheckpointError, read_checkpoint

# Overrides a resume may add: where the data is and where the run computes, never what it computes.
ALLOWED = ("data.data_dir", "trainer.accelerator", "trainer.devices", "trainer.enable_progress_bar", "threads")


def saved_overrides(run_dir: Path) -> list[str]:
    saved = RunDir(run_dir).overrides
    if not saved.is_file():
        raise CheckpointError(
            f"resume={run_dir} is not a run directory (no {saved.relative_to(run_dir)}); give the "
            f"directory printed at the end of a run, e.g. outputs/runs/<date>_<time>_<model>_<id>"
        )
    try:
        return [str(o) for o in OmegaConf.load(saved) if not str(o).startswith("resume=")]
    except Exception as error:  # noqa: BLE001 - any YAML or type error means the same: a damaged run directory
        raise CheckpointError(f"{saved} is unreadable ({type(error).__name__}); that run cannot be resumed") from None


def extra_overrides(typed: list[str]) -> list[str]:
    """What the user typed beside resume=, refused unless it only says where and how to run."""
    extras = [o for o in typed if not o.startswith("resume=")]
    refused = [o for o in extras if o.split("=", 1)[0].lstrip("+~") not in ALLOWED]
    if refused:
        raise ConfigError(
            f"resume= takes the run's own config; {' '.join(refused)} would change what the checkpoint "
            f"holds. Allowed beside resume=: {', '.join(ALLOWED)}"
        )
    return extras


def last_checkpoint(cfg: DictConfig, run_dir: Path) -> str | None:
    """The last checkpoint, checked to be whole and to fit the run's model; None when the run died before its first
    epoch."""
    last = RunDir(run_dir).last_checkpoint
    if not last.is_file():
        return None
    checkpoint = read_checkpoint(last)
    try:
        factory.classifier(cfg).load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{last} does not fit the run's model ({str(error).splitlines()[0]})") from None
    return str(last)


def refuse_search_trial(run_dir: Path) -> None:
    """A trial belongs to its study: the search command continues it (and recovers the killed trial)."""
    try:
        is_trial = "search" in OmegaConf.load(RunDir(run_dir).config)
    except Exception:  # noqa: BLE001 - an unreadable config is reported by the normal path below
        return
    if is_trial:
        raise ConfigError(
            f"resume={run_dir} is a search trial; continue its study with the search command it came "
            f"from (python -m mnist_design.search ...): a killed trial is retried there"
        )


def plan(run_dir: Path, typed: list[str]) -> tuple[DictConfig, str | None] | None:
    """(the run's config, the checkpoint to continue from), or None after saying the run is already finished."""
    overrides = saved_overrides(run_dir) + extra_overrides(typed)  # errors name the directory as the user typed it
    refuse_search_trial(run_dir)
    run_dir = run_dir.resolve()
    if RunDir(run_dir).finished():
        print(f"resume: {run_dir} already finished ({RunDir(run_dir).metrics.name} is there); nothing to do")
        return None
    try:
        cfg = factory.compose_run("train", overrides, run_dir)
    except Exception as error:  # noqa: BLE001 - Hydra's composition errors: the saved overrides no longer compose
        raise ConfigError(f"the saved config of {run_dir} no longer composes: {str(error).splitlines()[0]}") from None
    ckpt_path = last_checkpoint(cfg, run_dir)
    for stale in RunDir(run_dir).checkpoints.glob(".*.tmp"):  # left by a kill during a checkpoint write
        stale.unlink()
    print(
        f"resume: continuing from {ckpt_path}"
        if ckpt_path
        else f"resume: no checkpoint yet in {RunDir(run_dir).checkpoints}, starting the run from epoch 1"
    )
    return cfg, ckpt_path


def how_to_continue(run_dir: Path) -> str | None:
    """After Ctrl-C: the command that continues the run, where it has a last checkpoint and no metrics file yet."""
    run = RunDir(run_dir)
    if run.last_checkpoint.is_file() and not run.metrics.is_file():
        return f"continue with python -m mnist_design.train resume={portable(run_dir)}"
    return None
