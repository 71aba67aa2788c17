"""Data-parallel training (``torchrun --nproc_per_node N``): the process's rank, and what the ranks share."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)
    return info


def average_buffers(model: torch.nn.Module, world: int) -> None:
    """Average batch-norm statistics over ranks (DDP syncs parameters, each rank's buffers drift)."""
    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b /= world
