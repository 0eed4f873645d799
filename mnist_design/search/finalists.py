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
continuation in another checkout keeps the runs already done.

The runs are shared out through Optuna's own storage, as the trials are: a second study in the same storage,
``<study>.select``, holds one enqueued trial per (candidate, seed) still to train; each process asks it for the next
one, and a run whose process died is failed and enqueued again (safe to kill and continue).
"""

from __future__ import annotations

import math
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import FrozenTrial, TrialState

from mnist_design.runs import records as runs
from mnist_design.runs.layout import RunDir
from mnist_design.runs.metrics import record_key
from mnist_design.search.liveness import WORKER_ATTR, host_of, this_worker, worker_of
from mnist_design.search.stores import starting_lock
from mnist_design.search.studies import (
    BASELINE_ATTRS,
    CANDIDATE_ATTR,
    SEED_ATTR,
    TRIAL_NAME,
    baseline_name,
    own_recipe,
    protocol,
    reached,
    recover_dead,
    running,
    trial_alive,
    was_trained,
)
from mnist_design.training import factory
from mnist_design.training.run import train

SELECT_DIR = "select"
SELECT_STUDY = "{}.select"  # the selection's study, in the storage of the study it selects from
OVERRIDES_ATTR = "overrides"  # the trial's own overrides (its point in the space), recorded when it starts


def better_sign(study: optuna.Study) -> int:
    """+1 when higher values are better (accuracy), -1 when lower are (loss)."""
    return 1 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1


def candidates(study: optuna.Study, top: int) -> list[FrozenTrial]:
    """The ``top`` trained trials by (last epoch reached, value there), best first in the study's direction, then
    every trained baseline with its own recipe not among them: the search's finalist must beat each on the same
    seeds. A cross with another's recipe is a candidate only from the top, as any trial (each baseline costs two
    more full runs; the 8,000 study has 14 crosses)."""
    sign = better_sign(study)
    ranked = [t for t in study.get_trials(deepcopy=False) if was_trained(t) and reached(t)]
    best = sorted(ranked, key=lambda t: (reached(t)[0], sign * reached(t)[1]), reverse=True)[:top]
    if protocol(study) < 2:  # a study begun before baselines were candidates keeps its own protocol
        return best
    return best + [t for t in ranked if own_recipe(t.user_attrs) and t not in best] if top else []


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


def selection_study(study: optuna.Study, create: bool) -> optuna.Study | None:
    """The study's selection study in the same storage (None when it has none and ``create`` is false: a finished
    study opened again to write its preset gains no record)."""
    name = SELECT_STUDY.format(study.study_name)
    if name in optuna.get_all_study_names(study._storage):  # loaded, not created: no create record on every open
        return optuna.load_study(study_name=name, storage=study._storage)
    if not create:
        return None
    return optuna.create_study(study_name=name, storage=study._storage, direction=study.direction, load_if_exists=True)


def enqueue_runs(select: optuna.Study, runs_left: list[tuple[int, int]], cfg: DictConfig) -> None:
    """Enqueue each (candidate, seed) run not already waiting, running or done, once even with two processes."""
    with starting_lock(cfg):
        live = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
        present = {
            (t.user_attrs.get(CANDIDATE_ATTR), t.user_attrs.get(SEED_ATTR))
            for t in select.get_trials(deepcopy=False, states=live)
        }
        for number, seed in runs_left:
            if (number, seed) not in present:
                select.enqueue_trial({}, user_attrs={CANDIDATE_ATTR: number, SEED_ATTR: seed})


def next_run(select: optuna.Study, cfg: DictConfig) -> optuna.Trial | None:
    """The next enqueued run, now this process's; None when none is waiting (asking then would make a new one)."""
    with starting_lock(cfg):
        if not select.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return None
        trial = select.ask()
        trial.set_user_attr(WORKER_ATTR, this_worker())
    if CANDIDATE_ATTR not in trial.user_attrs:  # an RDB server takes no lock here: another took the last one
        select.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def recorded(path: Path, cfg: DictConfig) -> bool:
    """A selection run whose record is there and readable; a truncated or damaged one is trained again (named)."""
    if not RunDir(path).finished():
        return False
    if value_of(path, cfg.search.monitor) is None:
        print(f"[select] {RunDir(path).metrics}: unreadable or without {cfg.search.monitor}; trained again", flush=True)
        return False
    return True


def value_of(path: Path, monitor: str) -> float | None:
    try:
        return float(runs.read_metrics(path)[record_key(monitor)])
    except (runs.RunUnreadable, KeyError, TypeError, ValueError):
        return None


def seed_value(study: optuna.Study, trial: FrozenTrial, seed: int, cfg: DictConfig) -> float | None:
    """The candidate's monitored value on one seed: from the journal when the trial is that run, so a study continued
    in another checkout (whose trial run directories are not committed) still ranks it; else from its selection run,
    or, where that run's folder is lost or its record damaged, from the value the selection study stored for it."""
    if reusable(study, trial, seed, cfg):
        return float(trial.value)
    found = value_of(run_dir(cfg, trial, seed), cfg.search.monitor)
    return found if found is not None else stored_values(study).get((trial.number, seed))


def stored_values(study: optuna.Study) -> dict[tuple[int, int], float]:
    """(candidate, seed) -> the value each finished selection run told the selection study (issue 46: a lost select/
    folder is rebuilt from these, never recorded as an unfinished selection)."""
    select = selection_study(study, create=False)
    if select is None:
        return {}
    done = select.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return {(t.user_attrs[CANDIDATE_ATTR], t.user_attrs[SEED_ATTR]): float(t.value) for t in done}


def wait_for_trials(study: optuna.Study, cfg: DictConfig, poll_s: float = 10.0) -> list[int]:
    """Every worker ranks the same trials: wait until no trial is still being trained here. A trial whose worker died
    (a zombie too) is failed and enqueued again each poll, so a dead worker never leaves this waiting for ever. Trials
    running on other hosts, which this machine cannot check, are not waited for: their numbers are returned (and
    said), and the selection is left to the processes there, or to a run with search.gone_hosts naming them."""
    gone = cfg.search.gone_hosts
    while True:
        for number in recover_dead(study, gone):
            print(f"[select] trial {number}: its worker is gone; failed, and its design enqueued again", flush=True)
        left = running(study, gone)
        if left and all(trial_alive(t, gone) is None for t in left):
            hosts, numbers = ",".join(sorted({host_of(worker_of(t)) for t in left})), [t.number for t in left]
            print(
                f"[select] trials {', '.join(map(str, numbers))} are running on {hosts}, which this machine cannot "
                f"check: the selection is left to the processes there (if those machines are gone, run the same "
                f"command with search.gone_hosts=[{hosts}])",
                flush=True,
            )
            return sorted(numbers)
        if not left:
            return []
        time.sleep(poll_s)


def train_run(study: optuna.Study, cfg: DictConfig, typed: list[str], trial: FrozenTrial, seed: int) -> float:
    """One selection run: the candidate's overrides on one seed and its split, validation only."""
    path = run_dir(cfg, trial, seed)
    shutil.rmtree(path, ignore_errors=True)  # what a process that died mid-run left: the run starts afresh
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
    return float(train(run_cfg, path)[record_key(cfg.search.monitor)])


def train_pending(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> None:
    """Train, with every other process of the study, the (candidate, seed) runs that have no record yet."""
    chosen = {t.number: t for t in candidates(study, cfg.search.selection.top)}
    stored = stored_values(study)
    runs_left = [
        (number, seed)
        for number, trial in chosen.items()
        for seed in cfg.search.selection.seeds
        if not reusable(study, trial, seed, cfg)
        and (number, seed) not in stored
        and not recorded(run_dir(cfg, trial, seed), cfg)
    ]
    select = selection_study(study, create=bool(runs_left))
    if select is None:
        return
    for number in recover_dead(select, cfg.search.gone_hosts):
        print(f"[select] run {number}: its process is gone; failed, and enqueued again", flush=True)
    enqueue_runs(select, runs_left, cfg)
    while (run := next_run(select, cfg)) is not None:
        number, seed = run.user_attrs[CANDIDATE_ATTR], run.user_attrs[SEED_ATTR]
        if number not in chosen:  # enqueued when the candidates were others (search.selection.top changed since)
            select.tell(run, state=TrialState.PRUNED)  # not live: enqueued again if it is ever chosen again
            continue
        try:
            value = train_run(study, cfg, typed, chosen[number], seed)
        except BaseException:
            select.tell(run, state=TrialState.FAIL)  # a later command enqueues it again
            raise
        select.tell(run, value)


def select(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> dict[str, Any] | None:
    """Train what is left of the selection, then (if every run is there) the candidates and the finalist."""
    if not cfg.search.selection.top:
        return None
    if wait_for_trials(study, cfg):
        return None
    train_pending(study, cfg, typed)
    sign = better_sign(study)
    rows = []
    for trial in candidates(study, cfg.search.selection.top):
        per_seed = {seed: seed_value(study, trial, seed, cfg) for seed in cfg.search.selection.seeds}
        epoch, value = reached(trial)
        done = [v for v in per_seed.values() if v is not None]
        # a seed whose run diverged (NaN) fails the candidate: it is measured, so the selection can finish without it
        failed = any(not math.isfinite(v) for v in done)
        rows.append(
            {
                "trial": trial.number,
                "params": trial.user_attrs.get("params"),
                "reached_epoch": epoch,
                "value_there": value,
                "per_seed": per_seed,
                "mean": statistics.fmean(done) if len(done) == len(per_seed) and not failed else None,
                **({"failed": True} if failed else {}),
                **{key: trial.user_attrs[key] for key in BASELINE_ATTRS if key in trial.user_attrs},
                "overrides": list(trial.user_attrs.get(OVERRIDES_ATTR, [])),
            }
        )
    complete = [row for row in rows if row["mean"] is not None]
    measured = len(complete) + sum(1 for row in rows if row.get("failed")) == len(rows)
    finalist = max(complete, key=lambda row: (sign * row["mean"], -row["trial"])) if measured and complete else None
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
