"""Objects from config, built in one place for every entry point (train, search, evaluate, predict, bench, report).

datamodule, model, trainer = build(cfg)                # data -> model -> callbacks -> logger -> trainer
model, data_settings = classifier_from_checkpoint(path)  # a trained model, rebuilt from its checkpoint alone
cfg = compose_run("train", ["model=skeleton"], run_dir)   # a config as @hydra.main would give it, for run_dir
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from mnist_design.config import ConfigError, built, config_dir
from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.data.sources import data_dir_for
from mnist_design.errors import not_allowed
from mnist_design.training.checkpoints import CheckpointError, read_checkpoint
from mnist_design.training.module import MNISTClassifier
from mnist_design.training.quiet import hush_library_notes
from mnist_design.training.threads import ThreadTuner


def datamodule(cfg: DictConfig) -> MNISTDataModule:
    augment = instantiate(cfg.augment) if cfg.get("augment") else None
    # CUDA graphs replay one shape: a compiled run drops the short last batch so one graph serves every step.
    return instantiate(cfg.data, augment=augment, drop_last=compiled(cfg) and "reduce-overhead" in cfg.compile_mode)


def compiled(cfg: DictConfig) -> bool:
    """Whether the network is compiled: ``compile`` if set, else on CUDA only (on CPU it measured 0.94x, 81 s to
    compile, issue 45)."""
    chosen = cfg.get("compile")
    return training_device(cfg).type == "cuda" if chosen is None else bool(chosen)


def classifier(cfg: DictConfig) -> MNISTClassifier:
    model = MNISTClassifier.from_config(cfg)
    if compiled(cfg):
        modes = list(torch._inductor.list_mode_options())  # torch's own list (its error for another is a KeyError)
        if cfg.compile_mode not in modes:
            raise ConfigError(not_allowed("compile_mode", cfg.compile_mode, f"one of {', '.join(modes)}"))
        # nn.Module.compile compiles in place: the state_dict keeps its keys, so checkpoints load either way.
        model.net.compile(mode=cfg.compile_mode, dynamic=False)
    return model


def callbacks(cfg: DictConfig) -> list[L.Callback]:
    """The callbacks group, less what the rest of the config rules out: the progress bar when the trainer shows none,
    the learning-rate monitor when there is no logger (Lightning refuses both combinations)."""
    chosen = {name: c for name, c in (cfg.get("callbacks") or {}).items() if c}
    if not cfg.trainer.get("enable_progress_bar", True):
        chosen.pop("progress_bar", None)
    if not cfg.get("logger"):
        chosen.pop("lr_monitor", None)
    return [built(f"callbacks.{name}", lambda c=c: instantiate(c)) for name, c in chosen.items()]


def logger(cfg: DictConfig) -> Any:
    """The logger group's choice; one Lightning cannot make (its package not installed) is one line naming it."""
    return built(f"logger ({cfg.logger._target_})", lambda: instantiate(cfg.logger)) if cfg.get("logger") else False


def trainer(cfg: DictConfig, extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    tuner = thread_tuner(cfg)
    chosen = [*callbacks(cfg), *([tuner] if tuner else []), *extra_callbacks]
    return lightning_trainer(cfg, callbacks=chosen, logger=logger(cfg))


def lightning_trainer(cfg: DictConfig, **passed: Any) -> L.Trainer:
    """cfg.trainer as a lightning.Trainer. A value Lightning refuses (a precision, a strategy, an accelerator this
    machine lacks) is the user's to change: one line with Lightning's reason, never a wrapped trace."""
    where = f"accelerator={cfg.trainer.get('accelerator')}, devices={cfg.trainer.get('devices')} on this machine"
    refused = f"lightning.Trainer refused the trainer settings ({where})"
    hush_library_notes()
    return built(refused, lambda: instantiate(cfg.trainer, **passed))


JOBS_VARIABLE = "MNIST_DESIGN_JOBS"  # set by whoever starts several training processes on one machine


def jobs_sharing_cores(cfg: DictConfig) -> int:
    """Training processes on this machine: the search's workers (via JOBS_VARIABLE), or DDP's CPU processes."""
    given = os.environ.get(JOBS_VARIABLE, "1")
    if not given.strip().isdigit() or int(given) < 1:
        raise ConfigError(not_allowed(JOBS_VARIABLE, repr(given), "a whole number >= 1 (or unset)"))
    jobs = int(given)
    if cfg.trainer.get("accelerator") == "cpu" and "ddp" in str(cfg.trainer.get("strategy", "")):
        jobs *= int(cfg.trainer.devices) if str(cfg.trainer.devices).isdigit() else 1
    return max(1, jobs)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a SLURM allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def core_share(cfg: DictConfig) -> int:
    """This process's share of the cores: two jobs that each take every core slow each other several-fold on a
    small machine (measured in ``python -m mnist_design.bench parallel=true``)."""
    return max(1, usable_cores() // jobs_sharing_cores(cfg))


def share_cores(cfg: DictConfig) -> int:
    """torch threads to start with: ``threads``, else this process's share of the cores."""
    usable = usable_cores()
    threads = cfg.get("threads") or core_share(cfg)
    if threads > usable:  # more threads than cores only wait on each other (measured: 25x slower at threads=1000)
        print(f"warning: threads={threads} is more than the {usable} cores this process may use; using {usable}")
        threads = usable
    torch.set_num_threads(threads)
    return threads


def training_device(cfg: DictConfig) -> torch.device:
    accelerator = cfg.trainer.get("accelerator", "auto")
    return torch.device("cuda" if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available() else "cpu")


def thread_tuner(cfg: DictConfig) -> ThreadTuner | None:
    """threads=null on a CPU with cores to share: measured (threads.py beside this file). threads=N, a deterministic
    trainer (bit-identical reruns) or a GPU: fixed."""
    fixed = cfg.get("threads") or cfg.trainer.get("deterministic") or training_device(cfg).type != "cpu"
    share = core_share(cfg)
    return None if fixed or share < 2 else ThreadTuner(share)


def build(
    cfg: DictConfig, extra_callbacks: Sequence[L.Callback] = ()
) -> tuple[MNISTDataModule, MNISTClassifier, L.Trainer]:
    """data -> model -> callbacks -> logger -> trainer, each from its config group."""
    return datamodule(cfg), classifier(cfg), trainer(cfg, extra_callbacks)


def classifier_from_checkpoint(path: str | Path) -> tuple[MNISTClassifier, dict[str, Any]]:
    """The model rebuilt from the checkpoint alone, in eval mode, and the DataModule settings it was trained with."""
    return classifier_from(read_checkpoint(path), path)


def classifier_from(checkpoint: dict[str, Any], path: str | Path) -> tuple[MNISTClassifier, dict[str, Any]]:
    """classifier_from_checkpoint for a checkpoint already read (``path`` names it in errors)."""
    try:
        model = MNISTClassifier(**checkpoint["hyper_parameters"])  # the module's own arguments, as saved
    except (TypeError, ValueError, InstantiationException) as error:  # a key or a net this version cannot build
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f"{path}: its saved hyper_parameters do not build a model here ({reason})") from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(
            f"{path}: the weights do not fit the model the checkpoint describes ({str(error).splitlines()[0]})"
        ) from error
    settings = dict(checkpoint.get("datamodule_hyper_parameters") or {})
    if "data_dir" in settings:  # where the run found MNIST, unless $MNIST_DESIGN_DATA says where it is here
        settings["data_dir"] = data_dir_for(settings["data_dir"])
    return model.eval(), settings


def compose_run(config_name: str, overrides: Sequence[str], run_dir: Path | None = None) -> DictConfig:
    """The config ``python -m mnist_design.<entry> OVERRIDES`` would get, with its output directory set to run_dir
    (None: the directory the command line would make, e.g. outputs/runs/<date>_<time>_<model>_<id>).

    Hydra's compose API, so a search can build each trial's config and a resume can rebuild a run's, in process.
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    if run_dir is None:  # the default interpolates ${hydra:runtime.choices...}: resolve it on a copy Hydra knows
        probe = cfg.copy()
        HydraConfig.instance().set_config(probe)
        run_dir = Path(str(probe.hydra.run.dir))
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
        cfg.hydra.run.dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg
