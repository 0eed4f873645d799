import pytest
import torch
from hydra.utils import instantiate

from mnist_design.data.datamodule import MNISTDataModule
from mnist_design.training.module import MNISTClassifier


def classifier(cfg) -> MNISTClassifier:
    return MNISTClassifier(net=cfg.model, optimizer=cfg.optimizer, scheduler=cfg.get("scheduler"))


def test_a_model_overfits_a_small_batch(compose_cfg, mnist_dir) -> None:
    torch.manual_seed(0)
    cfg = compose_cfg("model=best", "model.dropout=0", "optimizer=adam", "optimizer.lr=0.01")
    model = classifier(cfg)
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), batch_size=64)
    datamodule.prepare_data()
    datamodule.setup("fit")
    images, labels = datamodule.on_after_batch_transfer(next(iter(datamodule.train_dataloader())), 0)
    optimizer = instantiate(cfg.optimizer)(params=model.parameters())
    losses = []
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    assert (model(images).argmax(1) == labels).all()


class FakeTrainer:
    estimated_stepping_batches = 123


@pytest.mark.parametrize(
    "scheduler, kind, interval",
    [
        ("onecycle", torch.optim.lr_scheduler.OneCycleLR, "step"),
        ("step", torch.optim.lr_scheduler.StepLR, "epoch"),
        ("plateau", torch.optim.lr_scheduler.ReduceLROnPlateau, "epoch"),
    ],
)
def test_schedulers_are_completed_in_configure_optimizers(compose_cfg, monkeypatch, scheduler, kind, interval) -> None:
    model = classifier(compose_cfg(f"scheduler={scheduler}"))
    monkeypatch.setattr(MNISTClassifier, "trainer", FakeTrainer(), raising=False)
    config = model.configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.SGD)
    assert isinstance(config["lr_scheduler"]["scheduler"], kind)
    assert config["lr_scheduler"]["interval"] == interval
    if scheduler == "onecycle":
        assert config["lr_scheduler"]["scheduler"].total_steps == 123
    if scheduler == "plateau":
        assert config["lr_scheduler"]["monitor"] == "val/loss"


def test_no_scheduler_gives_a_bare_optimizer(compose_cfg) -> None:
    assert isinstance(classifier(compose_cfg("scheduler=none")).configure_optimizers(), torch.optim.SGD)


def test_checkpoint_hyperparameters_are_plain_and_rebuild_the_model(compose_cfg, tmp_path) -> None:
    model = classifier(compose_cfg("model=skeleton"))
    assert type(model.hparams.net) is dict
    rebuilt = MNISTClassifier(**model.hparams)
    assert sum(p.numel() for p in rebuilt.parameters()) == 7304


def test_tta_averages_probabilities_over_rotated_views_in_eval_only(compose_cfg) -> None:
    torch.manual_seed(0)
    cfg = compose_cfg("module.tta_degrees=[-6,6]")
    model = MNISTClassifier(cfg.model, cfg.optimizer, cfg.scheduler, **cfg.module).eval()
    images = torch.randn(4, 1, 28, 28)
    out = model(images)
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(4), atol=1e-5)  # log of averaged probabilities
    assert not torch.allclose(out, model.net(images).log_softmax(dim=1), atol=1e-4)
    model.train()
    torch.manual_seed(1)
    training_out = model(images)
    torch.manual_seed(1)
    assert torch.equal(training_out, model.net(images))  # same dropout draws: training sees only the image


def test_label_smoothing_changes_the_training_loss_only(compose_cfg) -> None:
    cfg = compose_cfg("module.label_smoothing=0.1")
    torch.manual_seed(0)
    smoothed = MNISTClassifier(cfg.model, cfg.optimizer, cfg.scheduler, **cfg.module).eval()
    plain = MNISTClassifier(cfg.model, cfg.optimizer, cfg.scheduler).eval()
    plain.load_state_dict(smoothed.state_dict())
    batch = (torch.randn(8, 1, 28, 28), torch.arange(8))
    assert smoothed.shared_step(batch, "train")[0] != plain.shared_step(batch, "train")[0]
    assert smoothed.shared_step(batch, "val")[0] == plain.shared_step(batch, "val")[0]
