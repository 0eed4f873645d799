"""Path A sharing the machine: two jobs at once (``parallel=true``), and thread settings beside a busy core
(``busy=true``, the measurement behind mnist_design/training/threads.py).

    concurrent_rate(cfg, jobs=2)     # images/s of two concurrent path-A jobs together
    busy_rates(cfg)                  # threads measured / 1 / the share, alone and beside one busy process
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist_design.bench.paths import lightning_path
from mnist_design.training import factory


def job(plain_cfg: dict, threads: int, results: Any) -> None:
    """One concurrent measurement of path A in a child process with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    results.put(lightning_path(OmegaConf.create(plain_cfg)))


def concurrent_rate(cfg: DictConfig, jobs: int) -> float:
    """Images/s of ``jobs`` concurrent path-A measurements together, each on its share of the cores."""
    plain = OmegaConf.to_container(cfg, resolve=True)  # children have no Hydra runtime to resolve against
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    children = [context.Process(target=job, args=(plain, threads, results)) for _ in range(jobs)]
    for child in children:
        child.start()
    rates = [results.get() for _ in children]
    for child in children:
        child.join()
    return sum(rates)


@contextmanager
def busy_core(busy: bool) -> Iterator[None]:
    """One core kept busy by another process meanwhile, as a browser tab or a second job would."""
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        yield
    finally:
        if neighbour:
            neighbour.kill()
            neighbour.wait()


def busy_rates(cfg: DictConfig) -> dict[str, Any]:
    """Path A over busy_batches steps (from the first) per thread setting, alone and beside a busy core."""
    share = factory.core_share(cfg)
    settings = {"measured": None, "1": 1, str(share): share}
    rates: dict[str, list[float]] = {f"{where} {name}": [] for where in ("alone", "busy") for name in settings}
    for repeat in range(cfg.repeats):
        for where in ("alone", "busy"):
            with busy_core(where == "busy"):
                for name, threads in settings.items():
                    run_cfg = cfg.copy()
                    with open_dict(run_cfg):
                        run_cfg.threads, run_cfg.warmup, run_cfg.batches = threads, 0, cfg.busy_batches
                    factory.share_cores(run_cfg)
                    L.seed_everything(cfg.seed + repeat, verbose=False)
                    rates[f"{where} {name}"].append(lightning_path(run_cfg))
        print(f"repeat {repeat + 1}: " + "  ".join(f"{k} {v[-1]:,.0f} img/s" for k, v in rates.items()), flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "busy_images_per_second": rates,
        "median": median,
        "ratio_measured_vs_1_beside_busy": median["busy measured"] / median["busy 1"],
        "ratio_measured_vs_share_alone": median["alone measured"] / median[f"alone {share}"],
    }
