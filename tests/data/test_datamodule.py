from pathlib import Path

import torch

from mnist_design.data.datamodule import TUTORIAL_PROTOCOL, MNISTDataModule
from mnist_design.data.loader import TensorBatches


def ready(mnist_dir: Path, **kwargs) -> MNISTDataModule:
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), **kwargs)
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def test_held_out_split_is_55k_5k_disjoint_and_fixed(mnist_dir: Path) -> None:
    first, second = ready(mnist_dir, seed=0), ready(mnist_dir, seed=1)  # the training seed does not move the split
    assert [len(first.splits[s][1]) for s in ("train", "val", "test")] == [55_000, 5_000, 10_000]
    assert torch.equal(first.splits["val"][0], second.splits["val"][0])
    train_rows = {row.numpy().tobytes() for row in first.splits["train"][0][:2000]}
    assert not any(row.numpy().tobytes() in train_rows for row in first.splits["val"][0])
    assert first.source == "local"


def test_seed_protocol_validates_on_the_test_set(mnist_dir: Path) -> None:
    datamodule = ready(mnist_dir, val_on_test=True)
    assert len(datamodule.splits["train"][1]) == 60_000
    assert torch.equal(datamodule.splits["val"][0], datamodule.splits["test"][0])
    assert datamodule.protocol == TUTORIAL_PROTOCOL


def test_batches_are_normalised_and_uint8_until_transfer(mnist_dir: Path) -> None:
    datamodule = ready(mnist_dir, batch_size=256)
    images, labels = next(iter(datamodule.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (256, 28, 28) and labels.shape == (256,)
    x, y = datamodule.on_after_batch_transfer((images, labels), 0)
    assert x.shape == (256, 1, 28, 28) and x.dtype == torch.float32 and y is labels
    assert abs(x.mean().item()) < 0.2 and abs(x.std().item() - 1) < 0.2


def test_loader_covers_every_sample_once_per_epoch_in_a_seeded_order() -> None:
    labels = torch.arange(10)
    loader = TensorBatches(labels.clone(), labels, batch_size=4, shuffle=True, epoch_seed=lambda: 3)
    seen = torch.cat([y for _, y in loader])
    assert len(loader) == 3 and sorted(seen.tolist()) == list(range(10))
    assert torch.equal(seen, torch.cat([y for _, y in loader]))  # same epoch seed, same order
    other = TensorBatches(labels.clone(), labels, batch_size=4, shuffle=True, epoch_seed=lambda: 4)
    assert not torch.equal(seen, torch.cat([y for _, y in other]))


def test_loader_shards_ranks_without_overlap() -> None:
    labels = torch.arange(10)
    shards = [torch.cat([y for _, y in TensorBatches(labels, labels, 2, rank=r, world_size=2)]) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert set(shards[0].tolist()).isdisjoint(shards[1].tolist())
