"""Where the Hydra configs live, the resolvers they use, and the one place where config values are range-checked.

Types and unknown keys are refused by Hydra itself (the structured configs in mnist_design/config/schema/); what is
left for ``validate`` is ranges and combinations, checked before any data is read or any training starts.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_design.config import schema
from mnist_design.config.ranges import range_checks
from mnist_design.data import TRAIN_IMAGES
from mnist_design.errors import UserError, not_allowed
from mnist_design.models.net import parameter_count
from mnist_design.runs import layout as rundir
from mnist_design.training.module import MNISTClassifier, build_optimizer, build_scheduler

schema.register()  # every entry point imports this module before Hydra composes

# One id per process: with the timestamp it keeps two runs started in the same second apart.
RUN_ID = f"{os.getpid()}{secrets.token_hex(2)}"
OmegaConf.register_new_resolver("run_id", lambda: RUN_ID, replace=True)
# resume=RUN continues in RUN's own directory and must not rewrite its .hydra/ files (mnist_design/training/resume.py).
OmegaConf.register_new_resolver("or_resume", lambda resume, fresh: resume if resume else fresh, replace=True)
# ${when:COND,A,B}: A when COND is true, else B (the report writes into results_dir, not out_dir, when front=true).
OmegaConf.register_new_resolver("when", lambda cond, then, otherwise: then if cond else otherwise, replace=True)
# the step Optuna is told for the end of epoch N (steps count epochs from 0): a pruner's rung at a given epoch
OmegaConf.register_new_resolver("epoch_step", lambda epochs: int(epochs) - 1, replace=True)
OmegaConf.register_new_resolver("hydra_subdir", lambda resume: None if resume else rundir.HYDRA_DIR, replace=True)


def shipped_dir(name: str) -> str:
    """conf/ and results/ ship inside the package when installed from a wheel, and sit beside it in a checkout."""
    package = Path(__file__).resolve().parents[1]  # mnist_design/, this file being mnist_design/config/__init__.py
    packaged = package / name
    return str(packaged if packaged.is_dir() else package.parent / name)


def config_dir() -> str:
    return shipped_dir("conf")


OmegaConf.register_new_resolver("shipped_dir", shipped_dir, replace=True)  # ${shipped_dir:results}


class ConfigError(UserError):
    """A config value outside what is allowed; the message names the key, the value and the allowed range."""


class OverBudget(ConfigError):
    """The model has more parameters than ``budget`` allows; raised before any data is read."""


def non_finite(node: Any, path: str = "") -> str | None:
    """The first key under ``node`` holding NaN or an infinity (a float no range check below would refuse)."""
    if isinstance(node, float):
        return None if math.isfinite(node) else path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    found = (non_finite(value, f"{path}.{key}".lstrip(".")) for key, value in items)
    return next((key for key in found if key is not None), None)


def validate(cfg: DictConfig) -> int:
    """Fail with one line naming the key before any data is touched or any training starts; returns the model's
    parameter count (building the model is part of the check)."""
    infinite = non_finite({k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "hydra"})
    if infinite is not None:  # NaN slips through every range check below, and a run would die as a NaN loss
        raise ConfigError(not_allowed(infinite, OmegaConf.select(cfg, infinite), "a finite number"))
    for key, value, ok, allowed in range_checks(cfg):
        try:
            good = ok(value)
        except TypeError:
            good = False
        if not good:
            raise ConfigError(not_allowed(key, value, allowed))
    train_size = cfg.data.train_subset or TRAIN_IMAGES - (0 if cfg.data.val_on_test else cfg.data.val_size)
    if cfg.data.batch_size > train_size:
        raise ConfigError(
            not_allowed("data.batch_size", cfg.data.batch_size, f"at most the {train_size:,} training images")
        )
    check_recipe(cfg)
    check_presets(runtime(cfg).runtime.choices)
    # built once: the net checks its own arguments (model.dropout, the layers), the module its own (module.*)
    module = built("model", lambda: MNISTClassifier.from_config(cfg), also=("module.",))
    return parameter_count(module.net)


def check_pruner(cfg: DictConfig) -> None:
    """search.rung_epochs and the pruner agree: a pruner that reads the rung has one, a rung a pruner to judge it."""
    rung = cfg.search.get("rung_epochs")
    shown = "null" if rung is None else rung
    try:
        pruner = OmegaConf.to_container(cfg.search.pruner, resolve=True) if cfg.search.get("pruner") else {}
    except Exception:  # noqa: BLE001 - OmegaConf wraps the resolver's TypeError in its own kinds
        raise ConfigError(
            f"search.rung_epochs={shown} is not allowed with this pruner: it judges searched trials on a compressed "
            f"schedule of search.rung_epochs epochs; give search.rung_epochs=N (N >= 2), or pruner=halving, median "
            f"or none"
        ) from None
    if rung is not None and str(pruner.get("_target_", "")).endswith("NopPruner"):
        raise ConfigError(
            f"search.rung_epochs={rung} is not allowed with pruner=none: no pruner would judge the rung, so its runs "
            f"would only cost training; drop search.rung_epochs (null) or choose pruner=compressed"
        )


def first_line(error: BaseException) -> str:
    """The message of what Hydra's instantiate wrapped (the library's own ValueError), first line only."""
    return str(error.__cause__ or error).splitlines()[0]


def check_recipe(cfg: DictConfig) -> None:
    """Build the augmentation, the optimizer (on one dummy weight) and the scheduler: each checks its own arguments,
    so their ranges are written once, in the classes, and still refused before any data is read."""
    if cfg.get("augment"):
        built("augment", lambda: instantiate(cfg.augment))
    optimizer = built("optimizer", lambda: build_optimizer(cfg.optimizer, [torch.nn.Parameter(torch.zeros(1))]))
    if cfg.get("scheduler"):
        built("scheduler", lambda: build_scheduler(cfg.scheduler, optimizer, total_steps=lambda: 1))


def built(group: str, build: Callable[[], Any], also: tuple[str, ...] = ()) -> Any:
    """What ``build`` makes; its error as a ConfigError naming the group (or the key, when the class names it: one
    of the group's, or one starting with a prefix in ``also``)."""
    try:
        return build()
    except Exception as error:  # Hydra wraps the class's own ValueError; its message says why
        message = first_line(error)
        raise ConfigError(message if message.startswith((f"{group}.", *also)) else f"{group}: {message}") from error


PRESET_GROUPS = ("experiment", "step")  # options that choose other groups and tag the run with their own name


def preset_choices(group: str, option: str) -> dict[str, str]:
    """The group choices a preset makes (its defaults list's ``override /GROUP: OPTION`` entries, and those of the
    presets of its own group it builds on, as step/padding28 builds on step/base)."""
    entries = OmegaConf.load(Path(config_dir()) / group / f"{option}.yaml").get("defaults") or []
    spelled = {True: "on", False: "off"}  # YAML 1.1 reads an unquoted on/off as a bool
    made: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, str) and entry != "_self_":
            made.update(preset_choices(group, entry))
        elif isinstance(entry, DictConfig):
            made.update(
                {
                    key.removeprefix("override /"): str(spelled.get(value, value))
                    for key, value in entry.items()
                    if key.startswith("override /")
                }
            )
    return made


def check_presets(choices: Any) -> None:
    """A run tagged as an experiment or a step is that experiment or step: a group choice that overrides one the
    preset makes itself (experiment=pareto8k model=best, or step= with experiment= beside it) is refused, naming
    what the user typed (the other preset, when a preset made the conflicting choice)."""
    made = {group: preset_choices(group, str(choices.get(group))) for group in PRESET_GROUPS if choices.get(group)}
    for group, wanted_by_target in made.items():
        option = choices.get(group)
        for target, wanted in wanted_by_target.items():
            if str(choices.get(target)) == wanted:
                continue
            rival = next((other for other in made if other != group and target in made[other]), None)
            if rival:
                raise ConfigError(
                    f"{group}={option} conflicts with {rival}={choices.get(rival)}: both choose {target} "
                    f"({target}={wanted} and {target}={made[rival][target]}); drop one of the two"
                )
            raise ConfigError(
                f"{target}={choices.get(target)} conflicts with {group}={option}, which is "
                f"{target}={wanted} and tags the run as {option}; drop one of the two"
            )


def runtime(cfg: DictConfig) -> DictConfig:
    """The hydra node a run's config carries: its group choices (``runtime.choices``), typed overrides
    (``overrides.task``) and output directory. Library code reads them here, from the config it was given, never
    from Hydra's global state: factory.compose_run composes with the node, and a command attaches its own
    (with_runtime)."""
    if "hydra" not in cfg:
        raise ValueError("a run's config carries its hydra node: compose it with factory.compose_run or with_runtime")
    return cfg.hydra


def with_runtime(cfg: DictConfig) -> DictConfig:
    """For a command (inside @hydra.main): its config with Hydra's runtime node attached, as compose_run's has it."""
    if "hydra" not in cfg:
        with open_dict(cfg):
            cfg.hydra = HydraConfig.get()
    return cfg


def check_options(key: str, group: str, chosen: list[str]) -> None:
    """Every name in ``chosen`` is an option of conf/<group>/, before any run is launched with it."""
    allowed = sorted(path.stem for path in (Path(config_dir()) / group).glob("*.yaml"))
    unknown = [name for name in chosen if name not in allowed]
    if unknown:
        raise ConfigError(
            f"{key}: {', '.join(f'{group}/{name}' for name in unknown)} does not exist; allowed: {', '.join(allowed)}"
        )


def model_parameters(cfg: DictConfig) -> int:
    """The model's parameter count; a model config that cannot be built is a ConfigError naming why."""
    return built("model", lambda: parameter_count(instantiate(cfg.model)))


def check_budget(cfg: DictConfig, params: int) -> None:
    """Refuse a model of ``params`` parameters (from validate or model_parameters) over ``budget``."""
    if cfg.get("budget") is not None and params > cfg.budget:
        raise OverBudget(
            f"the model has {params:,} parameters, over budget={cfg.budget:,}; use a smaller model or raise the budget"
        )
