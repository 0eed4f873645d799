"""A search space (conf/search_space/) as Optuna suggestions and as plain points, with its checks.

    choices = sample(trial, cfg, typed, run_dir)        # ["model.stage1.0=8", "optimizer=adamw", ...]
    point = point_of(composed_cfg, space)               # the same keys read off a config (the base, a preset)

A key is a train override: ``model.stage1.0`` (a value) or a config group such as ``optimizer`` (an option). Group
keys are chosen first; a value key that the chosen options do not have (``optimizer.momentum`` under AdamW,
``augment.p`` with ``augment=off``) is not suggested at all, so the space is conditional, as TPE expects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mnist_design.config import ConfigError, model_parameters, runtime
from mnist_design.training import factory

ABSENT = object()
FIXED_ATTR = "fixed"  # an enqueued trial's own keys: only these are suggested (the enqueued values)


@contextmanager
def own_runtime(cfg: DictConfig) -> Iterator[Path]:
    """Compose other configs inside (compose_run makes each Hydra's current config, which ${hydra:...} paths read),
    then make ``cfg`` current again; yields ``cfg``'s output directory."""
    try:
        yield Path(runtime(cfg).runtime.output_dir)
    finally:
        HydraConfig.instance().set_config(cfg)


def override(key: str, value: Any) -> str:
    """key=value as Hydra's command line reads it back (true/false/null, not Python's spelling)."""
    if value is None or isinstance(value, bool):
        value = {True: "true", False: "false", None: "null"}[value]
    return f"{key}={value}"


def key_of(typed: str) -> str:
    """'model.dropout' of '++model.dropout=0.1': the key an override sets."""
    return typed.split("=", 1)[0].lstrip("+~")


def last_of_each_key(overrides: Sequence[str]) -> list[str]:
    """Each key once, at its last place: Hydra lets the last one win, so an earlier one only repeats in the record."""
    last = {key_of(typed): place for place, typed in enumerate(overrides)}
    return [typed for place, typed in enumerate(overrides) if last[key_of(typed)] == place]


def choices(cfg: DictConfig) -> DictConfig:
    """The config's group options, from the hydra node it carries (config.runtime)."""
    return runtime(cfg).runtime.choices


def is_group(key: str, cfg: DictConfig) -> bool:
    return key in choices(cfg)


def has_key(cfg: DictConfig, key: str) -> bool:
    return OmegaConf.select(cfg, key, default=ABSENT) is not ABSENT


def suggest(trial: optuna.Trial, key: str, spec: Any) -> Any:
    """One value: a list = one of its values; {low, high, log} = a number in range."""
    if isinstance(spec, (list, tuple)):
        return trial.suggest_categorical(key, list(spec))
    if isinstance(spec.get("low"), int) and isinstance(spec.get("high"), int):
        return trial.suggest_int(key, spec["low"], spec["high"], log=spec.get("log", False))
    return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=spec.get("log", False))


def space_of(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg.search.space)


def sample(trial: optuna.Trial, cfg: DictConfig, typed: Sequence[str], run_dir: Path) -> list[str]:
    """The trial's overrides: group options first, then the value keys those options have. An enqueued starting
    point (user attr ``fixed``) suggests only its own keys; the rest stay as its preset has them."""
    fixed = trial.user_attrs.get(FIXED_ATTR)
    space = {k: v for k, v in space_of(cfg).items() if fixed is None or k in fixed}
    chosen = [override(k, suggest(trial, k, v)) for k, v in space.items() if is_group(k, cfg)]
    probe = factory.compose_run("search", [*typed, *chosen], run_dir) if chosen else cfg
    chosen += [
        override(k, suggest(trial, k, v)) for k, v in space.items() if not is_group(k, cfg) and has_key(probe, k)
    ]
    return chosen


def point_of(cfg: DictConfig, space: Mapping[str, Any]) -> dict[str, Any]:
    """The config's own value of every searched key it has (a group's key: the option it chose)."""
    options = choices(cfg)
    point = {}
    for key in space:
        if key in options:
            point[key] = options[key]
        elif has_key(cfg, key):
            point[key] = OmegaConf.select(cfg, key)
    return point


def inside(key: str, value: Any, spec: Any) -> bool:
    """Whether the space can propose this value for this key."""
    if isinstance(spec, (list, tuple)):
        return value in spec
    return isinstance(value, (int, float)) and spec["low"] <= value <= spec["high"]


def check_keys(cfg: DictConfig, typed: Sequence[str]) -> None:
    """Every key of the space is a config key, or a key of some option of a searched group; else one line."""
    space = space_of(cfg)
    searched = [k for k in space if is_group(k, cfg)]
    options: list[DictConfig] = [cfg]
    with own_runtime(cfg) as run_dir:
        for group in searched:
            options += [
                factory.compose_run("search", [*typed, override(group, option)], run_dir) for option in space[group]
            ]
    unknown = [k for k in space if k not in searched and not any(has_key(c, k) for c in options)]
    if unknown:
        raise ConfigError(
            f"search.space: {', '.join(unknown)} is not a config key (nor a key of any option of the "
            f"searched groups); search keys are train overrides such as model.stage1.0 or optimizer"
        )


def smallest(cfg: DictConfig) -> int | None:
    """Parameters of the space's smallest design, a lower bound: every model width at its least, and each true/false
    model key (separable convs, BatchNorm) at whichever value costs fewer; None if that point cannot be built. Built
    straight from the model node: no composition needed."""
    probe = OmegaConf.create({"model": copy.deepcopy(cfg.model)})
    flags = []
    for key, spec in space_of(cfg).items():
        if not key.startswith("model."):
            continue
        values = spec if isinstance(spec, (list, tuple)) else [spec["low"]]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            OmegaConf.update(probe, key, min(numbers))
        elif all(isinstance(v, bool) for v in values):
            flags.append((key, values))
    try:
        for key, values in flags:
            OmegaConf.update(probe, key, min(values, key=lambda v: parameters_with(probe, key, v)))
        return model_parameters(probe)
    except ConfigError:  # a point that cannot even be built proves nothing
        return None


def parameters_with(probe: DictConfig, key: str, value: Any) -> int:
    trial = copy.deepcopy(probe)
    OmegaConf.update(trial, key, value)
    return model_parameters(trial)
