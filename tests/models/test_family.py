import pytest
import torch
from conftest import REPO
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mnist_design.config import model_parameters
from mnist_design.models.family import family_layers, family_net


def test_family_defaults_are_the_seeds_best_model(compose_cfg) -> None:
    family, best = compose_cfg("model=family").model, compose_cfg("model=best").model
    assert family_layers(family.stage1, family.transition, family.stage2, family.head) == OmegaConf.to_container(
        best.layers
    )
    assert str(instantiate(family)) == str(instantiate(best))


def test_zero_width_removes_the_layer() -> None:
    layers = family_layers([0, 16], 0, [12, 0, 20], [0])
    assert layers == [
        {"conv": 16},
        {"maxpool": 2},
        {"conv": 12},
        {"conv": 20},
        {"gap": True},
        {"conv": 10, "kernel": 1},
    ]
    net = family_net(stage1=[0, 16], transition=0, stage2=[12, 0, 20], head=[0])
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_late_gap_and_squeeze_first_move_the_pool_and_the_transition() -> None:
    layers = family_layers([8], 6, [10], [12], gap="late", squeeze_first=True)
    assert [next(iter(layer)) for layer in layers] == ["conv", "conv", "maxpool", "conv", "conv", "conv", "gap"]
    assert layers[1] == {"conv": 6, "kernel": 1, "dropout": False} and layers[-2] == {"conv": 10, "kernel": 1}


def test_bad_family_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"model\.gap must be one of early, late"):
        family_layers([8], 8, [12], gap="middle")
    with pytest.raises(ValueError, match=">= 0"):
        family_layers([-8], 8, [12])
    with pytest.raises(ValueError, match="three values of 0 or 1"):
        family_layers([8], 8, [12], padding=[0, 2, 0])


SEARCHED_PRESETS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("pareto*k.yaml"))


@pytest.mark.parametrize("experiment", SEARCHED_PRESETS)
def test_searched_designs_are_presets_under_their_budget(compose_cfg, experiment: str) -> None:
    """pareto<N>k has budget N,000 and fits under it."""
    cfg = compose_cfg(f"experiment={experiment}")
    assert cfg.budget == 1000 * int(experiment.removeprefix("pareto").removesuffix("k"))
    assert model_parameters(cfg) < cfg.budget
    assert instantiate(cfg.model)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_per_stage_padding_keeps_the_side_and_a_third_stage_adds_a_second_pool() -> None:
    layers = family_layers([8, 16], 8, [16, 16], padding=[1, 1, 0], transition2=10, stage3=[16, 0], head=[], gap="late")
    assert layers[:2] == [{"conv": 8, "padding": 1}, {"conv": 16, "padding": 1}]
    assert [next(iter(layer)) for layer in layers].count("maxpool") == 2
    assert {"conv": 10, "kernel": 1, "dropout": False} in layers and layers[-1] == {"gap": True}
    net = family_net(
        stage1=[8, 16],
        transition=8,
        stage2=[16, 16],
        padding=[1, 1, 0],
        transition2=10,
        stage3=[16, 0],
        head=[],
        gap="late",
    )
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)  # 28 -> pool 14 -> pool 7 -> 5 -> pooled


@pytest.mark.parametrize("space", ["design", "small", "tiny"])
def test_every_search_space_key_is_a_field_of_the_family(compose_cfg, space: str) -> None:
    cfg = compose_cfg(f"search_space={space}", config_name="search")
    assert cfg.search.space
    for key in cfg.search.space:
        assert OmegaConf.select(cfg, key, default="missing") != "missing", key
