"""Search designs and their training recipe under a parameter budget with Optuna, pruning bad trials early.

    python -m mnist_design.search budget=2000 search_space=tiny          # TPE + successive halving, journal study
    python -m mnist_design.search budget=2000 search_space=tiny search.workers=2   # two single-thread workers
    python -m mnist_design.search budget=2000 search_space=tiny          # the same command again = continue it
    python -m mnist_design.search search.storage=sqlite:///outputs/s.db   # or any Optuna RDB URL (clusters)

Every trial is a training run composed like ``python -m mnist_design.train`` (the same overrides work; the search
space is conf/search_space/), in outputs/searches/<study>/trial_NNNN. It reports validation accuracy after every
epoch; the pruner stops most trials after a few epochs. A design over ``budget`` parameters is refused before any
data is read. The base config's own point (the seed's design, when it fits) and every published design that fits
(conf/experiment/published_*.yaml) are the first trials, so what the search finds has beaten them on equal footing.
When the study has trained ``search.n_trials`` trials, the top few are retrained on three seeds and the finalist is
the best mean (mnist_design/finalists.py). The study file and summary.yaml live in results/studies/<study>/, to be
committed; mnist_design/studies.py keeps the study safe to kill, share and continue.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState
from optuna_integration import PyTorchLightningPruningCallback

from mnist_design import factory, finalists, presets, reference, runs, space, studies
from mnist_design.atomic import write_atomic
from mnist_design.callbacks import NonFiniteLoss
from mnist_design.config import (
    PRESET_GROUPS,
    ConfigError,
    check_budget,
    config_dir,
    model_parameters,
    preset_choices,
    validate,
)
from mnist_design.errors import UserError, exit_on_user_error
from mnist_design.metrics import metric, record_key
from mnist_design.portable import portable
from mnist_design.training import train

REFUSAL_STREAK = 50  # refused proposals in a row, with nothing trained, that end a search whose space never fits


class WorkerDied(UserError):
    """A search worker process exited with an error; its trial is recovered when the study next opens."""


def run_dirs(study_dir: Path, trial: optuna.Trial) -> Path:
    return study_dir / f"trial_{trial.number:04d}"


class ReportOnly(PyTorchLightningPruningCallback):
    """Reports each epoch's value as the pruning callback does, and never prunes: a baseline trains its whole
    schedule, so the search compares itself with it at full length."""

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if not trainer.sanity_checking and score is not None and trainer.is_global_zero:
            self._trial.report(score.item(), step=pl_module.current_epoch)


def own_overrides(attrs: dict[str, Any], cfg: DictConfig) -> list[str]:
    """A baseline trial's own overrides: a published design's preset, or a cross of one design and one recipe."""
    if "cross" in attrs:
        design, recipe = attrs["cross"].split(studies.CROSS)
        return cross(design, recipe, cfg)
    return preset(attrs.get("published"), cfg)


def compose_trial(trial: optuna.Trial, cfg: DictConfig, typed: list[str], study_dir: Path) -> DictConfig:
    """The trial's full config: the search's own, what the user typed, then the trial's values."""
    trial.set_user_attr(studies.WORKER_ATTR, studies.this_worker())
    run_dir = run_dirs(study_dir, trial)
    own = own_overrides(trial.user_attrs, cfg)
    chosen = [*own, *space.sample(trial, cfg, [*typed, *own], run_dir)]
    trial.set_user_attr("run_dir", portable(run_dir))
    trial.set_user_attr(finalists.OVERRIDES_ATTR, chosen)
    trial_cfg = factory.compose_run("search", [*typed, *chosen], run_dir)
    runs.write_config(run_dir, trial_cfg, [*typed, *chosen])
    return trial_cfg


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
        watch = ReportOnly if studies.is_baseline(trial) else PyTorchLightningPruningCallback
        pruning = watch(trial, monitor=cfg.search.monitor)
        try:
            metrics = train(trial_cfg, extra_callbacks=[pruning])
        except NonFiniteLoss as diverged:
            trial.set_user_attr(studies.REFUSED_ATTR, str(diverged))
            raise optuna.TrialPruned("diverged") from None
        trial.set_user_attr("epochs", metrics["epochs"])
        return metrics[record_key(cfg.search.monitor)]

    return run_trial


def progress(cfg: DictConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """One line per finished trial: its state and value, and the best so far, in the monitor's own units."""
    spec = metric(cfg.search.monitor)

    def say(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        counts = studies.describe(study)
        got = studies.reached(trial)
        value = trial.value if trial.value is not None else (got[1] if got else None)
        shown = spec.show(value) if value is not None else "-"
        at = f" at epoch {got[0]}" if got else ""
        refused = f" ({trial.user_attrs[studies.REFUSED_ATTR]})" if studies.REFUSED_ATTR in trial.user_attrs else ""
        try:
            best = f"best: trial {study.best_trial.number} {spec.show(study.best_value)}"
        except ValueError:
            best = "best: none complete yet"
        print(
            f"[search] trial {trial.number} {trial.state.name.lower()}{at}, {cfg.search.monitor} {shown}, "
            f"{trial.user_attrs.get('params', 0):,} params{refused} | {best} | {counts['trained']} trained, "
            f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['trials']} in the study",
            flush=True,
        )

    return say


def stop_when_done(cfg: DictConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Stop once the trained trials and those still running reach n_trials (across workers and continuations);
    a space that proposes only refused designs ends after REFUSAL_STREAK of them in a row."""
    streak = 0

    def check(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal streak
        streak = streak + 1 if studies.REFUSED_ATTR in trial.user_attrs else 0
        if studies.trained(study) + studies.in_flight(study) >= cfg.search.n_trials or streak >= REFUSAL_STREAK:
            study.stop()

    return check


def starting_points(cfg: DictConfig, typed: list[str]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(user attrs, point) of the base config (when it fits the budget), of each published design that fits, and of
    each cross of ``search.crosses``: every design there under every recipe there."""
    wanted = space.space_of(cfg)
    found = []
    if cfg.search.enqueue_base:
        found.append(({"base": True}, cfg))
    published = sorted((Path(config_dir()) / "experiment").glob(f"{presets.PUBLISHED_PREFIX}*.yaml"))
    with space.own_runtime() as run_dir:
        for path in published if cfg.search.enqueue_published else []:
            found.append(
                ({"published": path.stem}, factory.compose_run("search", [*typed, *preset(path.stem, cfg)], run_dir))
            )
        for design, recipe in crosses(cfg, {studies.baseline_name(attrs) for attrs, _ in found}):
            composed = factory.compose_run("search", [*typed, *cross(design, recipe, cfg)], run_dir)
            found.append(({"cross": f"{design}{studies.CROSS}{recipe}"}, composed))
    points = []
    for attrs, composed in found:
        name = studies.baseline_name(attrs)
        params = model_parameters(composed)
        if cfg.budget is not None and params > cfg.budget:
            print(f"[search] {name} ({params:,} params) is over budget={cfg.budget:,}: not a starting point")
            continue
        point = space.point_of(composed, wanted)
        kept = {key: value for key, value in point.items() if space.inside(key, value, wanted[key])}
        if len(kept) < len(point):  # the preset's own value stands for these; the trial records it in its config
            own = ", ".join(f"{key}={value}" for key, value in point.items() if key not in kept)
            print(f"[search] {name}: {own} not in the space, kept as the preset has it")
        points.append(({**attrs, space.FIXED_ATTR: sorted(kept)}, kept))
    return points


def crosses(cfg: DictConfig, enqueued: set[str | None]) -> list[tuple[str, str]]:
    """Every (design, recipe) pair of ``search.crosses`` that is not already a starting point of its own."""
    names = list(cfg.search.crosses)
    return [(d, r) for d in names for r in names if not (d == r and d in enqueued)]


def cross(design: str, recipe: str, cfg: DictConfig) -> list[str]:
    """The overrides of one baseline's design under another's recipe ("base" = the base config's own): the recipe's
    experiment, then the design's model, with a design tag that names both (the recipe's own tag would be false)."""
    model = "family" if design == studies.BASE else preset_choices("experiment", design).get("model")
    return [
        *([] if recipe == studies.BASE else [f"experiment={recipe}"]),
        f"model={model}",
        f"budget={cfg.budget}",
        f"++tags.design='{design}{studies.CROSS}{recipe}'",
    ]


def preset(name: str | None, cfg: DictConfig) -> list[str]:
    """The overrides that make a trial a published design with its own recipe, under the study's budget. The
    search's own ``override model: family`` outranks an experiment's model choice, so that is repeated here, read
    from the experiment's defaults list."""
    if not name:
        return []
    model = preset_choices("experiment", name).get("model")
    return [f"experiment={name}", *([f"model={model}"] if model else []), f"budget={cfg.budget}"]


def enqueue_starting_points(study: optuna.Study, cfg: DictConfig, typed: list[str]) -> None:
    """Every starting point the study lacks: all of them in a new study; in one still searching, a published design
    (conf/experiment/published_*.yaml) or a cross added since it began, so what it finds from then on must beat that
    too."""
    had = {studies.baseline_name(t.user_attrs) for t in study.trials}
    new = not study.trials
    for attrs, point in starting_points(cfg, typed):
        if studies.baseline_name(attrs) in had or (not new and "base" in attrs):
            continue
        study.enqueue_trial(point, user_attrs=attrs)
        late = "" if new else " (added since the study began: enqueued now)"
        print(f"[search] starting point: {studies.baseline_name(attrs)}{late}", flush=True)


def die_with_parent() -> None:
    """Workers get SIGTERM when the parent dies (Linux), so a killed search leaves no orphan training."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_workers(cfg: DictConfig, typed: list[str], study_dir: Path) -> list[subprocess.Popen]:
    """search.workers - 1 more processes running this same search, in the same study directory and storage; this
    process is one worker too."""
    extra = [o for o in typed if not o.startswith(("search.workers=", "search.storage="))]
    command = [
        sys.executable,
        "-m",
        "mnist_design.search",
        *extra,
        "search.workers=1",
        "search.enqueue_base=false",
        f"search.storage={studies.storage_url(cfg)}",
        f"hydra.run.dir={study_dir.resolve()}",
        f"search.results_dir={Path(cfg.search.results_dir).resolve()}",
        "search.is_worker=true",
    ]
    env = {**os.environ, factory.JOBS_VARIABLE: str(cfg.search.workers)}
    return [
        subprocess.Popen(command, env=env, preexec_fn=die_with_parent)  # prctl only: safe though torch may hold threads
        for _ in range(cfg.search.workers - 1)
    ]


def usage(started: float) -> dict[str, float]:
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return {
        "wall_seconds_this_invocation": round(time.perf_counter() - started, 1),
        "cpu_seconds_this_invocation": round(sum(u.ru_utime + u.ru_stime for u in used), 1),
    }


def says_the_same(path: Path, result: dict[str, Any]) -> bool:
    """Whether summary.yaml already holds ``result`` but for this invocation's time: an invocation that found the
    study done and trained nothing keeps the record of the one that did the work."""
    if not path.is_file():
        return False
    try:
        old = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # noqa: BLE001 - an unreadable summary is rewritten, whatever the YAML error
        return False
    new = OmegaConf.to_container(OmegaConf.create(result))

    def lasting(summary: Any) -> Any:
        return (
            {k: v for k, v in summary.items() if not k.endswith("_this_invocation")}
            if isinstance(summary, dict)
            else None
        )

    return lasting(old) == lasting(new)


def best_of(study: optuna.Study) -> dict[str, Any]:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {}
    best = study.best_trial
    base = next(
        ({"trial": t.number, "value": t.value, **t.user_attrs} for t in complete if t.user_attrs.get("base")), None
    )
    return {"best": {"trial": best.number, "value": best.value, **best.user_attrs, "design": best.params}, "base": base}


def refuse_unfit_space(cfg: DictConfig) -> None:
    """Before any trial: the space's smallest design must fit the budget."""
    least = space.smallest(cfg)
    if least is not None and least > cfg.budget:
        raise ConfigError(
            f"no design in the space fits budget={cfg.budget:,}; the smallest is {least:,} params "
            f"(every width at its least); raise budget or choose a smaller search_space"
        )


def search(cfg: DictConfig) -> dict[str, Any]:
    study_dir = Path(HydraConfig.get().runtime.output_dir)
    typed = [o for o in HydraConfig.get().overrides.task if not o.startswith("search.is_worker=")]
    worker = cfg.search.is_worker
    tagged = [o for o in typed if o.split("=", 1)[0].lstrip("+~") in PRESET_GROUPS]
    if tagged:  # every trial would carry that preset's tag while the search changes what it names
        raise ConfigError(
            f"{' '.join(tagged)}: a search varies the design and recipe, so its trials cannot be that "
            f"preset; search from the base config (published designs are starting points already)"
        )
    validate(cfg)  # the search's own keys and the base config, before any study is opened
    if cfg.search.workers > factory.usable_cores():
        raise ConfigError(
            f"search.workers={cfg.search.workers} is not allowed: it must be at most this machine's "
            f"{factory.usable_cores()} usable cores (more workers than cores slow every one of them)"
        )
    if cfg.search.selection.preset:  # a name it may not write is refused now, not when the study ends hours later
        presets.check_replaceable(cfg.search.selection.preset, cfg.budget)
    space.check_keys(cfg, typed)
    if cfg.budget is not None:
        refuse_unfit_space(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress line below says it shorter
    study = studies.open_study(cfg, studies.identity(cfg, typed))
    for number in studies.recover_dead(study):
        print(f"[search] trial {number}: its worker is gone; failed, and its design enqueued again", flush=True)
    if not worker and studies.trained(study) + studies.in_flight(study) < cfg.search.n_trials:
        enqueue_starting_points(study, cfg, typed)
    if not worker:  # a worker runs with search.workers=1 and inherits the parent's count of processes sharing cores
        os.environ[factory.JOBS_VARIABLE] = str(cfg.search.workers)
    workers = [] if worker else start_workers(cfg, typed, study_dir)
    started = time.perf_counter()
    timeout = cfg.search.timeout_min * 60 if cfg.search.timeout_min else None
    if studies.trained(study) + studies.in_flight(study) < cfg.search.n_trials:
        study.optimize(
            objective(cfg, typed, study_dir),
            callbacks=[stop_when_done(cfg), progress(cfg)],
            timeout=timeout,
            gc_after_trial=True,
        )
    if studies.trained(study) == 0:
        raise ConfigError(
            f"no design in the space fits budget={cfg.budget}: the last {REFUSAL_STREAK} proposals were "
            f"all refused; raise budget or choose a smaller search_space"
        )
    finalists.wait_for_trials(study)  # another process's last trial may be what completes n_trials
    finished = studies.trained(study) >= cfg.search.n_trials
    if finished:
        finalists.select(study, cfg, typed)  # this process's share of the selection runs
    failed = [w for w in workers if w.wait() != 0]
    if worker:
        return {}
    selection = finalists.select(study, cfg, typed) if finished and not failed else None
    result = {**studies.describe(study), **usage(started), **best_of(study), "selection": selection}
    text = OmegaConf.to_yaml(OmegaConf.create(result))
    if not says_the_same(studies.summary_path(cfg), result):
        write_atomic(studies.summary_path(cfg), text.encode())
    print(text)
    if selection and selection["finished"] and cfg.search.selection.preset:
        command = studies.command(cfg.budget, studies.base_overrides(typed))
        written = presets.write(cfg.search.selection.preset, cfg.search.study_name, command, selection, cfg.budget)
        print(f"[search] finalist trial {selection['finalist']} written as {' and '.join(map(str, written))}")
        listed = reference.sync()
        if listed:
            print(f"[search] {listed}: its option lists follow conf/ again")
    if failed:
        raise WorkerDied(
            f"{len(failed)} search worker(s) exited with status {', '.join(str(w.returncode) for w in failed)}; "
            f"run the same command again to recover their trials and continue"
        )
    return result


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="search")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        search(cfg)


if __name__ == "__main__":
    main()
