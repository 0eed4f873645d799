"""The checks and defaults of the export and robustness commands, before anything is read or written."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from mnist_design.errors import UserError, not_allowed
from mnist_design.runs.layout import FILES
from mnist_design.runs.preflight import check_creatable


class SettingError(UserError):
    """A value out of range; the message names the key and what is allowed."""


def run_dir_of(ckpt_path: Path) -> Path:
    """The run directory a checkpoint belongs to: the folder above checkpoints/, else the checkpoint's own folder."""
    return ckpt_path.parent.parent if ckpt_path.parent.name == FILES["checkpoints"] else ckpt_path.parent


DEPLOY_DIR = "deploy"  # the folder of a run directory that export and robustness write into


def output_dir(cfg: DictConfig, ckpt_path: str | None = None) -> Path:
    """``out_dir``, or deploy/ in the checkpoint's run directory; checked writable before any work."""
    out_dir = Path(cfg.out_dir) if cfg.out_dir else run_dir_of(Path(ckpt_path or cfg.ckpt_path)) / DEPLOY_DIR
    check_creatable(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def check_export(cfg: DictConfig, several: bool = False) -> None:
    if not several and not isinstance(cfg.ckpt_path, str):
        raise SettingError(f"ckpt_path={cfg.ckpt_path}: give one checkpoint file (robustness takes a list)")
    if cfg.calibration_images < 1:
        raise SettingError(not_allowed("calibration_images", cfg.calibration_images, "a whole number >= 1"))
    if cfg.latency_runs < 0:
        raise SettingError(not_allowed("latency_runs", cfg.latency_runs, "a whole number >= 0 (0 = do not time)"))
