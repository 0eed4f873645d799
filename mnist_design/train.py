"""Train one model on MNIST, then test it once: fit -> evaluate -> write.

    python -m mnist_design.train                              # the tutorial's row 4: best model, 15 epochs
    python -m mnist_design.train experiment=row1              # any row of the tutorial: row1|row2|row3|row4
    python -m mnist_design.train model=bn_dropout augment=on trainer.max_epochs=1
    python -m mnist_design.train -m seed=0,1,2                # a Hydra multirun: one directory per job
    python -m mnist_design.train resume=outputs/runs/<run>    # continue a killed run from its last checkpoint

Each run writes into its own directory under outputs/: the composed config (.hydra/), TensorBoard logs (with the
run's config and final metrics in the HParams tab), checkpoints (best by validation accuracy, and last),
its metrics and history files and figures (learning curves, prediction grid, confusion matrix).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from mnist_design.config import config_dir, with_runtime
from mnist_design.errors import exit_on_user_error, say_on_interrupt
from mnist_design.runs.metrics import VAL_ACC
from mnist_design.training import resume
from mnist_design.training.run import train


def run_dir() -> Path:
    """This run's directory: Hydra made it (or resume= reuses it); the entry point is the one place that asks."""
    return Path(HydraConfig.get().runtime.output_dir)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Returns validation accuracy, the value a Hydra sweeper optimises (never the test set)."""
    with exit_on_user_error(), say_on_interrupt(lambda: resume.how_to_continue(run_dir())):
        if cfg.resume:
            plan = resume.plan(Path(cfg.resume), list(HydraConfig.get().overrides.task))
            if plan is None:
                return None
            cfg, ckpt_path = plan
            return train(cfg, run_dir(), ckpt_path).get(VAL_ACC)
        return train(with_runtime(cfg), run_dir()).get(VAL_ACC)


if __name__ == "__main__":
    main()
