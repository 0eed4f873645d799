"""The design steps (conf/step/) are the tutorial's design with exactly one change each."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from mnist_design.config import config_dir, model_parameters

STEPS = sorted(p.stem for p in (Path(config_dir()) / "step").glob("*.yaml") if p.stem != "base")


def leaves(cfg) -> dict[str, object]:
    """Every value of the run's config by dotted key, without Hydra's own and the tags."""
    flat = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{prefix}{index}.")
        else:
            flat[prefix.rstrip(".")] = node

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return {k: v for k, v in flat.items() if not k.startswith(("hydra.", "tags."))}


def test_the_base_step_is_the_seeds_row_4(compose_cfg) -> None:
    base, row4 = compose_cfg("step=base"), compose_cfg("experiment=row4")
    assert model_parameters(base) == model_parameters(row4) == 7496
    assert base.tags.step == "base" and base.augment == row4.augment and base.scheduler == row4.scheduler


@pytest.mark.parametrize("step", STEPS)
def test_each_step_changes_one_thing_of_the_base(compose_cfg, step: str) -> None:
    base, changed = leaves(compose_cfg("step=base")), leaves(compose_cfg(f"step={step}"))
    differing = {key for key in base.keys() | changed.keys() if base.get(key) != changed.get(key)}
    assert len({key.split(".")[0] for key in differing}) == 1, differing  # one group: model, data or augment
    assert len(differing) == 1 or {key.split(".")[0] for key in differing} == {"augment"}, differing
    assert compose_cfg(f"step={step}").tags.step == step
