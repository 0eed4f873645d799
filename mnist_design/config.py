"""Where the Hydra configs live, the ``${run_id:}`` resolver, and the checks a config must pass before training."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

# One id per process: with the timestamp it keeps two runs started in the same second apart.
RUN_ID = f"{os.getpid()}{secrets.token_hex(2)}"
OmegaConf.register_new_resolver("run_id", lambda: RUN_ID, replace=True)


def sqlite_in(directory: str) -> str:
    """``${sqlite_in:DIR}`` -> sqlite URL of DIR/optuna.db, creating DIR (the sweep dir does not exist yet when
    the Optuna sweeper opens its storage, and SQLite will not create folders)."""
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'optuna.db'}"


OmegaConf.register_new_resolver("sqlite_in", sqlite_in, replace=True)


def config_dir() -> str:
    """conf/ ships inside the package when installed from a wheel, and sits beside it in a checkout."""
    packaged = Path(__file__).resolve().parent / "conf"
    return str(packaged if packaged.is_dir() else packaged.parent.parent / "conf")


class ConfigError(ValueError):
    """A config value outside what is allowed; the message names the key, the value and the allowed range."""


def validate(cfg: DictConfig) -> None:
    """Fail before any data is touched or any training starts."""
    checks = [
        ("trainer.max_epochs", cfg.trainer.get("max_epochs"), lambda v: v is None or v == -1 or v > 0,
         "a positive integer (or -1 for no limit)"),
        ("data.batch_size", cfg.data.batch_size, lambda v: v > 0, "a positive integer"),
        ("data.eval_batch_size", cfg.data.eval_batch_size, lambda v: v > 0, "a positive integer"),
        ("data.val_size", cfg.data.val_size, lambda v: 0 < v < 60_000, "between 1 and 59,999"),
        ("data.train_subset", cfg.data.train_subset, lambda v: v is None or v > 0, "null or a positive integer"),
        ("model.dropout", cfg.model.get("dropout", 0.0), lambda v: 0 <= v < 1, "in [0, 1)"),
        ("optimizer.lr", cfg.optimizer.get("lr", 1.0), lambda v: v > 0, "> 0"),
    ]
    if cfg.get("scheduler") and "max_lr" in cfg.scheduler:
        checks.append(("scheduler.max_lr", cfg.scheduler.max_lr, lambda v: v > 0, "> 0"))
    for key, value, ok, allowed in checks:
        try:
            good = ok(value)
        except TypeError:
            good = False
        if not good:
            raise ConfigError(f"{key}={value} is not allowed: it must be {allowed}")
