"""An Optuna study that is safe to kill, share and continue: what it was started with, its trials and their workers
(its storage: stores.py; whether a worker still runs: liveness.py).

    study = open_study(cfg, identity(cfg, typed))   # one line naming the storage or what differs, else the study
    recover_dead(study)                            # trials of killed workers: failed, and their designs re-enqueued
    trained(study), in_flight(study)               # what counts toward search.n_trials

The default storage is Optuna's JournalStorage, one append-only file per study in ``search.results_dir``
(``outputs/studies/<study>/``; the project's committed ones are in ``results/studies/<study>/``): it continues on any
machine (Optuna's FAQ prefers it to SQLite for several processes on one machine); ``sqlite:///FILE`` and RDB URLs
work too. A RUNNING trial whose worker (host, pid, start time) is gone is failed and its design enqueued again when
the study next opens."""

from __future__ import annotations

import json
import warnings
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from mnist_design.config import built
from mnist_design.errors import not_allowed
from mnist_design.runs.metrics import metric
from mnist_design.search.liveness import WORKER_ATTR, alive, worker_of
from mnist_design.search.stores import JOURNAL_FILE, StudyError, storage, storage_url

SUMMARY_FILE = "summary.yaml"
TRIAL_NAME = "trial_{:04d}"  # a trial's run directory under outputs/searches/<study>/, and its selection runs' prefix
REFUSED_ATTR = "refused"  # set on a design refused before training (over budget, unbuildable, diverged)
BASELINE_ATTRS = ("base", "published", "cross")  # the user attributes that mark an enqueued starting point
PROTOCOL_ATTR = "selection_protocol"  # recorded when a study begins; a study keeps the protocol it began with
PROTOCOL = 2  # 1: the top trials on one validation split; 2: every baseline too, and seed s validates on split s
BASE = "base"  # the base config's name as a starting point and in search.crosses
CROSS = "×"  # joins a cross's design and recipe in its name: "pareto8k×published_snehanshu"
# How trials are pruned: a continuation may change it (what their values mean, the rung, is compared apart).
PRUNER_KEYS = ("pruner=", "search.pruner.")
# Keys a continuation may change freely: how the work is done, not what the study is.
FREE_KEYS = (
    "search.n_trials",
    "search.workers",
    "search.timeout_min",
    "search.gone_hosts",
    "search.storage",
    "search.enqueue_base",
    "search.enqueue_published",
    "search.sampler.seed",
    "search.results_dir",
    "search.is_worker",
    "search.selection",
    *PRUNER_KEYS,
    "threads",
    "trainer.accelerator",  # a GPU and a CPU train the same runs (README's GPU block: tied); a study may move
    "hydra.",
)


def direction(cfg: DictConfig) -> str:
    """search.direction, or what the monitored metric's registry entry says is better."""
    monitor = cfg.search.monitor
    try:
        spec = metric(monitor)
    except KeyError as error:
        raise StudyError(f"search.monitor={monitor}: {error.args[0]}") from None
    if not str(monitor).startswith("val/"):
        raise StudyError(
            f"search.monitor={monitor} is not allowed: a search watches validation metrics only "
            f"(val/...), never train or test"
        )
    chosen = cfg.search.get("direction") or spec.direction
    if chosen not in ("maximize", "minimize"):
        raise StudyError(not_allowed("search.direction", chosen, "maximize, minimize or null"))
    return chosen


def base_overrides(typed: list[str]) -> list[str]:
    """What was typed that makes the study what it is (its search space and base config), sorted; not the budget."""
    return sorted(o for o in typed if not o.lstrip("+~").startswith(FREE_KEYS) and not o.startswith("budget="))


def pruner_overrides(typed: list[str]) -> list[str]:
    """What was typed that chooses how trials are pruned, sorted."""
    return sorted(o for o in typed if o.lstrip("+~").startswith(PRUNER_KEYS))


def command(recorded: dict[str, Any], study_dir: str | None = None) -> str:
    """The command that starts the study whose identity() is ``recorded``; with ``study_dir``, continues it there."""
    if PRUNED_BY in recorded:
        pruned_by = json.loads(recorded[PRUNED_BY])
    else:  # begun before it was recorded: with the default pruner of the day, a rung's or the per-epoch one
        pruned_by = [] if RUNG_KEY in recorded else [LEGACY_PRUNER]
    folder = [f"search.results_dir={study_dir}"] if study_dir else []
    typed = [f"budget={recorded['budget']}", *json.loads(recorded["base"]), *pruned_by, *folder]
    return " ".join(["python -m mnist_design.search", *typed])


RUNG_KEY = "rung_epochs"  # in a study's identity only when it judges trials on a compressed schedule
PRUNED_BY = "pruned_by"  # the typed pruner overrides: recorded for the study's command, never compared
LEGACY_PRUNER = "pruner=halving"  # what the studies begun before PRUNED_BY was recorded ran under (then the default)


def rung_epochs(cfg: DictConfig) -> int | None:
    """The compressed schedule that judges searched trials, if any: search.rung_epochs when it is shorter than the
    full schedule (a rung as long as the run would judge nothing cheaper; the search says so when it starts)."""
    rung, full = cfg.search.get("rung_epochs"), cfg.trainer.get("max_epochs")
    return rung if rung and (full is None or full < 0 or rung < full) else None


def identity(cfg: DictConfig, typed: list[str]) -> dict[str, str]:
    """What the study is: its budget, search space, base config (what was typed) and objective."""
    rung = rung_epochs(cfg)
    return {
        "budget": str(cfg.budget),
        "space": json.dumps(OmegaConf.to_container(cfg.search.space), sort_keys=True),
        "base": json.dumps(base_overrides(typed)),
        "monitor": f"{cfg.search.monitor} ({direction(cfg)})",
        # a study judged on compressed rungs says so (studies from before rungs have no such key)
        **({RUNG_KEY: str(rung)} if rung else {}),
        PRUNED_BY: json.dumps(pruner_overrides(typed)),
    }


def algorithms(cfg: DictConfig) -> dict[str, Any]:
    """The study's sampler and pruner, built before any storage is opened: an argument Optuna refuses is one line
    naming search.<key>, and makes no journal or database."""
    with warnings.catch_warnings():  # TPE's multivariate and group are experimental in Optuna, chosen knowingly
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return {key: built(f"search.{key}", lambda k=key: instantiate(cfg.search[k])) for key in ("sampler", "pruner")}


def load_or_create(cfg: DictConfig, store: optuna.storages.BaseStorage, chosen: dict[str, Any]) -> optuna.Study:
    """Load the study if it exists (``chosen``: algorithms(cfg)), so that opening a finished one leaves its committed
    journal untouched: ``create_study(load_if_exists=True)`` appends a create record on every open."""
    options = {"study_name": cfg.search.study_name, "storage": store, **chosen}
    if cfg.search.study_name in optuna.get_all_study_names(store):
        return optuna.load_study(**options)
    return optuna.create_study(**options, direction=direction(cfg), load_if_exists=True)  # another may create it now


NAME_KEY = "search.study_name="  # typed or not, the name chose which study was opened: never a difference


def same_value(key: str, recorded: str | None, wanted: str | None) -> bool:
    """Whether a recorded identity value and the wanted one agree (base lists compared without the study's name)."""
    if key != "base" or recorded is None or wanted is None:
        return recorded == wanted
    unnamed = [[o for o in json.loads(v) if not o.lstrip("+~").startswith(NAME_KEY)] for v in (recorded, wanted)]
    return unnamed[0] == unnamed[1]


def open_study(cfg: DictConfig, wanted: dict[str, str]) -> optuna.Study:
    """Create or continue the study; a continuation with another budget, space, base or objective is refused."""
    try:
        chosen = algorithms(cfg)
        study = load_or_create(cfg, storage(cfg), chosen)
    except OSError as error:
        raise StudyError(f"search.storage={storage_url(cfg)}: {error.strerror or error}") from None
    recorded = {key: study.user_attrs.get(key) for key in {*wanted, RUNG_KEY} - {PRUNED_BY}}
    if all(value is None for value in recorded.values()) and not study.trials:
        for key, value in {**wanted, PROTOCOL_ATTR: PROTOCOL}.items():
            study.set_user_attr(key, value)
        return study
    differs = [key for key in recorded if not same_value(key, recorded[key], wanted.get(key))]
    if differs == [RUNG_KEY] and trained(study) >= cfg.search.n_trials:
        differs = []  # a finished study trains nothing more: how its trials were judged no longer matters
    if differs:
        shown = "; ".join(f"{key}: study {recorded.get(key)} vs now {wanted.get(key)}" for key in sorted(differs))
        raise StudyError(
            f"study {study.study_name} ({storage_url(cfg)}) was started with another {', '.join(differs)} "
            f"({shown}); continue it with the same settings or choose a new search.study_name"
        )
    return study


CANDIDATE_ATTR, SEED_ATTR = "candidate", "selection_seed"  # a selection run: which trial, on which seed
RETRY_ATTRS = (*BASELINE_ATTRS, CANDIDATE_ATTR, SEED_ATTR)  # what a trial enqueued again keeps of the one that died
ORPHAN_AFTER_S = 120  # a RUNNING trial with no worker record this old was left by a write that failed (a full disk)


def trial_alive(trial: FrozenTrial, gone_hosts: Collection[str] = ()) -> bool | None:
    """Whether a RUNNING trial's worker may still finish it (liveness.alive); a trial that never recorded a worker is
    an orphan once ORPHAN_AFTER_S have passed, since every worker records itself as soon as it asks for a trial."""
    if WORKER_ATTR not in trial.user_attrs:
        started = trial.datetime_start
        return started is None or (datetime.now() - started).total_seconds() < ORPHAN_AFTER_S
    return alive(worker_of(trial), gone_hosts)


def recover_dead(study: optuna.Study, gone_hosts: Collection[str] = ()) -> list[int]:
    """Fail every RUNNING trial whose worker is gone (or that never recorded one) and enqueue its design again; the
    numbers of those trials."""
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial_alive(trial, gone_hosts) is not False:
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process recovered it first
        kept = {key: trial.user_attrs[key] for key in RETRY_ATTRS if key in trial.user_attrs}
        study.enqueue_trial(
            dict(trial.params), user_attrs={**kept, "fixed": sorted(trial.params), "retry_of": trial.number}
        )
        recovered.append(trial.number)
    return recovered


def protocol(study: optuna.Study) -> int:
    """The selection protocol the study began with (studies begun before it was recorded: 1)."""
    return int(study.user_attrs.get(PROTOCOL_ATTR, 1))


def is_baseline(trial: FrozenTrial | optuna.Trial) -> bool:
    """An enqueued starting point: the base config, a published design, or a cross of their designs and recipes."""
    return baseline_name(trial.user_attrs) is not None


def own_recipe(attrs: dict[str, Any]) -> bool:
    """A baseline as it was first trained: the base config, a published design, or an earlier finalist's cross with
    its own recipe ("pareto8k×pareto8k"); not a design under another's recipe."""
    design, _, recipe = str(attrs.get("cross", "")).partition(CROSS)
    return baseline_name(attrs) is not None and (not recipe or design == recipe)


def baseline_name(attrs: dict[str, Any]) -> str | None:
    """The name a starting point is enqueued under: "base", a published preset, or "<design>×<recipe>"; None for a
    searched trial."""
    return attrs.get("published") or attrs.get("cross") or (BASE if attrs.get("base") else None)


def baseline_preset(name: str | None) -> str | None:
    """The experiment preset a baseline already is: a published design, or an earlier finalist under its own recipe
    ("pareto5k_v1×pareto5k_v1"); None for the base config and for a design under another's recipe."""
    if not name or name == BASE:
        return None
    design, _, recipe = name.partition(CROSS)
    return design if not recipe or design == recipe else None


def was_trained(trial: FrozenTrial) -> bool:
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) and REFUSED_ATTR not in trial.user_attrs


def trained(study: optuna.Study) -> int:
    """Trials that trained to the end or until the pruner stopped them; refusals and RUNNING trials do not count."""
    return sum(was_trained(t) for t in study.get_trials(deepcopy=False))


def running(study: optuna.Study, gone_hosts: Collection[str] = ()) -> list[FrozenTrial]:
    """RUNNING trials whose worker may still finish them."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if trial_alive(t, gone_hosts) is not False
    ]


def in_flight(study: optuna.Study, gone_hosts: Collection[str] = ()) -> int:
    return len(running(study, gone_hosts))


def reached(trial: FrozenTrial) -> tuple[int, float] | None:
    """(last epoch reported, value there): how far a trial got and how good it was at that point."""
    if not trial.intermediate_values:
        return None
    step = max(trial.intermediate_values)
    return step + 1, trial.intermediate_values[step]


def load(study_dir: Path) -> optuna.Study:
    """The study whose journal is in ``study_dir`` (a committed results/studies/<study>/), to read."""
    journal = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study_dir / JOURNAL_FILE)))
    names = optuna.get_all_study_names(journal)
    return optuna.load_study(study_name=study_dir.name if study_dir.name in names else names[0], storage=journal)


def summary_path(cfg: DictConfig) -> Path:
    return Path(cfg.search.results_dir) / SUMMARY_FILE


def describe(study: optuna.Study) -> dict[str, Any]:
    """The study's counts, as summary.yaml and the last line of every search print them."""
    trials = study.get_trials(deepcopy=False)
    ran = [t for t in trials if REFUSED_ATTR not in t.user_attrs]
    stopped_at = sorted(reached(t)[0] for t in ran if t.state == TrialState.PRUNED and reached(t))
    return {
        "study": study.study_name,
        "trials": len(trials),
        "refused_before_training": len(trials) - len(ran),
        "trained": sum(was_trained(t) for t in trials),
        **{state.name.lower(): sum(t.state == state for t in ran) for state in TrialState},
        "pruned_at_epoch": {epoch: stopped_at.count(epoch) for epoch in sorted(set(stopped_at))},
        "trial_seconds": round(sum(t.duration.total_seconds() for t in ran if t.duration), 1),
    }
