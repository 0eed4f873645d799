"""Measure the search's cheap signals against its 15-epoch result, then tabulate them (mnist_design/search/signals.py).

    python -m mnist_design.fidelity budget=5000 search_space=small threads=1     # 10 configurations, one worker
    python -m mnist_design.fidelity budget=8000 search_space=design threads=1 fidelity.workers=2 fidelity.worker=1
    python -m mnist_design.fidelity budget=5000 search_space=small fidelity.configs=0   # only re-tabulate

Runs land in results/fidelity/<study>/config_NN/epochs_E/ (commit them); the same command continues where it
stopped. The table (Kendall tau of each signal, its CPU cost) is printed and written into docs/search.md.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import optuna
from omegaconf import DictConfig

from mnist_design.config import ConfigError, config_dir, runtime, with_runtime
from mnist_design.errors import exit_on_user_error, not_allowed
from mnist_design.generated import readme_block, rewrite, updated
from mnist_design.search import signals


def fidelity(cfg: DictConfig) -> str:
    if not 0 <= cfg.fidelity.worker < cfg.fidelity.workers:
        allowed = f"in [0, fidelity.workers - 1] (fidelity.workers={cfg.fidelity.workers})"
        raise ConfigError(not_allowed("fidelity.worker", cfg.fidelity.worker, allowed))
    block = f"fidelity_{cfg.budget}"
    if cfg.fidelity.docs:
        updated(Path(cfg.fidelity.docs), {block: ""}, key="fidelity.docs")  # a docs file without the block: say so now
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sampler's in-memory study needs no line of its own
    typed = [o for o in runtime(cfg).overrides.task if not o.startswith("fidelity.")]
    configs = signals.sample_configs(cfg, typed)
    trained = signals.train_share(cfg, typed, configs)
    table = signals.signal_table(Path(cfg.fidelity.results_dir), cfg.fidelity)
    print(f"[fidelity] {trained} runs trained now\n{table}")
    if cfg.fidelity.docs:
        check_not_emptier(Path(cfg.fidelity.docs), block, table, cfg.fidelity.results_dir)
        rewrite(Path(cfg.fidelity.docs), {block: table}, key="fidelity.docs")
    return table


def configs_measured(table: str) -> int:
    """The most configurations any row of a signal table was measured on (its second column)."""
    counts = [row.split("|")[2].strip() for row in table.splitlines() if row.startswith("| ") and row.count("|") > 3]
    return max((int(c) for c in counts if c.isdigit()), default=0)


def check_not_emptier(docs: Path, block: str, table: str, results_dir: str) -> None:
    """A docs table is replaced only by one measured on at least as many configurations: a sample folder that is
    empty, or another one, must not overwrite the committed evidence (issue 46)."""
    try:
        current = readme_block(docs.read_text(), block)
    except (OSError, UnicodeDecodeError, IndexError):
        return  # no such block or file: rewrite() says so in one line
    had, has = configs_measured(current), configs_measured(table)
    if has < had:
        raise ConfigError(
            f"fidelity.docs={docs}: its {block} table was measured on {had} configurations, this sample "
            f"(fidelity.results_dir={results_dir}) on {has}; nothing written. Point fidelity.results_dir at the "
            f"sample the table is about, or give fidelity.docs=null to print only"
        )


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="fidelity")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        fidelity(with_runtime(cfg))


if __name__ == "__main__":
    main()
