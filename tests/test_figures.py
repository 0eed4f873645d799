from pathlib import Path
from types import SimpleNamespace

import torch
from PIL import Image

from mnist_design.runs import figures
from mnist_design.training.scoring import images_tested

HISTORY = [
    {
        "epoch": e,
        "train_loss": 1 / e,
        "val_loss": 1.1 / e,
        "train_acc": 1 - 0.1 / e,
        "val_acc": 1 - 0.12 / e,
        "lr": 0.1 / e,
    }
    for e in (1, 2, 3)
]


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
        assert image.size[0] > 100 and image.size[1] > 100


def test_learning_curves_png(tmp_path: Path) -> None:
    assert_png(figures.save(figures.learning_curves({"a": HISTORY, "b": HISTORY[:2]}), tmp_path / "curves.png"))


def test_prediction_grid_puts_mistakes_first(tmp_path: Path) -> None:
    labels = torch.arange(50) % 10
    predicted = labels.clone()
    predicted[[7, 30]] = 0
    fig = figures.prediction_grid(torch.randint(0, 255, (50, 28, 28), dtype=torch.uint8), labels, predicted)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:2] == ["0 (true 7)", "0 (true 0)"] and len(titles) == 40
    assert fig.axes[0].title.get_color() == "red" and fig.axes[2].title.get_color() == "black"
    assert_png(figures.save(fig, tmp_path / "grid.png"))


def test_confusion_matrix_png(tmp_path: Path) -> None:
    matrix = torch.eye(10, dtype=torch.long) * 100
    matrix[3, 5] = 4
    assert_png(figures.save(figures.confusion_matrix(matrix), tmp_path / "cm.png"))


def test_test_figures_show_as_many_images_as_the_test_metrics_measured() -> None:
    """Under trainer.limit_test_batches the figures shrink with the metrics, over every DDP process, never past all."""
    data = SimpleNamespace(splits={"test": (torch.zeros(10_000, 28, 28), torch.zeros(10_000))})
    data.hparams = SimpleNamespace(eval_batch_size=1000)
    assert images_tested(SimpleNamespace(num_test_batches=[2], world_size=1), data) == 2000
    assert images_tested(SimpleNamespace(num_test_batches=[2], world_size=2), data) == 4000
    assert images_tested(SimpleNamespace(num_test_batches=[10], world_size=2), data) == 10_000


def test_accuracy_vs_parameters_marks_each_designs_worst_seed_and_keeps_it_in_view() -> None:
    ours = [figures.SizePoint(3334, 0.9923, 0.0008, "pareto5k", 0.9850), figures.SizePoint(937, 0.97, 0.004, "one")]
    published = [figures.SizePoint(3762, 0.9952, label="woolly")]
    fig = figures.accuracy_vs_parameters({"ours (test)": ours, "published": published})
    ax = fig.axes[0]
    worst = [c for c in ax.collections if c.get_label() == "ours, worst seed"]
    assert len(worst) == 1 and worst[0].get_offsets().tolist() == [[3334, 98.5]]  # only the point that has one
    assert ax.get_ylim()[0] < 98.5 and ax.get_ylim()[1] > 99.52
