"""How well the search's cheap signals predict the 15-epoch result (issue 35, item 4): a sample of configurations
from a search space, each trained on its full schedule and on that schedule compressed, then Kendall tau of every
cheap signal against the full run's final validation accuracy.

    configs = sample_configs(cfg, typed)      # [["model.stage1.0=8", ...], ...]: reproducible, under the budget
    train_share(cfg, typed, configs)          # this worker's missing runs, into <out>/config_NN/epochs_E/
    table = signal_table(Path(out), cfg.fidelity)  # markdown: tau [95 % bootstrap CI], CPU minutes, tau per CPU-minute

Every run is a search trial's training run (conf/search.yaml: validation only, never the test set), on one seed.
The signals: the full run's validation accuracy and loss at the epochs of fidelity.rungs (2 and 4: what the per-epoch
successive-halving pruner watches), and the final validation accuracy and loss of the same schedule compressed to
fewer epochs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from omegaconf import DictConfig, OmegaConf
from scipy.stats import bootstrap, kendalltau

from mnist_design.config import ConfigError, model_parameters, validate
from mnist_design.report.tables import markdown
from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir
from mnist_design.runs.metrics import VAL_ACC, VAL_LOSS
from mnist_design.runs.records import RunUnreadable, read_history, read_metrics
from mnist_design.search import space
from mnist_design.training import factory
from mnist_design.training.callbacks import NonFiniteLoss
from mnist_design.training.run import train
from mnist_design.training.schedules import compress

CONFIG_DIR = "config_{:02d}"  # one sampled configuration's runs
RUN_DIR = "epochs_{}"  # one schedule length of it
DIVERGED = "diverged.txt"  # a run whose loss went non-finite: its message, so a rerun does not retry it
PROPOSALS_PER_CONFIG = 20  # a space that keeps proposing designs over the budget ends the sampling


def sample_configs(cfg: DictConfig, typed: Sequence[str]) -> list[list[str]]:
    """``cfg.fidelity.configs`` random points of the space that fit the budget and build, the same list on every
    worker (Optuna's RandomSampler with a fixed seed)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=cfg.fidelity.sampler_seed))
    configs: list[list[str]] = []
    with space.own_runtime(cfg) as run_dir:
        for _ in range(cfg.fidelity.configs * PROPOSALS_PER_CONFIG):
            if len(configs) == cfg.fidelity.configs:
                break
            trial = study.ask()
            chosen = space.sample(trial, cfg, typed, run_dir)
            try:
                composed = factory.compose_run("search", [*typed, *chosen], run_dir)
                fits = model_parameters(composed) <= cfg.budget
                validate(composed)
            except ConfigError:
                fits = False
            study.tell(trial, 0.0 if fits else None, state=None if fits else optuna.trial.TrialState.FAIL)
            if fits:
                configs.append(chosen)
    return configs


def run_config(typed: Sequence[str], chosen: list[str], epochs: int, run_dir: Path) -> DictConfig:
    """One run's config, written into its directory (.hydra/) as a search trial's is, so its record is complete."""
    composed = factory.compose_run("search", [*typed, *chosen], run_dir)
    overrides = [*typed, *chosen, *compress(composed, epochs)]
    runs.write_config(run_dir, composed, overrides)
    return composed


def check_same_draw(config_dir: Path, chosen: list[str]) -> None:
    """A configuration's runs all train one draw: one already recorded there must be this draw (a change to the
    space or its checks would otherwise mix two configurations under one name)."""
    for overrides in (RunDir(run).overrides for run in sorted(config_dir.glob("*"))):
        if not overrides.is_file():
            continue
        recorded = set(OmegaConf.to_container(OmegaConf.load(overrides)))
        if not set(chosen) <= recorded:
            raise ConfigError(
                f"{config_dir} holds runs of another draw ({overrides}); this code draws {' '.join(chosen)}. "
                f"Continue with the code that drew it, or choose a new fidelity.results_dir"
            )


def train_share(cfg: DictConfig, typed: Sequence[str], configs: list[list[str]]) -> int:
    """Train this worker's runs that have no record yet (config i belongs to worker i % workers); returns how many."""
    out, trained = Path(cfg.fidelity.results_dir), 0
    for index, chosen in enumerate(configs):
        if index % cfg.fidelity.workers != cfg.fidelity.worker:
            continue
        check_same_draw(out / CONFIG_DIR.format(index), chosen)
        for epochs in [cfg.fidelity.full_epochs, *cfg.fidelity.compressed]:
            run_dir = out / CONFIG_DIR.format(index) / RUN_DIR.format(epochs)
            if RunDir(run_dir).finished() or (run_dir / DIVERGED).is_file():
                continue
            with space.own_runtime(cfg):
                composed = run_config(typed, chosen, epochs, run_dir)
                print(f"[fidelity] config {index}, {epochs} epochs: {' '.join(chosen)}", flush=True)
                try:
                    train(composed, run_dir)
                except NonFiniteLoss as diverged:
                    (run_dir / DIVERGED).write_text(f"{diverged}\n")
            trained += 1
    return trained


@dataclass(frozen=True)
class Signal:
    """A cheap signal: its name, how to read it off a configuration's runs (higher = better), and its cost."""

    name: str
    value: Callable[[dict[int, Any]], float | None]
    seconds: Callable[[dict[int, Any]], float | None]


def at_epoch(epoch: int, key: str, sign: float) -> Signal:
    def value(runs: dict[int, Any]) -> float | None:
        history = runs["full"]["history"]
        return sign * history[epoch - 1][key] if len(history) >= epoch else None

    def seconds(runs: dict[int, Any]) -> float | None:
        history = runs["full"]["history"]
        return sum(h["seconds"] for h in history[:epoch]) if len(history) >= epoch else None

    kind = "accuracy" if key.endswith("acc") else "loss"
    return Signal(f"epoch {epoch} of the full schedule, validation {kind}", value, seconds)


def compressed(epochs: int, key: str, sign: float) -> Signal:
    def value(runs: dict[int, Any]) -> float | None:
        return sign * runs[epochs]["metrics"][key] if epochs in runs else None

    def seconds(runs: dict[int, Any]) -> float | None:
        return runs[epochs]["metrics"]["seconds"] if epochs in runs else None

    kind = "accuracy" if key.endswith("acc") else "loss"
    return Signal(f"the schedule compressed to {epochs} epochs, final validation {kind}", value, seconds)


SIGNED = ((VAL_ACC, 1.0), (VAL_LOSS, -1.0))  # each validation value, signed so that higher predicts better


def signals(rungs: Sequence[int], compressions: Sequence[int]) -> list[Signal]:
    """The full schedule read at each rung's epoch and each compressed schedule, by accuracy and by loss (lower loss =
    higher)."""
    found = [at_epoch(e, k, s) for e in rungs for k, s in SIGNED]
    return found + [compressed(e, k, s) for e in compressions for k, s in SIGNED]


def read_sample(out: Path, full_epochs: int) -> dict[int, dict[Any, Any]]:
    """Each configuration's finished runs: {index: {"full": {...}, 3: {...}, ...}} (each {"metrics", "history"})."""
    sample: dict[int, dict[Any, Any]] = {}
    for config in sorted(out.glob(CONFIG_DIR.replace("{:02d}", "*"))):
        runs: dict[Any, Any] = {}
        for run_dir in sorted(config.glob(RUN_DIR.replace("{}", "*"))):
            try:
                record = {"metrics": read_metrics(run_dir), "history": read_history(RunDir(run_dir).history)}
            except RunUnreadable:
                continue
            epochs = int(run_dir.name.rsplit("_", 1)[1])
            runs["full" if epochs == full_epochs else epochs] = record
        if "full" in runs:
            sample[int(config.name.rsplit("_", 1)[1])] = runs
    return sample


def tau(signal: Sequence[float], target: Sequence[float]) -> tuple[float, float, float]:
    """Kendall tau of signal against target, with a 95 % percentile bootstrap interval over configurations."""
    statistic = float(kendalltau(signal, target).statistic)
    if len(signal) < 4:
        return statistic, math.nan, math.nan
    interval = bootstrap(
        (list(signal), list(target)),
        lambda x, y: np.nan_to_num(kendalltau(x, y).statistic),  # a resample of one repeated point orders nothing: 0
        paired=True,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        rng=0,
    ).confidence_interval
    return statistic, float(interval.low), float(interval.high)


def signal_table(out: Path, settings: DictConfig) -> str:
    """One row per signal (``settings``: conf/fidelity.yaml's fidelity node): configurations measured, tau against the
    full run's final validation accuracy with its interval, CPU minutes per configuration, and tau per CPU-minute."""
    full_epochs = settings.full_epochs
    sample = read_sample(out, full_epochs)
    lines = []
    for signal in signals(settings.rungs, settings.compressed):
        pairs = [(signal.value(r), r["full"]["metrics"][VAL_ACC], signal.seconds(r)) for r in sample.values()]
        pairs = [p for p in pairs if p[0] is not None and math.isfinite(p[0])]
        if len(pairs) < 2:
            lines.append([signal.name, len(pairs), "–", "–", "–"])
            continue
        statistic, low, high = tau([p[0] for p in pairs], [p[1] for p in pairs])
        minutes = statistics.fmean(p[2] for p in pairs) / 60
        interval = f" [{low:+.2f}, {high:+.2f}]" if math.isfinite(low) else ""
        lines.append(
            [signal.name, len(pairs), f"{statistic:+.2f}{interval}", f"{minutes:.1f}", f"{statistic / minutes:.3f}"]
        )
    header = ["signal", "configs", f"Kendall τ vs epoch-{full_epochs} val acc [95 % CI]", "CPU min", "τ per CPU-min"]
    return markdown(header, lines, right=(1, 3, 4))
