"""The training batches: chunks in a shuffled order drawn from (seed, epoch) alone, so that a resumed run and every
data-parallel rank see exactly the batches of an uninterrupted one, stacked by numpy, in this process or in
worker processes.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from training.config import TrainConfig


class EpochSampler(Sampler[tuple[int, int]]):
    """Shuffled (epoch, index) keys from (seed, epoch), split across ranks: exact resume and identical DDP shards.

    The key carries the epoch to whoever makes the item (``EpochItems``): a persistent DataLoader worker holds a
    copy of the dataset made once, so an epoch set on the main process's dataset would never reach it."""

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        per = math.ceil(self.n / self.world)
        order += order[: per * self.world - self.n]  # pad so every rank gets the same count
        return iter([(self.epoch, i) for i in order[self.rank :: self.world]])

    def __len__(self) -> int:
        return math.ceil(self.n / self.world)


class EpochItems(Dataset):
    """The training chunks addressed by (epoch, index) keys (``EpochSampler``): each chunk's augmentation derives
    from (seed, epoch, index), in whatever process or thread makes it."""

    def __init__(self, dataset: Dataset, parts: list):
        self.dataset, self.parts = dataset, parts

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, i = key
        for ds in self.parts:
            ds.epoch = epoch
        return self.dataset[i]


def collate(items: list[dict], channels_last: bool = False) -> dict:
    """A batch of items, stacked by numpy: torch's parallel copies, called from a prefetch thread, would start a
    second OpenMP thread team beside the training step's. ``channels_last`` lays the features out as the network
    computes them (the copy made here, beside the step, rather than in it)."""
    out = {}
    for k in items[0]:
        v = items[0][k]
        if isinstance(v, torch.Tensor | np.ndarray):
            arrays = [np.asarray(it[k]) for it in items]
            if k == "features" and channels_last:
                out[k] = _stack_channels_last(arrays)
            else:
                out[k] = torch.from_numpy(np.stack(arrays))
        else:
            out[k] = [it[k] for it in items]
    return out


def _stack_channels_last(xs: list[np.ndarray]) -> torch.Tensor:
    """[C, T, F] arrays -> a [B, C, T, F] tensor whose memory is laid out [B, T, F, C] (channels last)."""
    out = np.empty((len(xs), *xs[0].shape[1:], xs[0].shape[0]), xs[0].dtype)
    for b, x in enumerate(xs):
        out[b] = x.transpose(1, 2, 0)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def make_loader(cfg: TrainConfig, items: EpochItems, sampler: EpochSampler, world: int = 1,
                channels_last: bool = False) -> DataLoader:
    """The training batches: in this process (``data.workers`` 0; a prefetch thread may run it, ``_batches``) or
    in persistent worker processes; the same batches in the same order either way."""
    per_rank_batch = max(1, cfg.optim.batch_size // world)
    workers = cfg.data.workers
    return DataLoader(items, batch_size=per_rank_batch, sampler=sampler,
                      collate_fn=functools.partial(collate, channels_last=channels_last), num_workers=workers,
                      persistent_workers=workers > 0, drop_last=len(sampler) >= per_rank_batch)
