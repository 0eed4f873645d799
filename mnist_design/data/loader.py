"""A DataLoader replacement for data that already sits in memory as two tensors.

Written by hand because a torch DataLoader collates per sample in Python; MNIST fits in 55 MB, so a batch is one
index into a resident uint8 tensor (on the GPU when training there). Shuffling is a fresh permutation per epoch,
drawn from ``seed`` and the epoch number, so a resumed run sees the same order an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

SEED_RANGE = (0, 2**32 - 1)  # what Lightning's seed_everything and numpy accept


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """The RNG seed of one epoch: distinct for every (seed, epoch, stream), always inside SEED_RANGE, for any seed
    in SEED_RANGE. Stream 0 is the shuffle order (the same on every rank); the trainer's ranks use 1, 2, ..."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


class TensorBatches:
    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        epoch_seed: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch_seed = epoch_seed or (lambda: 0)
        self.rank, self.world_size = rank, world_size

    def num_samples(self) -> int:
        """Samples this rank sees per epoch (equal on every rank so DDP steps stay in lock-step)."""
        return len(self.labels) // self.world_size

    def __len__(self) -> int:
        full, rest = divmod(self.num_samples(), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def order(self) -> torch.Tensor:
        n = len(self.labels)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.epoch_seed())
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        mine = order[self.rank : self.num_samples() * self.world_size : self.world_size]
        return mine.to(self.images.device, non_blocking=True)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.images[index], self.labels[index]
