"""Search designs and their training recipe under a parameter budget with Optuna, pruning bad trials early.

    python -m mnist_design.search budget=8000                      # TPE + successive halving, SQLite study
    python -m mnist_design.search budget=8000 search.workers=2     # two single-thread workers share one study
    python -m mnist_design.search budget=5000 search.n_trials=60   # the same study name again = continue it
    python -m mnist_design.search search.storage=journal:outputs/searches/s.log    # or any Optuna RDB URL
    optuna-dashboard sqlite:///outputs/searches/design_8000/optuna.db                # watch it in a browser

Every trial is a training run composed like ``python -m mnist_design.train`` (the same overrides work; the search
space is conf/search_space/), in outputs/searches/<study>/trial_NNNN. It reports validation accuracy after every
epoch; the pruner stops most trials after a few epochs and the survivors train the whole schedule on all training
images. A design over ``budget`` parameters is refused before any data is read. The base config's own point (the
seed's design and recipe) is trial 0, so what the search finds has beaten it on equal footing. Several workers (on
one machine, or SLURM jobs running this same command) share one study through its storage.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hydra
import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from mnist_design import factory
from mnist_design.callbacks import NonFiniteLoss
from mnist_design.config import ConfigError, check_budget, config_dir, model_parameters, validate
from mnist_design.errors import exit_on_user_error
from mnist_design.training import train


def storage_url(cfg: DictConfig, study_dir: Path) -> str:
    """search.storage, or (null) SQLite beside the trials."""
    if cfg.search.storage is not None:
        return str(cfg.search.storage)
    study_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{study_dir.resolve() / 'optuna.db'}"


def storage(cfg: DictConfig, study_dir: Path) -> optuna.storages.BaseStorage:
    """``journal:FILE`` = a journal file; anything else = an RDB URL. RDB trials send a heartbeat, so the trial of a
    killed worker is marked failed (not left running) when the study next runs."""
    url = storage_url(cfg, study_dir)
    if url.startswith("journal:"):
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:")))
    return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)


def open_study(cfg: DictConfig, study_dir: Path) -> optuna.Study:
    return optuna.create_study(study_name=cfg.search.study_name, storage=storage(cfg, study_dir),
                               sampler=instantiate(cfg.search.sampler), pruner=instantiate(cfg.search.pruner),
                               direction="maximize", load_if_exists=True)


def suggest(trial: optuna.Trial, key: str, spec: Any) -> Any:
    """One value of the search space: a list = one of its values; {low, high, log} = a number in range."""
    if isinstance(spec, (list, tuple)):
        return trial.suggest_categorical(key, list(spec))
    if isinstance(spec.get("low"), int) and isinstance(spec.get("high"), int):
        return trial.suggest_int(key, spec["low"], spec["high"], log=spec.get("log", False))
    return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=spec.get("log", False))


def base_point(cfg: DictConfig, space: Mapping[str, Any]) -> dict[str, Any]:
    """The base config's own value of every searched key (the seed's design and recipe), checked to be in the space."""
    point = {key: OmegaConf.select(cfg, key) for key in space}
    outside = [f"{key}={value}" for key, value in point.items()
               if isinstance(space[key], (list, tuple)) and value not in space[key]]
    if outside:
        raise ConfigError(f"search.enqueue_base: the base config's {', '.join(outside)} is not in the search space; "
                          f"add it there or set search.enqueue_base=false")
    return point


def compose_trial(trial: optuna.Trial, cfg: DictConfig, typed: list[str], study_dir: Path) -> DictConfig:
    """The trial's full config: the search's own, what the user typed, then the trial's values."""
    space = OmegaConf.to_container(cfg.search.space)
    chosen = [f"{key}={suggest(trial, key, spec)}" for key, spec in space.items()]
    run_dir = study_dir / f"trial_{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("worker", os.getpid())
    trial_cfg = factory.compose_run("search", [*typed, *chosen], run_dir)
    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(trial_cfg, run_dir / ".hydra" / "config.yaml", resolve=False)
    OmegaConf.save(OmegaConf.create([*typed, *chosen]), run_dir / ".hydra" / "overrides.yaml")
    return trial_cfg


def objective(cfg: DictConfig, typed: list[str], study_dir: Path) -> Callable[[optuna.Trial], float]:
    def run_trial(trial: optuna.Trial) -> float:
        trial_cfg = compose_trial(trial, cfg, typed, study_dir)
        try:
            params = model_parameters(trial_cfg)
            trial.set_user_attr("params", params)
            check_budget(trial_cfg, params)
        except ConfigError as refused:  # over budget, or a layout that cannot be built: no data is read
            trial.set_user_attr("refused", str(refused))
            raise optuna.TrialPruned(f"refused: {refused}") from None
        pruning = PyTorchLightningPruningCallback(trial, monitor=cfg.search.monitor)
        try:
            metrics = train(trial_cfg, extra_callbacks=[pruning])
        except NonFiniteLoss as diverged:
            trial.set_user_attr("refused", str(diverged))
            raise optuna.TrialPruned("diverged") from None
        trial.set_user_attr("epochs", metrics["epochs"])
        return metrics[cfg.search.monitor.replace("/", "_")]

    return run_trial


def progress(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """One line per finished trial: its state and value, and the best so far."""
    counts = {state: len(study.get_trials(deepcopy=False, states=(state,))) for state in TrialState}
    value = trial.value if trial.value is not None else (
        trial.intermediate_values[max(trial.intermediate_values)] if trial.intermediate_values else None)
    shown = f"{100 * value:.2f}%" if value is not None else "-"
    reached = f" at epoch {max(trial.intermediate_values) + 1}" if trial.intermediate_values else ""
    refused = f" ({trial.user_attrs['refused']})" if "refused" in trial.user_attrs else ""
    try:
        best = f"best: trial {study.best_trial.number} {100 * study.best_value:.2f}%"
    except ValueError:
        best = "best: none complete yet"
    print(f"[search] trial {trial.number} {trial.state.name.lower()}{reached}, val {shown}, "
          f"{trial.user_attrs.get('params', 0):,} params{refused} | {best} | {counts[TrialState.COMPLETE]} complete, "
          f"{counts[TrialState.PRUNED]} pruned, {len(study.trials)} in the study", flush=True)


def start_workers(cfg: DictConfig, typed: list[str], study_dir: Path) -> list[subprocess.Popen]:
    """search.workers - 1 more processes running this same search, in the same study directory and storage; this
    process is one worker too."""
    extra = [o for o in typed if not o.startswith(("search.workers=", "search.storage="))]
    shared = storage_url(cfg, study_dir)
    command = [sys.executable, "-m", "mnist_design.search", *extra, "search.workers=1", "search.enqueue_base=false",
               f"search.storage={shared}", f"hydra.run.dir={study_dir.resolve()}"]
    env = {**os.environ, factory.JOBS_VARIABLE: str(cfg.search.workers)}
    return [subprocess.Popen(command, env=env) for _ in range(cfg.search.workers - 1)]


def trained(study: optuna.Study) -> int:
    """Trials that trained (complete or pruned by the pruner): refused designs cost nothing and do not count."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum("refused" not in t.user_attrs for t in study.get_trials(deepcopy=False, states=states))


def stop_after(n_trials: int) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Stop once n_trials trials have trained (in this study, across workers and continuations); refusals are
    free but bounded, so a space that is nearly all over budget still ends."""

    def check(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trained(study) >= n_trials or len(study.trials) >= max(100, 20 * n_trials):
            study.stop()

    return check


def summary(study: optuna.Study, started: float) -> dict[str, Any]:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    trials = study.get_trials(deepcopy=False)
    ran = [t for t in trials if "refused" not in t.user_attrs]
    stopped_at = sorted(max(t.intermediate_values) + 1 for t in ran if t.state == TrialState.PRUNED
                        and t.intermediate_values)
    result: dict[str, Any] = {
        "study": study.study_name, "trials": len(trials), "refused_before_training": len(trials) - len(ran),
        "trained": len(ran), **{state.name.lower(): sum(t.state == state for t in ran) for state in TrialState},
        "pruned_at_epoch": {epoch: stopped_at.count(epoch) for epoch in sorted(set(stopped_at))},
        "trial_seconds": round(sum(t.duration.total_seconds() for t in ran if t.duration), 1),
        "wall_seconds_this_invocation": round(time.perf_counter() - started, 1),
        "cpu_seconds_this_invocation": round(sum(u.ru_utime + u.ru_stime for u in usage), 1)}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        best = study.best_trial
        result["best"] = {"trial": best.number, "value": best.value, **best.user_attrs, "design": best.params}
        result["base"] = next(({"trial": t.number, "value": t.value, **t.user_attrs} for t in complete
                               if t.user_attrs.get("base")), None)
    return result


def search(cfg: DictConfig) -> dict[str, Any]:
    study_dir = Path(HydraConfig.get().runtime.output_dir)
    typed = list(HydraConfig.get().overrides.task)
    validate(cfg)  # the search's own keys and the base config, before any study is opened
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress line below says it shorter
    study = open_study(cfg, study_dir)
    if cfg.search.enqueue_base and not study.trials:
        study.enqueue_trial(base_point(cfg, cfg.search.space), user_attrs={"base": True})
    os.environ[factory.JOBS_VARIABLE] = str(cfg.search.workers)
    workers = start_workers(cfg, typed, study_dir)
    started = time.perf_counter()
    timeout = cfg.search.timeout_min * 60 if cfg.search.timeout_min else None
    if trained(study) < cfg.search.n_trials:
        study.optimize(objective(cfg, typed, study_dir), callbacks=[stop_after(cfg.search.n_trials), progress],
                       timeout=timeout, gc_after_trial=True)
    for worker in workers:
        worker.wait()
    optuna.storages.fail_stale_trials(study)
    result = summary(study, started)
    text = OmegaConf.to_yaml(OmegaConf.create(result))
    (study_dir / "summary.yaml").write_text(text)
    print(text)
    return result


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="search")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        search(cfg)


if __name__ == "__main__":
    main()
