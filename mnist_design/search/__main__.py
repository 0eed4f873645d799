"""Search designs and their training recipe under a parameter budget with Optuna, pruning bad trials early.

    python -m mnist_design.search budget=2000 search_space=tiny          # TPE + successive halving, journal study
    python -m mnist_design.search budget=2000 search_space=tiny search.workers=2   # two single-thread workers
    python -m mnist_design.search budget=2000 search_space=tiny          # the same command again = continue it
    python -m mnist_design.search search.storage=sqlite:///outputs/s.db   # or any Optuna RDB URL (clusters)

This module runs the command; each job it coordinates is a module of its own:
- baselines.py: the first trials, the base config, every published design that fits and each cross of a budget's
  baselines, trained at full length; those with their own recipe are always selection candidates;
- trials.py: one trial, a training run composed like ``python -m mnist_design.train`` (the space is
  conf/search_space/) in outputs/searches/<study>/trial_NNNN, judged by the pruner on a compressed rung or each epoch;
- workers.py: the extra processes of ``search.workers``;
- finalists.py: when ``search.n_trials`` have trained, the top trials and every own-recipe baseline retrained on
  three seeds, each on its own validation split; the finalist is the best mean;
- studies.py: the study file (outputs/studies/<study>/journal.log) kept safe to kill, share and continue;
- presets.py: the finalist written as conf/model/ and conf/experiment/ presets.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import hydra
import optuna
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from mnist_design.atomic import write_atomic
from mnist_design.config import (
    PRESET_GROUPS,
    ConfigError,
    check_pruner,
    config_dir,
    reference,
    runtime,
    validate,
    with_runtime,
)
from mnist_design.errors import exit_on_user_error, not_allowed, say_on_interrupt
from mnist_design.search import finalists, liveness, presets, space, stores, studies
from mnist_design.search.baselines import check_crosses, enqueue_starting_points
from mnist_design.search.trials import objective, progress, stop_when_done
from mnist_design.search.workers import WorkerDied, start_workers, usage
from mnist_design.training import factory


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


def stop_reason(study: optuna.Study, cfg: DictConfig) -> str:
    """Why a search stopped with nothing trained: trials still running elsewhere, or a sampler that kept proposing
    designs over budget (a space whose smallest design does not fit is refused before any trial)."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if running:
        hosts = sorted({liveness.host_of(liveness.worker_of(t)) for t in running} - {""})
        gone = f" (a host that is gone for good: search.gone_hosts=[{','.join(hosts)}])" if hosts else ""
        return (
            f"nothing trained here and nothing left to propose: trial(s) {', '.join(str(t.number) for t in running)} "
            f"of study {study.study_name} are still running elsewhere; run the same command once they end{gone}"
        )
    least = space.smallest(cfg)
    fits = f", though the space's smallest design fits ({least:,} params)" if least is not None else ""
    return (
        f"the sampler proposed {cfg.search.refusal_streak} designs in a row over budget={cfg.budget}{fits}; raise "
        f"search.refusal_streak, or choose a search_space whose widths sit nearer the budget"
    )


def refuse_unfit_space(cfg: DictConfig) -> None:
    """Before any trial: the space's smallest design must fit the budget."""
    least = space.smallest(cfg)
    if least is not None and least > cfg.budget:
        raise ConfigError(
            f"no design in the space fits budget={cfg.budget:,}; the smallest is {least:,} params "
            f"(every width at its least); raise budget or choose a smaller search_space"
        )


def search(cfg: DictConfig) -> dict[str, Any]:
    study_dir = Path(runtime(cfg).runtime.output_dir)
    typed = [o for o in runtime(cfg).overrides.task if not o.startswith("search.is_worker=")]
    worker = cfg.search.is_worker
    tagged = [o for o in typed if space.key_of(o) in PRESET_GROUPS]
    if tagged:  # every trial would carry that preset's tag while the search changes what it names
        raise ConfigError(
            f"{' '.join(tagged)}: a search varies the design and recipe, so its trials cannot be that "
            f"preset; search from the base config (published designs are starting points already)"
        )
    validate(cfg)  # the search's own keys and the base config, before any study is opened
    check_pruner(cfg)  # the search's, not its runs' (a rung run is a plain run of the short schedule)
    if cfg.search.workers > factory.usable_cores():
        raise ConfigError(
            not_allowed(
                "search.workers",
                cfg.search.workers,
                f"at most this machine's {factory.usable_cores()} usable cores (more workers than cores slow "
                "every one of them)",
            )
        )
    if cfg.search.selection.preset:  # a name it may not write is refused now, not when the study ends hours later
        presets.check_replaceable(cfg.search.selection.preset, cfg.budget)
    space.check_keys(cfg, typed)
    check_crosses(cfg)
    if not worker:
        stores.check_storage_and_folder(cfg)
    if cfg.budget is not None:
        refuse_unfit_space(cfg)
    if cfg.search.get("rung_epochs") and not studies.rung_epochs(cfg) and not worker:
        print(
            f"[search] search.rung_epochs={cfg.search.rung_epochs} is not shorter than trainer.max_epochs="
            f"{cfg.trainer.max_epochs}: no rung to judge on, so every trial trains its whole schedule, unpruned",
            flush=True,
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress line below says it shorter
    study = studies.open_study(cfg, studies.identity(cfg, typed))
    gone = cfg.search.gone_hosts
    for number in studies.recover_dead(study, gone):
        print(f"[search] trial {number}: its worker is gone; failed, and its design enqueued again", flush=True)
    if not worker and studies.trained(study) + studies.in_flight(study, gone) < cfg.search.n_trials:
        with stores.starting_lock(cfg):
            enqueue_starting_points(study, cfg, typed)
    if not worker:  # a worker runs with search.workers=1 and inherits the parent's count of processes sharing cores
        os.environ[factory.JOBS_VARIABLE] = str(cfg.search.workers)
    workers = [] if worker else start_workers(cfg, typed, study_dir)
    started = time.perf_counter()
    timeout = cfg.search.timeout_min * 60 if cfg.search.timeout_min else None
    if studies.trained(study) + studies.in_flight(study, gone) < cfg.search.n_trials:
        with stores.storage_errors(cfg):
            study.optimize(
                objective(cfg, typed, study_dir),
                callbacks=[stop_when_done(cfg), progress(cfg)],
                timeout=timeout,
                gc_after_trial=True,
            )
    if studies.trained(study) == 0:
        raise ConfigError(stop_reason(study, cfg))
    elsewhere = finalists.wait_for_trials(study, cfg)  # another process's last trial may be what completes n_trials
    finished = studies.trained(study) >= cfg.search.n_trials and not elsewhere
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
        write_finalist_preset(cfg, typed, selection)
    if failed:
        raise WorkerDied(
            f"{len(failed)} search worker(s) exited with status {', '.join(str(w.returncode) for w in failed)}; "
            f"run the same command again to recover their trials and continue"
        )
    return result


def write_finalist_preset(cfg: DictConfig, typed: list[str], selection: dict[str, Any]) -> None:
    """search.selection.preset: the finalist as conf/ presets, unless it is a baseline that is a preset already
    (a second name for the same runs would train and report them twice)."""
    name, baseline = cfg.search.selection.preset, selection.get("finalist_is_baseline")
    already = studies.baseline_preset(baseline)
    if already:
        print(
            f"[search] the finalist, trial {selection['finalist']}, is the baseline {baseline}, which is "
            f"experiment={already} already: search.selection.preset={name} not written"
        )
        return
    command = studies.command(studies.identity(cfg, typed))  # what the study is, wherever its folder lies
    written = presets.write(name, cfg.search.study_name, command, selection, cfg.budget)
    print(f"[search] finalist trial {selection['finalist']} written as {' and '.join(map(str, written))}")
    listed = reference.sync()
    if listed:
        print(f"[search] {listed}: its option lists follow conf/ again")


CONTINUE = "the study keeps every finished trial; the same command continues it (the interrupted trial trains again)"


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="search")
def main(cfg: DictConfig) -> None:
    # a database that goes away at any point is one line; so is Ctrl-C, saying how to go on
    with exit_on_user_error(), stores.database_errors(cfg), say_on_interrupt(lambda: CONTINUE):
        search(with_runtime(cfg))


if __name__ == "__main__":
    main()
