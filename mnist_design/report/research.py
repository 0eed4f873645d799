"""What the report compares against, read from results/research.yaml (the data lives there, not in code).

data = Research.load(Path("results"))
data.tutorial_rows["row4"]["test_acc"]      # the tutorial's published number for its row 4
data.budget_of(1968)                    # 2000: the smallest budget a design is under
data.verdict(1968, [0.990, 0.991])      # "yes", or by how much the target was missed
data.seed_role(7)                       # "final", "added" (paired differences only) or "past the cap"
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from mnist_design.errors import UserError
from mnist_design.runs.figures import SizePoint
from mnist_design.runs.metrics import TEST_ACC

RESEARCH_FILE = "research.yaml"  # beside the evidence in results/
FINAL, ADDED, PAST_CAP = "final", "added", "past the cap"  # what a final run's seed counts for (seed_role)
EXACT = 1e-9  # test accuracies are multiples of 1/10,000: compare their means without float noise


class ResearchUnreadable(UserError):
    """results/research.yaml is missing or not what the report expects."""


@dataclass(frozen=True)
class Research:
    tutorial_rows: dict[str, dict[str, Any]]  # row tag -> the tutorial's published numbers
    baseline: str  # the tutorial row every ablation changes one thing of
    final_seeds: tuple[int, ...]  # every design's finals: means, spreads, targets and validation choices
    seed_cap: int  # seeds below it beyond final_seeds enter paired differences only; seeds from it on are left out
    targets: dict[int, dict[str, float]]  # budget -> {mean[, every_seed]}
    published: dict[str, dict[str, Any]]  # design tag -> {source, params, test_acc, measured}

    @classmethod
    def load(cls, results: Path) -> Research:
        path = Path(results) / RESEARCH_FILE
        try:
            data = OmegaConf.to_container(OmegaConf.load(path))
            research = cls(
                tutorial_rows=dict(data["tutorial"]["rows"]),
                baseline=str(data["tutorial"]["baseline"]),
                final_seeds=tuple(int(seed) for seed in data["finals"]["seeds"]),
                seed_cap=int(data["finals"]["cap"]),
                targets={int(budget): dict(goal) for budget, goal in data["targets"].items()},
                published=dict(data.get("published") or {}),
            )
        except FileNotFoundError:
            raise ResearchUnreadable(f"{path} does not exist; results_dir= names the folder that holds it") from None
        except Exception as error:  # noqa: BLE001 - YAML, key and type errors all mean: not the expected file
            raise ResearchUnreadable(f"{path} is not a research file ({type(error).__name__}: {error})") from None
        seeds, cap = research.final_seeds, research.seed_cap
        if not seeds or min(seeds) < 0 or cap <= max(seeds):
            raise ResearchUnreadable(
                f"{path}: finals.seeds={list(seeds)} with finals.cap={cap} is not allowed: the seeds must be a "
                f"non-empty list of seeds >= 0, each below the cap"
            )
        return research

    def seed_role(self, seed: int) -> str:
        """What a final run of this seed counts for: every design's finals, a seed added to a tied pair (paired
        differences only), or none (past the cap)."""
        if seed in self.final_seeds:
            return FINAL
        return ADDED if 0 <= seed < self.seed_cap else PAST_CAP

    def published_points(self) -> list[SizePoint]:
        """Each published design's own figure (one number: no spread) as a point of the figure."""
        return [SizePoint(p["params"], p[TEST_ACC], label=name) for name, p in self.published.items()]

    def budget_of(self, params: int) -> int | None:
        """The smallest budget the design is under (the targets say "< budget")."""
        return next((budget for budget in sorted(self.targets) if params < budget), None)

    def goal(self, budget: int) -> str:
        target = self.targets[budget]
        floor = f", every seed ≥ {100 * target['every_seed']:.2f}" if "every_seed" in target else ""
        return f"≥ {100 * target['mean']:.2f}{floor}"

    def verdict(self, params: int, accuracies: list[float]) -> str:
        """'yes', '**no** (mean -0.12 pp, min -0.30 pp)', or '–' when no budget holds the design."""
        budget = self.budget_of(params)
        if budget is None:
            return "–"
        target, mean, low = self.targets[budget], statistics.fmean(accuracies), min(accuracies)
        misses = [f"mean {100 * (mean - target['mean']):+.2f} pp"] if mean < target["mean"] - EXACT else []
        if "every_seed" in target and low < target["every_seed"] - EXACT:
            misses.append(f"min {100 * (low - target['every_seed']):+.2f} pp")
        return f"**no** ({', '.join(misses)})" if misses else "yes"
