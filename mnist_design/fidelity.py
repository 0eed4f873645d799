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
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from mnist_design.config import ConfigError, config_dir
from mnist_design.errors import exit_on_user_error
from mnist_design.generated import rewrite
from mnist_design.search import signals


def fidelity(cfg: DictConfig) -> str:
    if not 0 <= cfg.fidelity.worker < cfg.fidelity.workers:
        raise ConfigError(
            f"fidelity.worker={cfg.fidelity.worker} is not allowed: it must be in [0, fidelity.workers - 1] "
            f"(fidelity.workers={cfg.fidelity.workers})"
        )
    typed = [o for o in HydraConfig.get().overrides.task if not o.startswith("fidelity.")]
    configs = signals.sample_configs(cfg, typed)
    trained = signals.train_share(cfg, typed, configs)
    table = signals.signal_table(Path(cfg.fidelity.results_dir), cfg.fidelity.full_epochs, cfg.fidelity.compressed)
    print(f"[fidelity] {trained} runs trained now\n{table}")
    if cfg.fidelity.docs:
        rewrite(Path(cfg.fidelity.docs), {f"fidelity_{cfg.budget}": table})
    return table


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="fidelity")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        fidelity(cfg)


if __name__ == "__main__":
    main()
