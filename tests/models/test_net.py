import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities.model_summary import ModelSummary

from mnist_design.models.net import ConvNet
from mnist_design.training.module import MNISTClassifier

# The tutorial's printed summary of its best model: (layer type, output shape, params), in order.
SEED_TABLE = [
    ("Conv2d", [8, 26, 26], 72),
    ("BatchNorm2d", [8, 26, 26], 16),
    ("ReLU", [8, 26, 26], 0),
    ("Dropout", [8, 26, 26], 0),
    ("Conv2d", [16, 24, 24], 1152),
    ("BatchNorm2d", [16, 24, 24], 32),
    ("ReLU", [16, 24, 24], 0),
    ("Dropout", [16, 24, 24], 0),
    ("MaxPool2d", [16, 12, 12], 0),
    ("Conv2d", [8, 12, 12], 128),
    ("BatchNorm2d", [8, 12, 12], 16),
    ("ReLU", [8, 12, 12], 0),
    ("Conv2d", [12, 10, 10], 864),
    ("BatchNorm2d", [12, 10, 10], 24),
    ("ReLU", [12, 10, 10], 0),
    ("Dropout", [12, 10, 10], 0),
    ("Conv2d", [16, 8, 8], 1728),
    ("BatchNorm2d", [16, 8, 8], 32),
    ("ReLU", [16, 8, 8], 0),
    ("Dropout", [16, 8, 8], 0),
    ("Conv2d", [20, 6, 6], 2880),
    ("BatchNorm2d", [20, 6, 6], 40),
    ("ReLU", [20, 6, 6], 0),
    ("Dropout", [20, 6, 6], 0),
    ("AvgPool2d", [20, 1, 1], 0),
    ("Conv2d", [16, 1, 1], 320),
    ("BatchNorm2d", [16, 1, 1], 32),
    ("ReLU", [16, 1, 1], 0),
    ("Dropout", [16, 1, 1], 0),
    ("Conv2d", [10, 1, 1], 160),
]


def params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    "model, expected", [("skeleton", 7304), ("bn_dropout", 7496), ("augmented", 7496), ("best", 7496)]
)
def test_param_counts(compose_cfg, model: str, expected: int) -> None:
    net = instantiate(compose_cfg(f"model={model}").model)
    assert params(net) == expected < 8000


def test_skeleton_has_no_batchnorm_or_dropout(compose_cfg) -> None:
    net = instantiate(compose_cfg("model=skeleton").model)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout)) for m in net.modules())


def test_best_model_matches_the_seed_layer_table(compose_cfg) -> None:
    cfg = compose_cfg("model=best")
    summary = ModelSummary(MNISTClassifier(cfg.model, cfg.optimizer, cfg.scheduler), max_depth=-1)
    leaves = [
        (kind, out[1:], n)
        for name, kind, out, n in zip(summary.layer_names, summary.layer_types, summary.out_sizes, summary.param_nums)
        if name.startswith("net.layers.") and kind != "Sequential"
    ]
    assert leaves == SEED_TABLE
    assert summary.total_parameters == 7496


@pytest.mark.parametrize(
    "layers, message",
    [
        ([{"conv": 10, "kernel": 1}], "1x1 map"),
        ([{"conv": 8}, {"gap": True}, {"conv": 11, "kernel": 1}], "end in 10 channels"),
        ([{"conv": 8, "kernel": 29}], "below 1x1"),
        ([{"conv": 8, "maxpool": 2}], "exactly one of"),
    ],
)
def test_bad_layouts_are_refused(layers: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConvNet(layers=layers)


def test_dropout_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match=r"model.dropout must be in \[0, 1\)"):
        ConvNet(layers=[{"conv": 10, "kernel": 28}], dropout=1.0)
