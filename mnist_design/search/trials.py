"""One search trial: its config composed from the study's point, judged by the pruner on its schedule compressed to
``search.rung_epochs`` or on each epoch of the full one (a baseline is never pruned), and the callbacks that report
progress and stop the study at ``search.n_trials``.

    study.optimize(objective(cfg, typed, study_dir), callbacks=[stop_when_done(cfg), progress(cfg)])
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mnist_design.config import (
    ConfigError,
    check_budget,
    model_parameters,
    validate,
)
from mnist_design.errors import INTERRUPTED
from mnist_design.runs import records as runs
from mnist_design.runs.metrics import metric, record_key
from mnist_design.runs.portable import portable
from mnist_design.search import finalists, liveness, space, studies
from mnist_design.search.baselines import own_overrides
from mnist_design.training import factory
from mnist_design.training.callbacks import NonFiniteLoss
from mnist_design.training.run import train
from mnist_design.training.schedules import compress

RUNG_SUFFIX = "_rung{}"  # a trial's compressed run beside its full one: trial_0007_rung3


def run_dirs(study_dir: Path, trial: optuna.Trial) -> Path:
    return study_dir / studies.TRIAL_NAME.format(trial.number)


class EpochPruning(L.Callback):
    """Reports each epoch's validation value to the trial, then asks the pruner whether to stop, unless ``prune`` is
    false (a baseline trains its whole schedule, so the search compares itself with it at full length).

    Hand-written rather than optuna-integration's callback, which decides in on_validation_end: a trial stopped there
    never recorded the epoch that stopped it. Here the decision comes at the epoch's end, after the run's own
    callbacks (registered before this one) have written that epoch to its history."""

    def __init__(self, trial: optuna.Trial, monitor: str, prune: bool = True) -> None:
        self.trial, self.monitor, self.prune = trial, monitor, prune

    @classmethod
    def watching(cls, trial: optuna.Trial, cfg: DictConfig) -> list[L.Callback]:
        """What watches a trial's full schedule: nothing under rungs (the rung already judged it, and its epochs
        would reuse the rung's steps); else a report each epoch, pruning a searched trial."""
        if studies.rung_epochs(cfg):
            return []
        asked_rung = bool(cfg.search.get("rung_epochs"))  # but the schedule is too short for one: nothing prunes
        return [cls(trial, cfg.search.monitor, prune=not studies.is_baseline(trial) and not asked_rung)]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or score is None:
            return
        stop = False
        if trainer.is_global_zero:  # one report per epoch, whatever the number of processes
            self.trial.report(score.item(), step=pl_module.current_epoch)
            stop = self.prune and self.trial.should_prune()
        if trainer.strategy.broadcast(stop):  # under DDP every process stops together
            raise optuna.TrialPruned(f"pruned after epoch {pl_module.current_epoch + 1}")


def compose_trial(trial: optuna.Trial, cfg: DictConfig, typed: list[str], study_dir: Path) -> DictConfig:
    """The trial's full config: the search's own, what the user typed, then the trial's values."""
    trial.set_user_attr(liveness.WORKER_ATTR, liveness.this_worker())
    run_dir = run_dirs(study_dir, trial)
    own = own_overrides(trial.user_attrs, cfg)
    chosen = space.last_of_each_key([*own, *space.sample(trial, cfg, [*typed, *own], run_dir)])
    trial.set_user_attr("run_dir", portable(run_dir))
    trial.set_user_attr(finalists.OVERRIDES_ATTR, chosen)
    trial_cfg = factory.compose_run("search", [*typed, *chosen], run_dir)
    runs.write_config(run_dir, trial_cfg, [*typed, *chosen])
    return trial_cfg


def judge_on_rung(trial: optuna.Trial, trial_cfg: DictConfig, typed: list[str], study_dir: Path) -> None:
    """Hyperband's original form: train the trial's schedule compressed to search.rung_epochs epochs in a run of its
    own (trial_NNNN_rungE), report its last validation value at that epoch, and stop the trial if the pruner says so."""
    epochs, chosen = trial_cfg.search.rung_epochs, trial.user_attrs[finalists.OVERRIDES_ATTR]
    rung_dir = study_dir / f"{studies.TRIAL_NAME.format(trial.number)}{RUNG_SUFFIX.format(epochs)}"
    rung_cfg = factory.compose_run("search", [*typed, *chosen], rung_dir)
    OmegaConf.update(rung_cfg, "search.rung_epochs", None)  # the rung is a plain run of the short schedule

    runs.write_config(rung_dir, rung_cfg, [*typed, *chosen, *compress(rung_cfg, epochs), "search.rung_epochs=null"])
    try:
        metrics = train(rung_cfg, rung_dir)
    finally:  # Hydra's one current config is the trial's own again, for its full run
        HydraConfig.instance().set_config(trial_cfg)
    trial.report(metrics[record_key(trial_cfg.search.monitor)], step=epochs - 1)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned on its {epochs}-epoch compressed schedule")


def objective(cfg: DictConfig, typed: list[str], study_dir: Path) -> Callable[[optuna.Trial], float]:
    def run_trial(trial: optuna.Trial) -> float:
        trial_cfg = compose_trial(trial, cfg, typed, study_dir)
        try:
            params = model_parameters(trial_cfg)
            trial.set_user_attr("params", params)
            check_budget(trial_cfg, params)
            validate(trial_cfg)
        except ConfigError as refused:  # over budget, or a layout or recipe that cannot be built: no data is read
            trial.set_user_attr(studies.REFUSED_ATTR, str(refused))
            raise optuna.TrialPruned(f"refused: {refused}") from None
        try:
            if studies.rung_epochs(cfg) and not studies.is_baseline(trial):
                judge_on_rung(trial, trial_cfg, typed, study_dir)
            metrics = train(trial_cfg, run_dirs(study_dir, trial), extra_callbacks=EpochPruning.watching(trial, cfg))
        except NonFiniteLoss as diverged:
            trial.set_user_attr(studies.REFUSED_ATTR, str(diverged))
            raise optuna.TrialPruned("diverged") from None
        trial.set_user_attr("epochs", metrics["epochs"])
        value = metrics[record_key(cfg.search.monitor)]
        if studies.rung_epochs(cfg):  # the full schedule's end, where studies.reached() finds how far the trial got
            trial.report(value, step=metrics["epochs"] - 1)
        return value

    return left_running_on_interrupt(run_trial)


def left_running_on_interrupt(run_trial: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    """Ctrl-C inside a trial: Optuna would record it failed, for good. Left running instead, the next command finds
    its worker gone and trains its design again, as after Lightning's own stop on Ctrl-C (which exits past Optuna)."""

    def guarded(trial: optuna.Trial) -> float:
        try:
            return run_trial(trial)
        except KeyboardInterrupt:
            raise SystemExit(INTERRUPTED) from None

    return guarded


def progress(cfg: DictConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """One line per finished trial: its state and value, and the best so far, in the monitor's own units."""
    spec = metric(cfg.search.monitor)

    def say(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        counts = studies.describe(study)
        got = studies.reached(trial)
        value = trial.value if trial.value is not None else (got[1] if got else None)
        shown = spec.show(value) if value is not None else "-"
        reason = trial.user_attrs.get(studies.REFUSED_ATTR)
        params = f"{trial.user_attrs.get('params', 0):,} params"
        at = f" at epoch {got[0]}" if got else ""
        # Optuna's books hold a refused design as pruned (the sampler learns from it); the line says what happened
        outcome = (
            f"refused, {params} ({reason})"
            if reason is not None
            else f"{trial.state.name.lower()}{at}, {cfg.search.monitor} {shown}, {params}"
        )
        try:
            best = f"best: trial {study.best_trial.number} {spec.show(study.best_value)}"
        except ValueError:
            best = "best: none complete yet"
        print(
            f"[search] trial {trial.number} {outcome} | {best} | {counts['trained']} trained, "
            f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['refused_before_training']} refused, "
            f"{counts['trials']} in the study",
            flush=True,
        )

    return say


def stop_when_done(cfg: DictConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Stop once the trained trials and those still running reach n_trials (across workers and continuations);
    a sampler that proposes only refused designs ends after search.refusal_streak of them in a row."""
    streak = 0

    def check(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal streak
        streak = streak + 1 if studies.REFUSED_ATTR in trial.user_attrs else 0
        if (
            studies.trained(study) + studies.in_flight(study, cfg.search.gone_hosts) >= cfg.search.n_trials
            or streak >= cfg.search.refusal_streak
        ):
            study.stop()

    return check
