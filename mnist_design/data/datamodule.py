"""The MNIST LightningDataModule: fetch once, hold each split as one uint8 tensor, augment whole batches on device.

    dm = MNISTDataModule(data_dir="data", augment=BatchAffine(degrees=7))
    dm.prepare_data(); dm.setup("fit")

Splits: 55,000 train / 5,000 validation carved from the official 60k with ``split_seed``; the official 10k test set
is used for the final test only. ``val_on_test=True`` reproduces the tutorial's protocol instead (train on all 60k,
"validate" on the test set every epoch); runs made that way are labelled as such everywhere.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchvision.datasets import MNIST

from mnist_design.data import MEAN, STD
from mnist_design.data.loader import TensorBatches, epoch_seed
from mnist_design.data.sources import ensure_mnist

HELD_OUT = "held-out validation split carved from the training set"
TUTORIAL_PROTOCOL = "TUTORIAL PROTOCOL: 'validation' is the official TEST set, evaluated every epoch"


class MNISTDataModule(L.LightningDataModule):
    def __init__(
        self,
        data_dir: str = "data",  # holds MNIST/raw/*-ubyte; fetched there if missing
        batch_size: int = 128,  # training batch size (the tutorial's)
        eval_batch_size: int = 1000,  # validation/test batch size (does not change results)
        val_size: int = 5000,  # validation images carved from the 60k training set
        split_seed: int = 0,  # fixes which images are validation, independent of `seed`
        val_on_test: bool = False,  # true = the tutorial's protocol: train on all 60k, "validate" on the test set
        train_subset: int | None = None,  # keep only the first N training images (smoke tests, overfitting checks)
        mean: float = MEAN,
        std: float = STD,
        seed: int = 0,  # the shuffling order of each epoch derives from it
        augment: nn.Module | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["augment", "drop_last"])  # how a run trained, not what its data is
        self.drop_last = drop_last
        self.augment = augment
        self.source: str | None = None
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def protocol(self) -> str:
        return TUTORIAL_PROTOCOL if self.hparams.val_on_test else HELD_OUT

    # --- fetch and split -------------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        if self.source is None:  # fit and each test call this; fetch and verify once
            self.source = ensure_mnist(self.hparams.data_dir, log=rank_zero_info)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        train = MNIST(self.hparams.data_dir, train=True)
        test = MNIST(self.hparams.data_dir, train=False)
        images, labels = train.data, train.targets
        if self.hparams.val_on_test:
            self.splits["train"] = (images, labels)
            self.splits["val"] = (test.data, test.targets)
        else:
            order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.hparams.split_seed))
            val, fit = order[: self.hparams.val_size], order[self.hparams.val_size :]
            self.splits["train"] = (images[fit], labels[fit])
            self.splits["val"] = (images[val], labels[val])
        if self.hparams.train_subset:
            self.splits["train"] = tuple(t[: self.hparams.train_subset] for t in self.splits["train"])
        self.splits["test"] = (test.data, test.targets)
        rank_zero_info(
            "MNIST splits: " + ", ".join(f"{k} {len(v[1]):,}" for k, v in self.splits.items()) + f" ({self.protocol})"
        )

    # --- loaders: resident tensors on the training device ----------------------------------------------------

    def device(self) -> torch.device:
        return self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")

    def split_on_device(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.splits[name]
        if images.device != self.device():
            self.splits[name] = images, labels = images.to(self.device()), labels.to(self.device())
        return images, labels

    def epoch_seed(self) -> int:
        return epoch_seed(self.hparams.seed, self.trainer.current_epoch if self.trainer is not None else 0)

    def loader(self, name: str, batch_size: int, shuffle: bool, drop_last: bool = False) -> TensorBatches:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        return TensorBatches(
            *self.split_on_device(name),
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            epoch_seed=self.epoch_seed,
            rank=rank,
            world_size=world,
        )

    def train_dataloader(self) -> TensorBatches:
        return self.loader("train", self.hparams.batch_size, shuffle=True, drop_last=self.drop_last)

    def val_dataloader(self) -> TensorBatches:
        return self.loader("val", self.hparams.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self.loader("test", self.hparams.eval_batch_size, shuffle=False)

    # --- per batch, on device: uint8 -> [0, 1] -> augment (training only) -> normalise --------------------------

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and batch[0].dtype == torch.uint8):
            return batch  # e.g. the model summary's example input, already a float image
        training = self.trainer is not None and self.trainer.training
        return self.prepare_batch(batch, augment=training)

    def prepare_batch(
        self, batch: tuple[torch.Tensor, torch.Tensor], augment: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = batch
        x = images.unsqueeze(1).float().div_(255)
        if augment and self.augment is not None:
            x = self.augment(x)
        return (x - self.hparams.mean) / self.hparams.std, labels
