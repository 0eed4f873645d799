"""Every config value with a range, and the range: one (key, value, ok, allowed) row each, checked by
config.validate before any data is touched (types are the schema's business, mnist_design/config/schema/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from mnist_design.data import TRAIN_IMAGES
from mnist_design.data.loader import SEED_RANGE
from mnist_design.runs.metrics import monitorable
from mnist_design.training.schedules import is_piecewise


def positive(v: Any) -> bool:
    return v > 0


def null_or_positive(v: Any) -> bool:
    return v is None or v > 0


def a_seed(v: Any) -> bool:
    return SEED_RANGE[0] <= v <= SEED_RANGE[1]


SEEDS = f"an integer in [0, {SEED_RANGE[1]}]"  # what a_seed allows


def fraction_or_count(v: Any) -> bool:
    """Lightning's limit_*_batches: null, a fraction in [0, 1] or a whole number of batches >= 0."""
    return (
        v is None
        or (isinstance(v, float) and 0 <= v <= 1)
        or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
    )


def range_checks(cfg: DictConfig) -> list[tuple[str, Any, Callable[[Any], bool], str]]:
    """(key, value, ok, allowed) for every value with a range; types are already enforced by the schema."""
    scheduler = cfg.get("scheduler") or {}  # null under scheduler=none
    checks = [
        ("seed", cfg.seed, a_seed, SEEDS),
        ("budget", cfg.budget, null_or_positive, "null or a positive integer"),
        ("threads", cfg.get("threads"), null_or_positive, "null (a share of the cores) or >= 1"),
        (
            "trainer.max_epochs",
            cfg.trainer.get("max_epochs"),
            lambda v: v is None or v == -1 or v > 0,
            "a positive integer (or -1 for no limit)",
        ),
        ("data.split_seed", cfg.data.split_seed, a_seed, SEEDS),
        ("data.batch_size", cfg.data.batch_size, positive, "a positive integer"),
        ("data.eval_batch_size", cfg.data.eval_batch_size, positive, "a positive integer"),
        ("data.val_size", cfg.data.val_size, lambda v: 0 < v < TRAIN_IMAGES, f"between 1 and {TRAIN_IMAGES - 1:,}"),
        ("data.train_subset", cfg.data.train_subset, null_or_positive, "null or a positive integer"),
        # torch's own messages for these two do not name the key or say what is allowed (or it checks nothing)
        ("optimizer.lr", cfg.optimizer.get("lr", 1.0), positive, "> 0"),
        ("scheduler.max_lr", scheduler.get("max_lr"), null_or_positive, "> 0"),
        ("scheduler.span", scheduler.get("span"), null_or_positive, "> 0 or null"),
        (
            "scheduler.monitor",
            scheduler.get("monitor"),
            lambda v: v is None or v in monitorable(),
            f"a logged metric: {', '.join(monitorable())}",
        ),
        (
            "scheduler.interval",
            scheduler.get("interval"),
            lambda v: v in (None, *SCHEDULER_INTERVALS),
            " or ".join(SCHEDULER_INTERVALS),
        ),
        (  # stepped per batch, a piecewise schedule would read its points' epochs as steps
            "scheduler.interval",
            scheduler.get("interval") if is_piecewise(scheduler) else None,
            lambda v: v in (None, "epoch"),
            "epoch for scheduler=piecewise (its points are epochs)",
        ),
    ]
    trainer = cfg.trainer
    checks += [  # Lightning divides by the first three (a ZeroDivisionError), and quietly skips clipping at <= 0
        (
            "trainer.accumulate_grad_batches",
            trainer.get("accumulate_grad_batches", 1),
            positive,
            "a positive integer",
        ),
        (
            "trainer.check_val_every_n_epoch",
            trainer.get("check_val_every_n_epoch"),
            null_or_positive,
            "null or a positive integer",
        ),
        (
            "trainer.val_check_interval",
            trainer.get("val_check_interval"),
            lambda v: v is None or (v > 0 and fraction_or_count(v)),
            "null, a fraction in (0, 1] or a whole number of batches >= 1",
        ),
        ("trainer.max_steps", trainer.get("max_steps", -1), lambda v: v == -1 or v > 0, "-1 (no limit) or > 0"),
        (
            "trainer.gradient_clip_val",
            trainer.get("gradient_clip_val"),
            null_or_positive,
            "null (no clipping) or > 0",
        ),
        (
            "trainer.num_sanity_val_steps",
            trainer.get("num_sanity_val_steps", 0),
            lambda v: v >= -1,
            ">= 0, or -1 for every validation batch",
        ),
    ]
    for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches"):
        checks.append(
            (
                f"trainer.{key}",
                cfg.trainer.get(key),
                fraction_or_count,
                "null, a fraction in [0, 1] or a whole number of batches",
            )
        )
    if "search" in cfg:  # the search's own keys
        checks += [
            ("search.workers", cfg.search.workers, positive, ">= 1"),
            (
                "search.rung_epochs",
                cfg.search.get("rung_epochs"),
                lambda v: v is None or v >= 2,  # a rung of N epochs is Optuna's step N - 1; its pruners need >= 1
                "null or >= 2 (a 1-epoch rung is Optuna's step 0, below every pruner's min_resource)",
            ),
            ("search.n_trials", cfg.search.n_trials, positive, ">= 1"),
            ("search.refusal_streak", cfg.search.refusal_streak, positive, ">= 1"),
            (
                "search.study_name",
                cfg.search.study_name,
                lambda v: bool(str(v)) and not str(v).endswith(".select"),
                "a name not ending in .select (the selection of study NAME is stored as NAME.select)",
            ),
            ("search.timeout_min", cfg.search.timeout_min, null_or_positive, "null or > 0"),
            ("search.selection.top", cfg.search.selection.top, lambda v: v >= 0, ">= 0 (0 = no selection)"),
            (
                "search.selection.seeds",
                list(cfg.search.selection.seeds),
                lambda v: bool(v) and all(a_seed(s) for s in v),
                f"a non-empty list of seeds in [0, {SEED_RANGE[1]}]",
            ),
        ]
    if "repeats" in cfg:  # the bench's own keys
        checks += [
            ("repeats", cfg.repeats, positive, ">= 1"),
            ("batches", cfg.batches, positive, ">= 1"),
            ("busy_batches", cfg.busy_batches, positive, ">= 1"),
            ("warmup", cfg.warmup, lambda v: v >= 0, ">= 0"),
        ]
    return checks


SCHEDULER_INTERVALS = ("epoch", "step")  # when Lightning steps a scheduler
