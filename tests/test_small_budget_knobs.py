"""The blocks and recipe knobs small budgets need: separable convs, a 5x5 first conv, AdamW, a piecewise-linear lr,
an augmentation probability and brightness/contrast; and the published designs as presets under their budgets."""

import pytest
import torch
from conftest import REPO
from hydra.utils import instantiate
from torch import nn

from mnist_design.data.augment import BatchAffine
from mnist_design.models.blocks import conv_block
from mnist_design.models.family import family_layers, family_net
from mnist_design.models.receptive_field import receptive_fields
from mnist_design.report.research import Research
from mnist_design.training.schedules import PiecewiseLinearLR


def params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_a_separable_block_is_depthwise_then_pointwise_with_bn_relu() -> None:
    block = conv_block(8, 26, padding=1, separable=True)
    depthwise, pointwise = block[0], block[1]
    assert depthwise.groups == 8 and depthwise.kernel_size == (3, 3) and pointwise.kernel_size == (1, 1)
    assert params(block) == 8 * 9 + 8 * 26 + 2 * 26  # vs 8 * 26 * 9 for a dense 3x3
    assert isinstance(block[2], nn.BatchNorm2d) and isinstance(block[3], nn.ReLU)
    assert block(torch.zeros(2, 8, 13, 13)).shape == (2, 26, 13, 13)


def test_separable_stages_a_5x5_first_conv_and_three_padded_stages() -> None:
    layers = family_layers(
        [8, 8], 0, [16, 16], padding=[1, 1, 1], stage3=[16], separable=[False, True, True], first_kernel=5
    )
    assert layers[0] == {"conv": 8, "kernel": 5, "padding": 2} and layers[1] == {"conv": 8, "padding": 1}
    assert all(layer.get("separable") for layer in layers if layer.get("conv") == 16)
    net = family_net(
        stage1=[8, 8],
        transition=0,
        stage2=[16, 16],
        padding=[1, 1, 1],
        stage3=[16],
        separable=[False, True, True],
        first_kernel=5,
    )
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    operations = [row.operation for row in receptive_fields(net)]
    assert operations.count("DEPTHWISE") == 3 and receptive_fields(net)[0].kernel == 5


def test_piecewise_lr_follows_its_points_per_epoch_and_rescales_to_max_lr() -> None:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = PiecewiseLinearLR(optimizer, [[0, 0.05], [2, 0.1], [8, 0.01], [12, 0.005], [15, 0.0]])
    seen = []
    for _ in range(17):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx(0.05) and seen[1] == pytest.approx(0.075) and seen[2] == pytest.approx(0.1)
    assert seen[5] == pytest.approx(0.055) and seen[15] == 0.0 and seen[16] == 0.0  # flat after the last point
    doubled = PiecewiseLinearLR(
        torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), [[0, 0.05], [2, 0.1]], max_lr=0.2
    )
    assert doubled.lr_at(0) == pytest.approx(0.1) and doubled.lr_at(2) == pytest.approx(0.2)
    compressed = PiecewiseLinearLR(
        torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0), [[0, 0.05], [2, 0.1], [15, 0.0]], span=3
    )
    assert compressed.lr_at(0.4) == pytest.approx(0.1) and compressed.lr_at(3) == 0.0  # 15 epochs' shape in 3


def test_augmentation_probability_leaves_the_others_untouched() -> None:
    torch.manual_seed(0)
    images = torch.rand(2000, 1, 28, 28)
    out = BatchAffine(degrees=30, p=0.25)(images)
    untouched = (out == images).flatten(1).all(1).float().mean().item()
    assert untouched == pytest.approx(0.75, abs=0.04)


def test_brightness_and_contrast_change_the_pixels_within_range() -> None:
    torch.manual_seed(0)
    images = torch.full((500, 1, 28, 28), 0.5)
    out = BatchAffine(degrees=0, brightness=0.2, contrast=0.0)(images)
    means = out.mean(dim=(1, 2, 3))
    assert means.min() >= 0.3 - 1e-4 and means.max() <= 0.7 + 1e-4 and means.std() > 0.05
    assert out.min() >= 0 and out.max() <= 1


def test_the_seeds_rotation_draws_the_same_numbers_as_before() -> None:
    # p=1 and no brightness/contrast draw nothing extra, so rows 3 and 4 replay exactly as they did.
    torch.manual_seed(3)
    a = BatchAffine(degrees=7)(torch.rand(8, 1, 28, 28))
    torch.manual_seed(3)
    b = BatchAffine(degrees=7, p=1.0, brightness=0.0, contrast=0.0)(torch.rand(8, 1, 28, 28))
    assert torch.equal(a, b)


def test_adamw_and_momentum_free_nesterov_free_sgd_are_plain_overrides(compose_cfg) -> None:
    from mnist_design.training.module import MNISTClassifier

    cfg = compose_cfg("optimizer=adamw", "scheduler=piecewise")
    model = MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.scheduler)
    config = model.optimizer_config(total_steps=lambda: 10)
    assert isinstance(config["optimizer"], torch.optim.AdamW)
    assert isinstance(config["lr_scheduler"]["scheduler"], PiecewiseLinearLR)
    assert config["lr_scheduler"]["interval"] == "epoch"
    sgd = compose_cfg("optimizer.momentum=0.9", "optimizer.nesterov=true").optimizer
    assert instantiate(sgd)(params=[nn.Parameter(torch.zeros(1))]).defaults["nesterov"] is True


@pytest.mark.parametrize(
    "name, budget, expected",
    [
        ("published_woolly", 5000, 3692),
        ("published_minimal", 2000, 1990),
        ("published_warn", 1000, 937),
        ("published_pradeep", 20000, 19888),
        ("published_snehanshu", 8000, 7918),
    ],
)
def test_each_published_design_is_a_preset_under_its_budget(compose_cfg, name: str, budget: int, expected: int) -> None:
    cfg = compose_cfg(f"experiment={name}")
    net = instantiate(cfg.model)
    assert cfg.budget == budget and params(net) == expected < budget and cfg.tags.design == name
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_every_published_preset_has_its_published_figure_and_how_it_was_measured() -> None:
    published = Research.load(REPO / "results").published
    for preset in (REPO / "conf" / "experiment").glob("published_*.yaml"):
        assert {"source", "params", "test_acc", "measured"} <= set(published[preset.stem]), preset.stem
