"""Choosing a study's finalist without luck: the top trials retrained on several seeds, on validation only.

    picked = select(study, cfg, typed)     # every search process helps; each (trial, seed) runs once

The pruner leaves only a few complete trials, and the best of one noisy draw is biased upward. So when a study has
trained its trials, the ``search.selection.top`` trials ranked by the last epoch they reached and their value there
(complete, or pruned at the last rung) are each trained to the full schedule on ``search.selection.seeds``, with
``test=false``, and every baseline (the base config, each published design, each cross of their designs and recipes)
is a candidate too, and selection seed s validates on split s, so the mean is over three validation sets, not one
(selection protocol 2, recorded when a study begins; an older study keeps protocol 1). A complete trial already
trained on one of those seeds and its split is reused. The finalist has the best mean. Every run lives in
<search.results_dir>/select/trial_NNNN_seedS, beside the journal, so its record is committed with the study and a
continuation in another checkout keeps the runs already done; a process claims a run by creating its ``.claim`` file,
so several workers share the work, and a claim whose process is gone is taken over (safe to kill and continue).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from mnist_design import factory, runs
from mnist_design.metrics import record_key
from mnist_design.rundir import RunDir
from mnist_design.studies import (
    BASELINE_ATTRS,
    TRIAL_NAME,
    alive,
    baseline_name,
    in_flight,
    is_baseline,
    protocol,
    reached,
    recover_dead,
    this_worker,
    was_trained,
)
from mnist_design.training import train

SELECT_DIR = "select"
OVERRIDES_ATTR = "overrides"  # the trial's own overrides (its point in the space), recorded when it starts


def better_sign(study: optuna.Study) -> int:
    """+1 when higher values are better (accuracy), -1 when lower are (loss)."""
    return 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1


def candidates(study: optuna.Study, top: int) -> list[FrozenTrial]:
    """The ``top`` trained trials by (last epoch reached, value there), best first in the study's direction, then
    every trained baseline not among them: the search's finalist must beat each baseline on the same seeds."""
    sign = better_sign(study)
    ranked = [t for t in study.get_trials(deepcopy=False) if was_trained(t) and reached(t)]
    best = sorted(ranked, key=lambda t: (reached(t)[0], sign * reached(t)[1]), reverse=True)[:top]
    if protocol(study) < 2:  # a study begun before baselines were candidates keeps its own protocol
        return best
    return best + [t for t in ranked if is_baseline(t) and t not in best] if top else []


def split_seed(study: optuna.Study, cfg: DictConfig, seed: int) -> int:
    """The validation split a selection seed is measured on: its own (seed s on split s) from protocol 2 on, so
    three seeds average over three sets of 5,000 images; before, the base config's one."""
    return seed if protocol(study) >= 2 else cfg.data.split_seed


def run_dir(cfg: DictConfig, trial: FrozenTrial, seed: int) -> Path:
    return Path(cfg.search.results_dir) / SELECT_DIR / f"{TRIAL_NAME.format(trial.number)}_seed{seed}"


def reusable(study: optuna.Study, trial: FrozenTrial, seed: int, cfg: DictConfig) -> bool:
    """Whether the trial itself trained the whole schedule on this seed and its split (its value is then the
    seed's value)."""
    same_run = seed == cfg.seed and split_seed(study, cfg, seed) == cfg.data.split_seed
    return trial.state == TrialState.COMPLETE and same_run


def claim(path: Path) -> bool:
    """Take the run at ``path`` for this process: True if it is ours to train now."""
    marker = path.with_name(path.name + ".claim")
    marker.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if alive(marker.read_text().strip()) is not False or RunDir(path).finished():
                return False
            shutil.rmtree(path, ignore_errors=True)  # its process died mid-run: start that run afresh
            marker.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(this_worker())
        return True
    return False


def value_of(path: Path, monitor: str) -> float | None:
    try:
        return float(runs.read_metrics(path)[record_key(monitor)])
    except (runs.RunUnreadable, KeyError, TypeError, ValueError):
        return None


def seed_value(study: optuna.Study, trial: FrozenTrial, seed: int, cfg: DictConfig) -> float | None:
    """The candidate's monitored value on one seed: from the journal when the trial is that run, so a study continued
    in another checkout (whose trial run directories are not committed) still ranks it; else from its selection run."""
    if reusable(study, trial, seed, cfg):
        return float(trial.value)
    return value_of(run_dir(cfg, trial, seed), cfg.search.monitor)


def wait_for_trials(study: optuna.Study, poll_s: float = 10.0) -> None:
    """Every worker ranks the same trials: wait until no trial is still being trained. A trial whose worker died
    (a zombie too) is failed and enqueued again each poll, so a dead worker never leaves this waiting for ever."""
    while in_flight(study):
        for number in recover_dead(study):
            print(f"[select] trial {number}: its worker is gone; failed, and its design enqueued again", flush=True)
        if in_flight(study):
            time.sleep(poll_s)


def train_pending(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> None:
    """Train every (candidate, seed) run that no process has claimed yet."""
    for trial in candidates(study, cfg.search.selection.top):
        for seed in cfg.search.selection.seeds:
            path = run_dir(cfg, trial, seed)
            if reusable(study, trial, seed, cfg) or RunDir(path).finished() or not claim(path):
                continue
            overrides = [
                *typed,
                *trial.user_attrs.get(OVERRIDES_ATTR, []),
                f"seed={seed}",
                f"data.split_seed={split_seed(study, cfg, seed)}",
                "test=false",
                f"+tags.candidate={TRIAL_NAME.format(trial.number)}",
            ]
            print(f"[select] trial {trial.number} seed {seed} -> {path}", flush=True)
            run_cfg = factory.compose_run("search", overrides, path)
            runs.write_config(path, run_cfg, overrides)
            train(run_cfg)


def select(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> dict[str, Any] | None:
    """Train what is left of the selection, then (if every run is there) the candidates and the finalist."""
    if not cfg.search.selection.top:
        return None
    wait_for_trials(study)
    train_pending(study, cfg, typed)
    sign = better_sign(study)
    rows = []
    for trial in candidates(study, cfg.search.selection.top):
        per_seed = {seed: seed_value(study, trial, seed, cfg) for seed in cfg.search.selection.seeds}
        epoch, value = reached(trial)
        done = [v for v in per_seed.values() if v is not None]
        rows.append(
            {
                "trial": trial.number,
                "params": trial.user_attrs.get("params"),
                "reached_epoch": epoch,
                "value_there": value,
                "per_seed": per_seed,
                "mean": statistics.fmean(done) if len(done) == len(per_seed) else None,
                **{key: trial.user_attrs[key] for key in BASELINE_ATTRS if key in trial.user_attrs},
                "overrides": list(trial.user_attrs.get(OVERRIDES_ATTR, [])),
            }
        )
    complete = [row for row in rows if row["mean"] is not None]
    finalist = max(complete, key=lambda row: sign * row["mean"]) if len(complete) == len(rows) and rows else None
    result = {
        "seeds": list(cfg.search.selection.seeds),
        "monitor": cfg.search.monitor,
        "candidates": rows,
        "finalist": finalist["trial"] if finalist else None,
        "finished": finalist is not None,
    }
    if protocol(study) >= 2:
        result["split_seeds"] = [split_seed(study, cfg, seed) for seed in cfg.search.selection.seeds]
        # no searched candidate beat it: the finalist is that baseline, and the summary and the preset say so
        result["finalist_is_baseline"] = baseline_name(finalist) if finalist else None
    return result
