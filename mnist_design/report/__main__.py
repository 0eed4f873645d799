"""The tutorial's comparison table and the parameter question, regenerated from real runs: outputs/report/REPORT.md.

    python -m mnist_design.report      # train 4 rows x seeds [0,1,2] + schedulers, then report
    python -m mnist_design.report recipes=[ema,tta] designs=[pareto8k]    # + recipe ablations and searched designs
    python -m mnist_design.report steps=[padding28,gap_late] schedulers=false   # + steps from the tutorial's design
    python -m mnist_design.report sweep_dirs=[outputs/multiruns]    # collect finished runs: nothing is retrained
    python -m mnist_design.report 'train_overrides=["trainer.max_epochs=3"]'   # a quick, smaller report
    python -m mnist_design.report sweep_dirs=[outputs/searches/design_8000] out_dir=outputs/s8k_report   # a search
    python -m mnist_design.report front=true   # the answer's front from results/: printed, README's block rewritten

The parts live in this package: collect (mnist_design/runs/records.py) -> groups -> stats -> tables -> sections (with
the figures); research.py reads what the report compares against from results/research.yaml; sweeps.py trains what is
missing through the train command's multirun.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from mnist_design.config import config_dir
from mnist_design.errors import UserError, exit_on_user_error
from mnist_design.report import front, pages
from mnist_design.report.research import Research
from mnist_design.report.sections import write_report
from mnist_design.report.sweeps import train_sweeps
from mnist_design.runs import records as runs


class NoRuns(UserError):
    """Nothing finished to report on."""


def report(cfg: DictConfig) -> Path:
    research = Research.load(Path(cfg.results_dir))
    if cfg.front:
        return pages.write(front.Front.load(Path(cfg.results_dir), research), Path(cfg.readme) if cfg.readme else None)
    out_dir, roots = Path(cfg.out_dir), list(cfg.sweep_dirs)
    if not roots:
        train_sweeps(cfg, out_dir / "runs")
        roots = [out_dir / "runs"]
    found, problems = runs.collect(roots)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    if not found:
        raise NoRuns(f"no finished runs under {', '.join(map(str, roots))}")
    command = ("python -m mnist_design.report " + " ".join(sys.argv[1:])).strip()
    return write_report(found, out_dir, command, research)


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="report")
def main(cfg: DictConfig) -> None:
    started = time.perf_counter()
    with exit_on_user_error():
        written = report(cfg)
    print(f"{written} written in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
